package guard

import (
	"context"
	"fmt"
	"strings"

	"github.com/llmux/llmux/internal/config"
)

// containsCheck passes when text contains at least one of anyOf (if set),
// all of allOf and none of noneOf. With ignoreCase the needles are stored
// lowercased and the text is lowercased once per check.
type containsCheck struct {
	anyOf, allOf, noneOf []string
	ignoreCase           bool
}

func compileContains(g config.Guardrail) (checker, []string) {
	c := &containsCheck{ignoreCase: g.IgnoreCase}
	var ps []string
	norm := func(field string, ss []string) []string {
		out := make([]string, 0, len(ss))
		for i, s := range ss {
			if s == "" {
				ps = append(ps, fmt.Sprintf("%s[%d]: empty string", field, i))
			}
			if g.IgnoreCase {
				s = strings.ToLower(s)
			}
			out = append(out, s)
		}
		return out
	}
	c.anyOf, c.allOf, c.noneOf = norm("any", g.Any), norm("all", g.All), norm("none", g.None)
	if len(g.Any)+len(g.All)+len(g.None) == 0 {
		ps = append(ps, "contains needs any, all or none")
	}
	return c, ps
}

func (c *containsCheck) check(_ context.Context, text string) string {
	if c.ignoreCase {
		text = strings.ToLower(text)
	}
	var fails []string
	if len(c.anyOf) > 0 && !containsAny(text, c.anyOf) {
		fails = append(fails, "any: none of "+joinQuoted(c.anyOf)+" found")
	}
	if missing := filter(c.allOf, func(s string) bool { return !strings.Contains(text, s) }); len(missing) > 0 {
		fails = append(fails, "all: missing "+joinQuoted(missing))
	}
	if found := filter(c.noneOf, func(s string) bool { return strings.Contains(text, s) }); len(found) > 0 {
		fails = append(fails, "none: found "+joinQuoted(found))
	}
	return strings.Join(fails, "; ")
}

func containsAny(text string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(text, n) {
			return true
		}
	}
	return false
}

func filter(ss []string, keep func(string) bool) []string {
	var out []string
	for _, s := range ss {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}
