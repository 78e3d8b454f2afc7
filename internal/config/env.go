package config

import (
	"fmt"
	"strings"
)

// expansion is the result of interpolating one scalar.
type expansion struct {
	value string
	// env reports whether any part of value came from the environment;
	// such values are never shown in messages (the text as written is).
	env bool
	// problems are messages for unset variables and bad syntax.
	problems []string
}

// expand interpolates ${NAME} and ${NAME:-default} in s. As in the shell,
// the default is used when NAME is unset or empty. $${ is a literal ${; a $
// anywhere else is kept as is. secret hides variable names that do not
// parse, in case a credential was pasted between the braces.
func expand(s string, lookup func(string) (string, bool), secret bool) expansion {
	if !strings.Contains(s, "${") {
		return expansion{value: s}
	}
	var (
		x expansion
		b strings.Builder
	)
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				x.problems = append(x.problems, `unterminated "${" (write "$${" for a literal "${")`)
				b.WriteString(s[i:])
				i = len(s)
				continue
			}
			b.WriteString(x.variable(s[i+2:i+2+end], lookup, secret))
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	x.value = b.String()
	return x
}

// variable resolves the text between ${ and }.
func (x *expansion) variable(expr string, lookup func(string) (string, bool), secret bool) string {
	name, def, hasDef := strings.Cut(expr, ":-")
	if !validName(name) {
		if secret {
			x.problems = append(x.problems, "invalid environment variable name in \"${...}\"")
		} else {
			x.problems = append(x.problems, fmt.Sprintf("invalid environment variable name %q", name))
		}
		return ""
	}
	x.env = true
	v, ok := lookup(name)
	switch {
	case hasDef && v == "":
		return def
	case !ok:
		x.problems = append(x.problems, fmt.Sprintf("environment variable %s is not set (write ${%s:-default} for a default)", name, name))
		return ""
	}
	return v
}

// validName reports whether s is a shell variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
