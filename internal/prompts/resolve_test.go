package prompts

import (
	"errors"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	r := loadGood(t)
	tests := []struct {
		ref     string
		want    string // version ref; "" when not found
		what    string
		known   []string
		message string
	}{
		{ref: "explain-code", want: "explain-code@6"}, // production label
		{ref: "explain-code@production", want: "explain-code@6"},
		{ref: "explain-code@staging", want: "explain-code@7"},
		{ref: "explain-code@7", want: "explain-code@7"},
		{ref: "explain-code@6", want: "explain-code@6"},
		{ref: "summarize", want: "summarize@1"}, // no production label: current
		{ref: "summarize@1", want: "summarize@1"},
		{ref: "nope", what: "prompt", message: `unknown prompt "nope"`},
		{ref: "nope@7", what: "prompt", message: `unknown prompt "nope"`},
		{ref: "", what: "prompt", message: `unknown prompt ""`},
		{ref: "explain-code@canary", what: "label", known: []string{"production", "staging"},
			message: `prompt "explain-code" has no label "canary" (labels: production, staging)`},
		{ref: "summarize@production", what: "label", message: `prompt "summarize" has no label "production" (labels: none)`},
		{ref: "explain-code@", what: "label", known: []string{"production", "staging"},
			message: `prompt "explain-code" has no label "" (labels: production, staging)`},
		{ref: "explain-code@5", what: "version", known: []string{"6", "7"},
			message: `prompt "explain-code" has no version 5 (versions: 6, 7)`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			v, err := r.Resolve(tt.ref)
			if tt.want != "" {
				if err != nil || v.Ref() != tt.want {
					t.Fatalf("Resolve(%q) = %v, %v; want %s", tt.ref, v, err, tt.want)
				}
				return
			}
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Resolve(%q) = %v, %v; want *NotFoundError", tt.ref, v, err)
			}
			if nf.Ref != tt.ref || nf.What != tt.what || !slices.Equal(nf.Known, tt.known) {
				t.Errorf("NotFoundError = %+v", nf)
			}
			if err.Error() != tt.message {
				t.Errorf("Error() = %q, want %q", err, tt.message)
			}
		})
	}
}
