package prompts

import (
	"bytes"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// variantExt is the extension of variant files.
const variantExt = ".prompt"

// Provider families a variant may name; Select's family argument is one
// of them.
const (
	FamilyOpenAI    = "openai"    // OpenAI, Azure OpenAI and OpenAI-compatible servers
	FamilyAnthropic = "anthropic" // Anthropic
)

// Message roles a variant may use.
var roles = []string{"system", "user", "assistant"}

var (
	frontMatterKeys = []string{"variant", "match", "family", "params"}
	bodyKeys        = []string{"messages"}
	messageKeys     = []string{"role", "content"}
)

// variantFile is a parsed variant file whose templates are not compiled
// yet.
type variantFile struct {
	name     string
	match    []string
	family   string
	params   map[string]any
	messages []rawMessage
}

// rawMessage is one message template and where its text starts.
type rawMessage struct {
	role    string
	content string
	src     source
}

// source is where a template's text is: the file, and the file line of
// the template's first line.
type source struct {
	file  string
	line0 int
}

// line maps a 1-based template line to a file line.
func (s source) line(templateLine int) int {
	if templateLine < 1 {
		return s.line0
	}
	return s.line0 + templateLine - 1
}

// parseVariant reads a variant file: optional YAML front matter between
// "---" lines, then a YAML body with `messages:`. The file is a YAML
// stream of two documents when it has front matter, one when it has not,
// so every line number is the file's own. It returns nil when there are
// problems.
func parseVariant(file string, data []byte) (*variantFile, problems) {
	var ps problems
	docs, ok := parseDocs(data, file, &ps)
	if !ok {
		return nil, ps
	}
	vf := &variantFile{name: strings.TrimSuffix(filepath.Base(file), variantExt)}
	body := docs
	if hasFrontMatter(data) {
		if len(docs) > 0 && docs[0] != nil {
			vf.parseFrontMatter(docs[0], file, &ps)
		}
		if len(docs) > 0 {
			body = docs[1:]
		}
	}
	switch {
	case len(body) == 0 || isNull(body[0]):
		ps.errorf(file, 0, "no messages: want a body with `messages:` after the front matter")
	case len(body) > 1:
		ps.errorf(file, line(body[1]), "a third YAML document; want front matter and one body")
	default:
		vf.parseBody(body[0], file, &ps)
	}
	if !nameRe.MatchString(vf.name) {
		ps.errorf(file, 0, "variant name %q is not a valid name (letters, digits, '.', '_', '-'); set `variant:`", vf.name)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return vf, nil
}

// hasFrontMatter reports whether the file starts with a "---" line.
func hasFrontMatter(data []byte) bool {
	first, _, _ := bytes.Cut(data, []byte("\n"))
	return string(bytes.TrimRight(first, " \t\r")) == "---"
}

func (vf *variantFile) parseFrontMatter(n *yaml.Node, file string, ps *problems) {
	f := fields(n, file, "front matter", frontMatterKeys, ps)
	if f == nil {
		return
	}
	if x := f["variant"]; !isNull(x) {
		if s, ok := str(x, file, "variant", ps); ok {
			vf.name = s
		}
	}
	if x := f["match"]; !isNull(x) {
		vf.match, _ = strList(x, file, "match", ps)
		for i, p := range vf.match {
			if _, err := path.Match(p, ""); err != nil {
				ps.errorf(file, deref(x).Content[i].Line, "match[%d]: bad pattern %q: %v", i, p, err)
			}
		}
	}
	if x := f["family"]; !isNull(x) {
		if s, ok := str(x, file, "family", ps); ok {
			if s != FamilyOpenAI && s != FamilyAnthropic {
				ps.errorf(file, x.Line, "family: %q is not %q or %q", s, FamilyOpenAI, FamilyAnthropic)
			}
			vf.family = s
		}
	}
	if x := f["params"]; !isNull(x) {
		vf.parseParams(x, file, ps)
	}
}

func (vf *variantFile) parseParams(n *yaml.Node, file string, ps *problems) {
	if deref(n).Kind != yaml.MappingNode {
		ps.errorf(file, n.Line, "params: want a mapping, e.g. {max_tokens: 1500, temperature: 0.2}")
		return
	}
	v, err := plain(n)
	if err != nil {
		ps.errorf(file, n.Line, "params: %v", err)
		return
	}
	vf.params, _ = v.(map[string]any)
}

func (vf *variantFile) parseBody(n *yaml.Node, file string, ps *problems) {
	f := fields(n, file, "body", bodyKeys, ps)
	if f == nil {
		return
	}
	list := deref(f["messages"])
	switch {
	case isNull(list):
		ps.errorf(file, n.Line, "messages: required")
		return
	case list.Kind != yaml.SequenceNode:
		ps.errorf(file, list.Line, "messages: want a list of {role, content}")
		return
	case len(list.Content) == 0:
		ps.errorf(file, list.Line, "messages: empty")
		return
	}
	for i, item := range list.Content {
		if m, ok := parseMessage(item, file, fmt.Sprintf("messages[%d]", i), ps); ok {
			vf.messages = append(vf.messages, m)
		}
	}
}

func parseMessage(n *yaml.Node, file, what string, ps *problems) (rawMessage, bool) {
	f := fields(n, file, what, messageKeys, ps)
	if f == nil {
		return rawMessage{}, false
	}
	var m rawMessage
	ok := true
	switch r := f["role"]; {
	case isNull(r):
		ps.errorf(file, n.Line, "%s.role: required (%s)", what, strings.Join(roles, ", "))
		ok = false
	default:
		m.role, ok = str(r, file, what+".role", ps)
		if ok && !slices.Contains(roles, m.role) {
			ps.errorf(file, r.Line, "%s.role: %q is not one of %s", what, m.role, strings.Join(roles, ", "))
			ok = false
		}
	}
	c := deref(f["content"])
	if isNull(c) {
		ps.errorf(file, n.Line, "%s.content: required", what)
		return m, false
	}
	content, good := str(c, file, what+".content", ps)
	m.content = content
	m.src = source{file: file, line0: c.Line}
	if c.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		// A block scalar's text starts on the line after `|` or `>`.
		m.src.line0++
	}
	return m, ok && good
}
