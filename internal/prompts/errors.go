package prompts

import (
	"fmt"
	"strings"
)

// NotFoundError is what Resolve returns for a reference to a prompt,
// label or version that the repository does not have.
type NotFoundError struct {
	// Ref is the reference as given, e.g. "explain-code@canary".
	Ref string
	// What is the part not found: "prompt", "label" or "version".
	What string
	// Known lists the labels or versions the prompt has, sorted, so the
	// message can say what would have worked; nil for unknown prompts.
	Known []string
}

// Error says what is missing, e.g. `prompt "x" has no label "y" (labels:
// production, staging)`.
func (e *NotFoundError) Error() string {
	name, sel, _ := strings.Cut(e.Ref, "@")
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	switch e.What {
	case "label":
		return fmt.Sprintf("prompt %q has no label %q (labels: %s)", name, sel, known)
	case "version":
		return fmt.Sprintf("prompt %q has no version %s (versions: %s)", name, sel, known)
	default:
		return fmt.Sprintf("unknown prompt %q", name)
	}
}

// VarError is a variable the caller passed (or left out) that the prompt
// cannot use: Validate returns it when the variables do not match the
// input schema, and a RenderError unwraps to one when the template used a
// variable that was not given. Both are the caller's fault, not the
// prompt's.
type VarError struct {
	// Variable is the top-level variable at fault; empty when the schema
	// rejects the variables as a whole.
	Variable string
	// Message says what is wrong, e.g. "got number, want string".
	Message string
}

// Error returns `variable "code": got number, want string`.
func (e *VarError) Error() string {
	if e.Variable == "" {
		return "variables: " + e.Message
	}
	return fmt.Sprintf("variable %q: %s", e.Variable, e.Message)
}

// RenderError is a template that failed while rendering: most often a
// variable that was not given (templates are strict), or a filter applied
// to a value of the wrong type.
type RenderError struct {
	// File and Line are where the failing expression is: the variant file,
	// or the partial when it failed inside an include. Line is 0 when the
	// template engine did not say.
	File string
	Line int
	// Variable is the undefined variable, when that is the cause.
	Variable string
	// Err is the template engine's error.
	Err error
}

// Error returns "file:line: undefined variable \"code\"" or the engine's
// message after the place.
func (e *RenderError) Error() string {
	place := e.File
	if e.Line > 0 {
		place = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Variable != "" {
		return fmt.Sprintf("render %s: undefined variable %q", place, e.Variable)
	}
	return fmt.Sprintf("render %s: %s", place, strings.TrimPrefix(e.Err.Error(), "unable to execute template: "))
}

// Unwrap returns the engine's error and, for an undefined variable, a
// *VarError naming it, so that callers can treat a missing variable like
// one that failed validation.
func (e *RenderError) Unwrap() []error {
	if e.Variable != "" {
		return []error{&VarError{Variable: e.Variable, Message: "undefined"}, e.Err}
	}
	return []error{e.Err}
}
