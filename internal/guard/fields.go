package guard

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmux/llmux/internal/config"
)

// fieldsCheck passes when every dotted path is present and not null in
// the JSON of the text. A numeric segment indexes an array.
type fieldsCheck struct {
	paths [][]string
	names []string // the paths as written
}

func compileFields(g config.Guardrail) (checker, []string) {
	c := &fieldsCheck{}
	var ps []string
	for i, f := range g.Fields {
		path := strings.Split(f, ".")
		for _, seg := range path {
			if seg == "" {
				ps = append(ps, fmt.Sprintf("fields[%d]: invalid path %q", i, f))
				break
			}
		}
		c.paths, c.names = append(c.paths, path), append(c.names, f)
	}
	if len(g.Fields) == 0 {
		ps = append(ps, "required_fields needs fields")
	}
	return c, ps
}

func (c *fieldsCheck) check(_ context.Context, text string) string {
	v, err := extractJSON(text)
	if err != nil {
		return "required_fields: " + err.Error()
	}
	var missing, null []string
	for i, path := range c.paths {
		switch val, ok := lookup(v, path); {
		case !ok:
			missing = append(missing, c.names[i])
		case val == nil:
			null = append(null, c.names[i])
		}
	}
	var fails []string
	if len(missing) > 0 {
		fails = append(fails, "missing "+joinQuoted(missing))
	}
	if len(null) > 0 {
		fails = append(fails, "null "+joinQuoted(null))
	}
	return strings.Join(fails, "; ")
}

// lookup follows path through objects and arrays.
func lookup(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}
