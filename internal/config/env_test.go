package config

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	env := envFrom(map[string]string{"HOST": "example.com", "EMPTY": "", "KEY": "sk-1"})
	tests := []struct {
		name, in, want string
		env            bool
		problems       []string
	}{
		{name: "no reference", in: "plain $text", want: "plain $text"},
		{name: "variable", in: "https://${HOST}/v1", want: "https://example.com/v1", env: true},
		{name: "two variables", in: "${HOST}:${KEY}", want: "example.com:sk-1", env: true},
		{name: "default unused", in: "${HOST:-other}", want: "example.com", env: true},
		{name: "default for unset", in: "${NOPE:-other}", want: "other", env: true},
		{name: "default for empty", in: "${EMPTY:-other}", want: "other", env: true},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab", env: true},
		{name: "default with colon", in: "${NOPE:-http://x:1}", want: "http://x:1", env: true},
		{name: "empty without default", in: "a${EMPTY}b", want: "ab", env: true},
		{name: "escape", in: "$${HOST}", want: "${HOST}"},
		{name: "escape then variable", in: "$${HOST}=${HOST}", want: "${HOST}=example.com", env: true},
		{name: "lone dollars", in: "$$ $HOST $", want: "$$ $HOST $"},
		{name: "unset", in: "${NOPE}", want: "", env: true,
			problems: []string{"environment variable NOPE is not set (write ${NOPE:-default} for a default)"}},
		{name: "unterminated", in: "x${HOST", want: "x${HOST",
			problems: []string{`unterminated "${" (write "$${" for a literal "${")`}},
		{name: "bad name", in: "${HO ST}", want: "",
			problems: []string{`invalid environment variable name "HO ST"`}},
		{name: "empty name", in: "${}", want: "",
			problems: []string{`invalid environment variable name ""`}},
		{name: "digit first", in: "${1A}", want: "",
			problems: []string{`invalid environment variable name "1A"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := expand(tt.in, env, false)
			if x.value != tt.want || x.env != tt.env || !slices.Equal(x.problems, tt.problems) {
				t.Errorf("expand(%q) = %q, env %v, problems %q; want %q, %v, %q",
					tt.in, x.value, x.env, x.problems, tt.want, tt.env, tt.problems)
			}
		})
	}
}

func TestExpandSecretHidesBadNames(t *testing.T) {
	x := expand("${sk-live-123}", envFrom(nil), true)
	want := []string{`invalid environment variable name in "${...}"`}
	if !slices.Equal(x.problems, want) {
		t.Errorf("problems = %q, want %q", x.problems, want)
	}
}
