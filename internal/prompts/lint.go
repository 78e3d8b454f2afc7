package prompts

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Lint checks the prompts under dir and returns every problem, sorted by
// file and line; none means the repository is clean. Errors are what
// Load rejects, plus template variables that the input schema does not
// declare. Warnings are: a version in use (current or labelled) with no
// variant for one of targets; template syntax beyond the portable subset
// ({{identifier}}, {% if %}, {% for %}, {% include %}) that other prompt
// tools render; a current version whose files differ from its frozen
// copy; frozen versions of a prompt that does not exist.
func Lint(dir string, targets []Target) []Problem {
	r, ps := load(dir)
	for _, p := range r.sorted {
		if cur := p.Versions[p.Current]; cur != nil && !cur.Frozen {
			lintTemplates(&ps, cur)
			lintFrozenCopy(&ps, dir, cur)
		}
		lintTargets(&ps, p, targets)
	}
	lintOrphans(&ps, dir)
	return ps.sorted()
}

const portable = "portable templates use only {{identifier}}, {% if %}, {% for %} and {% include %}"

// lintTemplates reports undeclared variables and non-portable syntax.
func lintTemplates(ps *problems, v *Version) {
	known := map[string]bool{varModel: true, varModelFamily: true, "self": true}
	if v.Verify != nil {
		known[v.Verify.Variable] = true
	}
	var declared string
	if v.input != nil {
		for _, name := range v.input.properties {
			known[name] = true
		}
		declared = strings.Join(v.input.properties, ", ")
	}
	for _, vt := range v.Variants {
		w := walker{
			variable: func(s source, tok *tokens.Token, name string) {
				if v.input != nil && !known[name] && !vt.eng.globals.Has(name) {
					ps.errorf(s.file, s.line(tokLine(tok)), "variable %q is not in the input schema of %s (properties: %s)", name, v.ref, declared)
				}
			},
			statement: func(s source, tok *tokens.Token, what string) {
				ps.warnf(s.file, s.line(tokLine(tok)), "non-portable template syntax: %s; %s", what, portable)
			},
		}
		for _, m := range vt.messages {
			w.template(m.src, m.tmpl.Root().Nodes, nil)
		}
	}
}

// lintTargets warns about versions in use that have no variant for a
// configured deployment.
func lintTargets(ps *problems, p *Prompt, targets []Target) {
	inUse := []int{p.Current}
	for _, n := range p.Labels {
		inUse = append(inUse, n)
	}
	slices.Sort(inUse)
	for _, n := range slices.Compact(inUse) {
		v := p.Versions[n]
		if v == nil {
			continue
		}
		for _, t := range targets {
			if vt, _ := v.Select(t.Model, t.Family); vt != nil {
				continue
			}
			effect := "the default variant is missing too"
			if v.RequireVariant {
				effect = "require_variant is set, so the router will skip it"
			}
			ps.warnf(filepath.Join(v.dir, manifestFile), 0, "%s has no variant for model %s (family %s); %s", v.ref, t.Model, t.Family, effect)
		}
	}
}

// lintFrozenCopy warns when the current files differ from a frozen copy
// of the same version: the version was edited without being bumped.
func lintFrozenCopy(ps *problems, dir string, v *Version) {
	have, err := readTree(frozenDir(dir, v.Prompt, v.Number))
	if err != nil {
		return
	}
	want, err := freezeFiles(v)
	if err != nil || maps.EqualFunc(have, want, bytes.Equal) {
		return
	}
	ps.warnf(filepath.Join(v.dir, manifestFile), 0, "version %d differs from its frozen copy in %s; bump version", v.Number, frozenDir(dir, v.Prompt, v.Number))
}

// lintOrphans warns about frozen versions whose prompt folder is gone.
func lintOrphans(ps *problems, dir string) {
	entries, err := os.ReadDir(filepath.Join(dir, versionsDir))
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name())); err != nil {
			ps.warnf(filepath.Join(dir, versionsDir, e.Name()), 0, "frozen versions of %q, which has no prompt folder", e.Name())
		}
	}
}
