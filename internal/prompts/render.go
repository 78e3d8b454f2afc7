package prompts

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// Names Render adds to the caller's variables.
const (
	varModel       = "model"
	varModelFamily = "model_family"
)

// Render renders the variant's messages with vars, plus `model` and
// `model_family` set to model and family unless vars already has them
// (the caller's value wins, so a schema may define its own `model`).
// Templates are strict: a variable that is used but not given fails with
// a *RenderError naming it, which unwraps to a *VarError. Call Validate
// first to reject bad variables before anything is rendered. Output is
// never HTML-escaped.
func (vt *Variant) Render(vars map[string]any, model, family string) ([]Message, error) {
	scope := vt.eng.globals.Inherit()
	scope.Set(varModel, model)
	scope.Set(varModelFamily, family)
	for k, v := range vars {
		scope.Set(k, v)
	}
	out := make([]Message, len(vt.messages))
	for i := range vt.messages {
		m := &vt.messages[i]
		var b strings.Builder
		b.Grow(m.sizeHint(vars))
		// A scope per message, so that {% set %} in one does not leak
		// into the next.
		env := &exec.Environment{
			Context: scope.Inherit(),
			Filters: vt.eng.filters,
			Tests:   vt.eng.tests,
			Methods: builtins.Methods,
		}
		if err := run(vt.eng.cfg, env, m.tmpl, &b); err != nil {
			return nil, m.renderError(err)
		}
		out[i] = Message{Role: m.role, Content: b.String()}
	}
	return out, nil
}

var (
	// gonja reports the line of each statement and expression an error
	// passed through, outermost first.
	atLineRe    = regexp.MustCompile(`at line (\d+)`)
	undefinedRe = regexp.MustCompile(`Unable to evaluate name "([^"]+)"`)
)

// renderError places a gonja render error: in the innermost partial it
// happened in, at the innermost line gonja gave.
func (m *compiled) renderError(err error) *RenderError {
	src, inner := m.src, err
	var inc *includeError
	for errors.As(inner, &inc) {
		src, inner = source{file: inc.partial.file, line0: 1}, inc.err
	}
	text := inner.Error()
	re := &RenderError{File: src.file, Err: err}
	if all := atLineRe.FindAllStringSubmatch(text, -1); len(all) > 0 {
		n, _ := strconv.Atoi(all[len(all)-1][1])
		re.Line = src.line(n)
	}
	if sub := undefinedRe.FindStringSubmatch(text); sub != nil {
		re.Variable = sub[1]
	}
	return re
}
