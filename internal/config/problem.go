package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file: where it is, which
// field, and what is wrong. Messages name the offending value, except for
// secrets, which are never shown, and values read from the environment,
// which are shown as written in the file (e.g. "${BASE_URL}").
type Problem struct {
	File string
	// Line is 1-based; 0 when the problem has no place in the file (a
	// missing section).
	Line int
	// Field is the path of the field, e.g. deployments[2].account; empty
	// for problems with the file as a whole (YAML syntax, unknown top-level
	// fields).
	Field   string
	Message string
}

// String formats p as "file:line: field: message", leaving out the parts
// that are empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" || p.Line > 0 {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in one configuration file, in file
// order. It is the error Load and Parse return; use errors.As to get it.
type Problems []Problem

// Error returns one problem per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sort orders problems by line, keeping those without a line (missing
// sections) at the end; problems on one line keep their order.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}
