package prompts

import (
	"slices"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Message is one rendered chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Variant is one *.prompt file of a version: the messages for the models
// it matches, and the request parameters that go with them. Its templates
// are compiled at load; a Variant is immutable and safe for concurrent
// use. Callers must not modify Match or Params.
type Variant struct {
	// Name is the front matter's `variant:`, or the file name without
	// .prompt.
	Name string
	// Match lists model ids ("gpt-4o") and path.Match globs ("claude-*").
	Match []string
	// Family is "openai", "anthropic" or empty.
	Family string
	// Params are request parameters (max_tokens, temperature, ...) passed
	// through as written; nil when the file has none.
	Params map[string]any
	// File is the variant file's path.
	File string

	eng      *engine
	messages []compiled
}

// compiled is one message template.
type compiled struct {
	role string
	src  source
	tmpl *exec.Template
	// size is the length of the template's text and the partials it
	// includes; names are the variables it reads. Render sizes its
	// buffer from them.
	size  int
	names []string
}

// compileVariant compiles a parsed variant file; problems go to ps and
// the result is nil if there were any.
func (c *compiler) compileVariant(vf *variantFile, file string, ps *problems) *Variant {
	vt := &Variant{Name: vf.name, Match: vf.match, Family: vf.family, Params: vf.params, File: file, eng: c.eng}
	ok := true
	for _, m := range vf.messages {
		t, p := c.compile(m.src, m.content)
		if p != nil {
			ps.add(*p)
			ok = false
			continue
		}
		vt.messages = append(vt.messages, newCompiled(m, t))
	}
	if !ok {
		return nil
	}
	return vt
}

func newCompiled(m rawMessage, t *exec.Template) compiled {
	cm := compiled{role: m.role, src: m.src, tmpl: t, size: len(m.content)}
	w := walker{
		variable: func(_ source, _ *tokens.Token, name string) {
			if !slices.Contains(cm.names, name) {
				cm.names = append(cm.names, name)
			}
		},
		include: func(pt *partial) { cm.size += pt.size },
	}
	w.template(m.src, t.Root().Nodes, nil)
	return cm
}

// sizeHint estimates the rendered length: the text plus the string
// variables it reads, once each.
func (cm *compiled) sizeHint(vars map[string]any) int {
	n := cm.size
	for _, name := range cm.names {
		if s, ok := vars[name].(string); ok {
			n += len(s)
		}
	}
	return n
}
