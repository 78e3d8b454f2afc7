package prompts

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity says whether a Problem stops a repository from loading.
type Severity string

// Severities. Load fails on any error; warnings come only from Lint.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong in the prompt files: where it is and what is
// wrong.
type Problem struct {
	// File is the path of the file, joined to the directory given to Load
	// or Lint; the directory itself for problems with no file.
	File string
	// Line is 1-based; 0 when the problem has no place in the file.
	Line     int
	Message  string
	Severity Severity
}

// String formats p as "file:line: message", leaving out the line when it
// is 0 and marking warnings ("file:line: warning: message").
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// LoadError is every problem that kept a repository from loading. Load,
// OpenStore and Store.Reload return it; use errors.As to get it.
type LoadError struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects Problems while loading or linting.
type problems []Problem

func (ps *problems) errorf(file string, line int, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...), Severity: SeverityError})
}

func (ps *problems) warnf(file string, line int, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...), Severity: SeverityWarning})
}

func (ps *problems) add(p Problem) { *ps = append(*ps, p) }

// errors counts the problems of error severity.
func (ps problems) errors() int {
	n := 0
	for _, p := range ps {
		if p.Severity == SeverityError {
			n++
		}
	}
	return n
}

// sorted orders problems by file and line and drops repeats (a broken
// partial is reported once, not once per variant that includes it).
func (ps problems) sorted() []Problem {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return slices.Compact(out)
}
