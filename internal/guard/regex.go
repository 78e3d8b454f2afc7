package guard

import (
	"context"
	"fmt"
	"regexp"

	"github.com/llmux/llmux/internal/config"
)

// regexCheck passes when every match pattern matches and no deny pattern
// does.
type regexCheck struct {
	match []*regexp.Regexp
	deny  []*regexp.Regexp
}

func compileRegex(g config.Guardrail) (checker, []string) {
	c := &regexCheck{}
	var ps []string
	compile := func(field string, exprs []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for i, expr := range exprs {
			re, err := regexp.Compile(expr)
			if err != nil {
				ps = append(ps, fmt.Sprintf("%s[%d]: invalid regex %q: %v", field, i, expr, err))
				continue
			}
			out = append(out, re)
		}
		return out
	}
	c.match, c.deny = compile("match", g.Match), compile("deny", g.Deny)
	if len(g.Match) == 0 && len(g.Deny) == 0 {
		ps = append(ps, "regex needs match or deny patterns")
	}
	return c, ps
}

func (c *regexCheck) check(_ context.Context, text string) string {
	var fails []string
	for _, re := range c.match {
		if !re.MatchString(text) {
			fails = append(fails, fmt.Sprintf("match pattern %q did not match", re.String()))
		}
	}
	for _, re := range c.deny {
		if re.MatchString(text) {
			fails = append(fails, fmt.Sprintf("deny pattern %q matched", re.String()))
		}
	}
	return firstOf(fails)
}

// firstOf returns the first failure, noting how many more there were.
func firstOf(fails []string) string {
	switch len(fails) {
	case 0:
		return ""
	case 1:
		return fails[0]
	}
	return fmt.Sprintf("%s (and %d more)", fails[0], len(fails)-1)
}
