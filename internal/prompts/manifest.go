package prompts

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// manifestFile is the file in each prompt folder (and each frozen copy)
// that describes the prompt.
const manifestFile = "prompt.yaml"

var manifestKeys = []string{"name", "version", "description", "input", "labels", "require_variant", "guardrails", "verify"}

// Defaults for verify.
const (
	defaultVerifyVariable = "tool_output"
	defaultVerifyTimeout  = 60 * time.Second
)

var (
	// nameRe is what prompt and variant names may be: they appear in
	// references ("name@label") and headers ("name@7#variant").
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// labelRe excludes names starting with a digit, so that "name@7" is
	// always a version.
	labelRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// manifest is a parsed prompt.yaml.
type manifest struct {
	file        string
	name        string
	nameLine    int
	version     int
	versionLine int
	description string
	input       *inputSchema // nil without input
	labels      map[string]int
	labelLines  map[string]int
	requireVar  bool
	guardrails  []string
	verify      *Verify
}

// parseManifest reads a prompt.yaml. It returns nil when the file cannot
// be used at all (YAML syntax, not a mapping, no name or version); other
// problems are reported and the rest of the file is still read.
func parseManifest(file string, data []byte, ps *problems) *manifest {
	docs, ok := parseDocs(data, file, ps)
	if !ok {
		return nil
	}
	if len(docs) != 1 || docs[0] == nil {
		ps.errorf(file, 0, "want one YAML document with keys %s", strings.Join(manifestKeys, ", "))
		return nil
	}
	f := fields(docs[0], file, manifestFile, manifestKeys, ps)
	if f == nil {
		return nil
	}
	m := &manifest{file: file, labels: map[string]int{}, labelLines: map[string]int{}}
	usable := m.parseIdentity(f, docs[0].Line, ps)
	if n := f["description"]; !isNull(n) {
		m.description, _ = str(n, file, "description", ps)
	}
	if n := f["input"]; !isNull(n) {
		m.input = parseInput(n, file, ps)
	}
	if n := f["labels"]; !isNull(n) {
		m.parseLabels(n, ps)
	}
	if n := f["require_variant"]; !isNull(n) {
		m.requireVar, _ = boolean(n, file, "require_variant", ps)
	}
	if n := f["guardrails"]; !isNull(n) {
		m.guardrails, _ = strList(n, file, "guardrails", ps)
	}
	if n := f["verify"]; !isNull(n) {
		m.verify = parseVerify(n, file, ps)
	}
	if !usable {
		return nil
	}
	return m
}

// parseIdentity reads name and version, without which nothing else about
// the prompt can be placed.
func (m *manifest) parseIdentity(f map[string]*yaml.Node, top int, ps *problems) bool {
	ok := true
	switch n := f["name"]; {
	case isNull(n):
		ps.errorf(m.file, top, "name: required")
		ok = false
	default:
		m.nameLine = n.Line
		if m.name, ok = str(n, m.file, "name", ps); ok && !nameRe.MatchString(m.name) {
			ps.errorf(m.file, n.Line, "name: %q is not a valid name (letters, digits, '.', '_', '-')", m.name)
			ok = false
		}
	}
	switch n := f["version"]; {
	case isNull(n):
		ps.errorf(m.file, top, "version: required (an integer >= 1)")
		ok = false
	default:
		m.versionLine = n.Line
		v, good := integer(n, m.file, "version", ps)
		if good && v < 1 {
			ps.errorf(m.file, n.Line, "version: want an integer >= 1, got %d", v)
			good = false
		}
		m.version = v
		ok = ok && good
	}
	return ok
}

func (m *manifest) parseLabels(n *yaml.Node, ps *problems) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		ps.errorf(m.file, n.Line, "labels: want a mapping of label to version, e.g. {production: 7}")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		label := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !labelRe.MatchString(label):
			ps.errorf(m.file, k.Line, "labels: %q is not a valid label (a letter, then letters, digits, '.', '_', '-')", label)
			continue
		case m.labelLines[label] != 0:
			ps.errorf(m.file, k.Line, "labels: %s given twice", label)
			continue
		}
		m.labelLines[label] = k.Line
		version, ok := integer(v, m.file, "labels."+label, ps)
		if ok && version < 1 {
			ps.errorf(m.file, v.Line, "labels.%s: want a version >= 1, got %d", label, version)
			ok = false
		}
		if ok {
			m.labels[label] = version
		}
	}
}

// parseVerify reads verify: {command, variable, timeout}.
func parseVerify(n *yaml.Node, file string, ps *problems) *Verify {
	f := fields(n, file, "verify", []string{"command", "variable", "timeout"}, ps)
	if f == nil {
		return nil
	}
	v := &Verify{Variable: defaultVerifyVariable, Timeout: defaultVerifyTimeout}
	switch c := deref(f["command"]); {
	case isNull(c):
		ps.errorf(file, deref(n).Line, "verify.command: required")
	case c.Kind == yaml.SequenceNode:
		v.Command, _ = strList(c, file, "verify.command", ps)
		if len(c.Content) == 0 {
			ps.errorf(file, c.Line, "verify.command: empty")
		}
	default:
		if s, ok := str(c, file, "verify.command", ps); ok {
			if v.Command = strings.Fields(s); len(v.Command) == 0 {
				ps.errorf(file, c.Line, "verify.command: empty")
			}
		}
	}
	if x := f["variable"]; !isNull(x) {
		if s, ok := str(x, file, "verify.variable", ps); ok {
			if !identRe.MatchString(s) {
				ps.errorf(file, x.Line, "verify.variable: %q is not an identifier", s)
			}
			v.Variable = s
		}
	}
	if x := f["timeout"]; !isNull(x) {
		if s, ok := str(x, file, "verify.timeout", ps); ok {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				ps.errorf(file, x.Line, "verify.timeout: %q is not a duration (e.g. 90s, 2m)", s)
			case d <= 0:
				ps.errorf(file, x.Line, "verify.timeout: want a positive duration, got %s", s)
			default:
				v.Timeout = d
			}
		}
	}
	return v
}
