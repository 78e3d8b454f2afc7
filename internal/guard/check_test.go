package guard

import (
	"context"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

// mustRule compiles one guardrail.
func mustRule(t *testing.T, g config.Guardrail) *Rule {
	t.Helper()
	if g.Name == "" {
		g.Name = "test"
	}
	set, err := Compile([]config.Guardrail{g}, "testdata/schemas")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := set.Select([]string{g.Name})
	if err != nil {
		t.Fatal(err)
	}
	return rules[0]
}

func TestChecks(t *testing.T) {
	inline := map[string]any{
		"type":     "object",
		"required": []any{"answer"},
		"properties": map[string]any{
			"answer": map[string]any{"type": "string"},
			"tags":   map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		},
	}
	tests := []struct {
		name   string
		g      config.Guardrail
		text   string
		reason string // "" means it passes
	}{
		{"regex match passes", config.Guardrail{Type: "regex", Match: []string{`^\{`, `"answer"`}}, `{"answer": 1}`, ""},
		{"regex match fails", config.Guardrail{Type: "regex", Match: []string{`^\{`, `"answer"`}}, `{"other": 1}`, `match pattern "\"answer\"" did not match`},
		{"regex deny fails", config.Guardrail{Type: "regex", Deny: []string{`(?i)password`}}, "my PASSWORD is", `deny pattern "(?i)password" matched`},
		{"regex deny passes", config.Guardrail{Type: "regex", Deny: []string{`(?i)password`}}, "nothing here", ""},
		{"regex several failures", config.Guardrail{Type: "regex", Match: []string{`x`}, Deny: []string{`a`, `b`}}, "ab", `match pattern "x" did not match (and 2 more)`},

		{"contains any passes", config.Guardrail{Type: "contains", Any: []string{"yes", "no"}}, "I say no", ""},
		{"contains any fails", config.Guardrail{Type: "contains", Any: []string{"yes", "no"}}, "maybe", `any: none of "yes", "no" found`},
		{"contains all fails", config.Guardrail{Type: "contains", All: []string{"a1", "b2", "c3"}}, "a1 only", `all: missing "b2", "c3"`},
		{"contains none fails", config.Guardrail{Type: "contains", None: []string{"TODO", "FIXME"}}, "fix: TODO later", `none: found "TODO"`},
		{"contains ignore case", config.Guardrail{Type: "contains", None: []string{"Secret"}, IgnoreCase: true}, "a SECRET", `none: found "secret"`},
		{"contains case matters", config.Guardrail{Type: "contains", None: []string{"Secret"}}, "a SECRET", ""},
		{"contains all and none", config.Guardrail{Type: "contains", All: []string{"ok"}, None: []string{"bad"}}, "bad", `all: missing "ok"; none: found "bad"`},

		{"length in bounds", config.Guardrail{Type: "length", MinChars: 2, MaxChars: 5, MinWords: 1, MaxWords: 1}, "héllo", ""},
		{"length counts runes", config.Guardrail{Type: "length", MaxChars: 4}, "héllo", "too long: 5 characters, max 4"},
		{"length too short", config.Guardrail{Type: "length", MinChars: 10}, "short", "too short: 5 characters, min 10"},
		{"length words", config.Guardrail{Type: "length", MaxWords: 2}, " one\ttwo\nthree ", "too long: 3 words, max 2"},
		{"length min words", config.Guardrail{Type: "length", MinWords: 3}, "one two", "too short: 2 words, min 3"},

		{"json plain", config.Guardrail{Type: "json"}, ` {"a": [1, 2]} `, ""},
		{"json not json", config.Guardrail{Type: "json"}, "Sure! Here it is", "json: not JSON: invalid character 'S' looking for beginning of value"},
		{"json fenced", config.Guardrail{Type: "json", Schema: inline}, "Here:\n```json\n{\"answer\": \"42\"}\n```\nDone.", ""},
		{"json fenced upper case", config.Guardrail{Type: "json"}, "```JSON\n[1]\n```", ""},
		{"json spanning block", config.Guardrail{Type: "json", Schema: inline}, `The result is {"answer": "42", "tags": ["a"]} as asked {ok}.`, ""},
		{"json first bracket is prose", config.Guardrail{Type: "json"}, `Use [brackets] like this: {"a": 1}`, ""},
		{"json schema type", config.Guardrail{Type: "json", Schema: inline}, `{"answer": 42}`, "json: /answer: type: got number, want string"},
		{"json schema required", config.Guardrail{Type: "json", Schema: inline}, `{}`, "json: /: required: missing property 'answer'"},
		{"json schema nested path", config.Guardrail{Type: "json", Schema: inline}, `{"answer": "a", "tags": ["x", 3]}`, "json: /tags/1: type: got number, want string"},
		{"json schema file with $ref", config.Guardrail{Type: "json", SchemaFile: "answer.json"}, `{"answer": "a", "confidence": 2, "sources": [{}]}`, "json: /confidence: maximum: got 2, want 1 (and 1 more)"},
		{"json schema file yaml", config.Guardrail{Type: "json", SchemaFile: "answer.yaml"}, `{"answer": ""}`, "json: /answer: minLength: got 0, want 1"},

		{"fields present", config.Guardrail{Type: "required_fields", Fields: []string{"a.b", "list.1.id"}}, `{"a": {"b": 0}, "list": [{}, {"id": "x"}]}`, ""},
		{"fields missing and null", config.Guardrail{Type: "required_fields", Fields: []string{"a.b", "c", "list.5", "d"}}, `{"a": {}, "c": null, "list": [], "d": false}`, `missing "a.b", "list.5"; null "c"`},
		{"fields in a fenced block", config.Guardrail{Type: "required_fields", Fields: []string{"x"}}, "```json\n{\"x\": 1}\n```", ""},
		{"fields not json", config.Guardrail{Type: "required_fields", Fields: []string{"x"}}, "nope", "required_fields: not JSON: invalid character 'o' in literal null (expecting 'u')"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRule(t, tt.g)
			got := r.Check(context.Background(), tt.text)
			if got.Passed != (tt.reason == "") || got.Reason != tt.reason {
				t.Errorf("Check = %+v, want reason %q", got, tt.reason)
			}
			if got.Rule != r.Name || got.Action != r.Action {
				t.Errorf("Check = %+v, want rule %s action %s", got, r.Name, r.Action)
			}
		})
	}
}

func TestReasonQuotesLittleText(t *testing.T) {
	long := strings.Repeat("x", 5000)
	text := `{"a":` + long
	tests := []struct {
		g   config.Guardrail
		max int
	}{
		{config.Guardrail{Type: "json"}, 300},
		{config.Guardrail{Type: "command", Command: []string{"sh", "-c", "cat; exit 3"}}, 300},
		{config.Guardrail{Type: "contains", None: []string{long}}, maxReason + len("…")},
	}
	for _, tt := range tests {
		got := mustRule(t, tt.g).Check(context.Background(), text)
		if got.Passed || len(got.Reason) > tt.max {
			t.Errorf("%s: passed %v, reason of %d bytes, want a failure with at most %d", tt.g.Type, got.Passed, len(got.Reason), tt.max)
		}
	}
}
