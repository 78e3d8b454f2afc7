package prompts

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Repo is one loaded snapshot of the prompts directory. It is immutable
// and safe for concurrent use; a reload builds a new Repo (see Store).
// Callers must not modify the maps and slices it hands out.
type Repo struct {
	dir     string
	prompts map[string]*Prompt
	sorted  []*Prompt
}

// Prompt is one prompt folder: its versions and the labels that point at
// them.
type Prompt struct {
	Name        string
	Description string
	// Current is the version of the files in the prompt's folder.
	Current int
	// Labels maps a label (production, staging, ...) to a version.
	Labels map[string]int
	// Versions holds the current version and every frozen one.
	Versions map[int]*Version
}

// Version is one immutable version of a prompt: its input schema and
// variants.
type Version struct {
	Prompt string
	Number int
	// Frozen is true for a version served from .versions/NAME/N/.
	Frozen bool
	// RequireVariant asks the router to skip a candidate model for which
	// Select finds no variant, rather than fall back to another.
	RequireVariant bool
	// Guardrails names the guardrails to apply, as written.
	Guardrails []string
	// Verify is the check to run on the output; nil if none.
	Verify *Verify
	// Variants in file-name order.
	Variants []*Variant

	ref      string // "name@N"
	dir      string // the folder the files were read from
	root     string // the folder include paths resolve against
	input    *inputSchema
	partials []string // partials used, as included ("_partials/x.j2"), sorted
}

// Verify is a prompt's `verify:`: a command (go build ./..., eslint) that
// the client or its sidecar runs, passing the output back in as a
// variable. llmux does not run it; it carries it.
type Verify struct {
	// Command is the argv; a string in prompt.yaml is split on spaces.
	Command []string
	// Variable receives the command's output; default "tool_output".
	Variable string
	// Timeout bounds the command; default 60s.
	Timeout time.Duration
}

// Target is a configured deployment that Lint checks every prompt has a
// variant for.
type Target struct {
	Model  string // canonical model id
	Family string // FamilyOpenAI or FamilyAnthropic
}

// Prompts returns every prompt, sorted by name.
func (r *Repo) Prompts() []*Prompt {
	return slices.Clone(r.sorted)
}

// Resolve finds the version a reference names: "name" (the version
// labelled production, else the current one), "name@label" or
// "name@7". An unknown prompt, label or version is a *NotFoundError.
func (r *Repo) Resolve(ref string) (*Version, error) {
	name, sel, hasSel := strings.Cut(ref, "@")
	p := r.prompts[name]
	if p == nil {
		return nil, &NotFoundError{Ref: ref, What: "prompt"}
	}
	n := p.Current
	switch {
	case !hasSel:
		if v, ok := p.Labels["production"]; ok {
			n = v
		}
	case isNumber(sel):
		n, _ = strconv.Atoi(sel)
	default:
		v, ok := p.Labels[sel]
		if !ok {
			return nil, &NotFoundError{Ref: ref, What: "label", Known: slices.Sorted(maps.Keys(p.Labels))}
		}
		n = v
	}
	v := p.Versions[n]
	if v == nil {
		return nil, &NotFoundError{Ref: ref, What: "version", Known: versionList(p)}
	}
	return v, nil
}

func isNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func versionList(p *Prompt) []string {
	nums := slices.Sorted(maps.Keys(p.Versions))
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// Ref returns the version's reference, e.g. "explain-code@7".
func (v *Version) Ref() string { return v.ref }
