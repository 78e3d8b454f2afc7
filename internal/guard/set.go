package guard

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmux/llmux/internal/config"
)

// Set is the compiled guardrails of one configuration, by name. It is
// immutable and safe for concurrent use.
type Set struct {
	rules map[string]*Rule
}

// Compile checks and compiles specs: regexes (Go RE2 syntax), JSON
// schemas (inline, or SchemaFile relative to baseDir) and commands (a
// relative path with a slash is relative to baseDir too). It fills in the
// defaults: hook post_call, action deny, command timeout 5s. It reports
// every problem at once, one per line, each naming the guardrail and its
// line in the config file, e.g.
//
//	guardrails[2] (json-out), line 40: schema: ...
func Compile(specs []config.Guardrail, baseDir string) (*Set, error) {
	s := &Set{rules: make(map[string]*Rule, len(specs))}
	first := map[string]int{}
	var errs []error
	for i, g := range specs {
		rule, problems := compileRule(g, baseDir)
		if g.Name != "" {
			if j, dup := first[g.Name]; dup {
				problems = append(problems, fmt.Sprintf("duplicate name %q (first at guardrails[%d])", g.Name, j))
			} else {
				first[g.Name] = i
			}
		}
		for _, p := range problems {
			errs = append(errs, fmt.Errorf("%s: %s", where(i, g), p))
		}
		if len(problems) == 0 {
			s.rules[g.Name] = rule
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// where names guardrail i for a problem: "guardrails[2] (json-out), line 40".
func where(i int, g config.Guardrail) string {
	var b strings.Builder
	b.WriteString("guardrails[" + strconv.Itoa(i) + "]")
	if g.Name != "" {
		b.WriteString(" (" + g.Name + ")")
	}
	if g.Line > 0 {
		b.WriteString(", line " + strconv.Itoa(g.Line))
	}
	return b.String()
}

// Select returns the rules named in lists (a route's, a key's, a
// prompt's...), in order of first mention, each once. Unknown names are an
// error naming them all. A nil Set knows no names.
func (s *Set) Select(lists ...[]string) ([]*Rule, error) {
	var out []*Rule
	var unknown []string
	seen := map[string]bool{}
	var rules map[string]*Rule
	if s != nil {
		rules = s.rules
	}
	for _, list := range lists {
		for _, name := range list {
			if seen[name] {
				continue
			}
			seen[name] = true
			r, ok := rules[name]
			if !ok {
				unknown = append(unknown, name)
				continue
			}
			out = append(out, r)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("guard: unknown guardrail %s", joinQuoted(unknown))
	}
	return out, nil
}
