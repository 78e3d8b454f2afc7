package guard

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

func TestCompileErrors(t *testing.T) {
	ok := config.Guardrail{Name: "ok", Type: "length", MaxChars: 10, Line: 3}
	tests := []struct {
		name string
		g    config.Guardrail
		want string
	}{
		{"missing name", config.Guardrail{Type: "json", Line: 7}, "guardrails[1], line 7: name is required"},
		{"duplicate name", config.Guardrail{Name: "ok", Type: "json", Line: 9}, `guardrails[1] (ok), line 9: duplicate name "ok" (first at guardrails[0])`},
		{"missing type", config.Guardrail{Name: "g"}, "guardrails[1] (g): type is required"},
		{"unknown type", config.Guardrail{Name: "g", Type: "llm"}, `unknown type "llm" (want regex, contains, length, json, required_fields or command)`},
		{"unknown hook", config.Guardrail{Name: "g", Type: "json", Hook: "post"}, `unknown hook "post" (want pre_call, during_call or post_call)`},
		{"unknown action", config.Guardrail{Name: "g", Type: "json", Action: "block"}, `unknown action "block" (want deny, flag, fallback or reask)`},
		{"reask on pre_call", config.Guardrail{Name: "g", Type: "json", Hook: "pre_call", Action: "reask"}, "action reask needs hook post_call, not pre_call"},
		{"reask on during_call", config.Guardrail{Name: "g", Type: "json", Hook: "during_call", Action: "reask"}, "action reask needs hook post_call, not during_call"},
		{"fallback on pre_call", config.Guardrail{Name: "g", Type: "json", Hook: "pre_call", Action: "fallback"}, "action fallback needs hook post_call or during_call, not pre_call"},
		{"bad regex", config.Guardrail{Name: "g", Type: "regex", Deny: []string{"ok", "(?i)pass("}}, `deny[1]: invalid regex "(?i)pass(": error parsing regexp: missing closing ): ` + "`(?i)pass(`"},
		{"lookahead is not RE2", config.Guardrail{Name: "g", Type: "regex", Match: []string{"a(?=b)"}}, `match[0]: invalid regex "a(?=b)": error parsing regexp: invalid or unsupported Perl syntax`},
		{"regex without patterns", config.Guardrail{Name: "g", Type: "regex"}, "regex needs match or deny patterns"},
		{"field of another type", config.Guardrail{Name: "g", Type: "regex", Deny: []string{"x"}, Any: []string{"y"}}, "any does not apply to type regex"},
		{"contains without lists", config.Guardrail{Name: "g", Type: "contains", IgnoreCase: true}, "contains needs any, all or none"},
		{"contains empty needle", config.Guardrail{Name: "g", Type: "contains", All: []string{"a", ""}}, "all[1]: empty string"},
		{"length without bounds", config.Guardrail{Name: "g", Type: "length"}, "length needs min_chars, max_chars, min_words or max_words"},
		{"length negative", config.Guardrail{Name: "g", Type: "length", MaxWords: -1}, "max_words: must not be negative, got -1"},
		{"length min above max", config.Guardrail{Name: "g", Type: "length", MinChars: 9, MaxChars: 3}, "min_chars 9 is above max_chars 3"},
		{"schema and file", config.Guardrail{Name: "g", Type: "json", Schema: map[string]any{}, SchemaFile: "a.json"}, "schema and schema_file are exclusive"},
		{"bad inline schema", config.Guardrail{Name: "json-out", Type: "json", Schema: map[string]any{"type": "strin"}, Line: 40}, "guardrails[1] (json-out), line 40: schema: "},
		{"bad schema file", config.Guardrail{Name: "g", Type: "json", SchemaFile: "bad.json"}, "schema_file: "},
		{"missing schema file", config.Guardrail{Name: "g", Type: "json", SchemaFile: "nope.json"}, "schema_file: "},
		{"fields empty", config.Guardrail{Name: "g", Type: "required_fields"}, "required_fields needs fields"},
		{"fields bad path", config.Guardrail{Name: "g", Type: "required_fields", Fields: []string{"a..b"}}, `fields[0]: invalid path "a..b"`},
		{"command empty", config.Guardrail{Name: "g", Type: "command"}, "command needs a program"},
		{"command negative timeout", config.Guardrail{Name: "g", Type: "command", Command: []string{"true"}, Timeout: -time.Second}, "timeout: must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Compile([]config.Guardrail{ok, tt.g}, "testdata/schemas")
			if err == nil || set != nil {
				t.Fatalf("Compile = %v, nil; want an error", set)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "guardrails[0]") && !strings.Contains(tt.want, "guardrails[0]") {
				t.Errorf("error %q blames the valid guardrail", err)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	_, err := Compile([]config.Guardrail{
		{Name: "a", Type: "regex", Match: []string{"("}, Line: 2},
		{Name: "b", Type: "json", Hook: "pre_call", Action: "reask", Line: 6},
		{Type: "length", Line: 9},
	}, ".")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"guardrails[0] (a), line 2: match[0]", "guardrails[1] (b), line 6: action reask", "guardrails[2], line 9: name is required", "guardrails[2], line 9: length needs"}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestCompileDefaults(t *testing.T) {
	set, err := Compile([]config.Guardrail{
		{Name: "plain", Type: "json"},
		{Name: "lint", Type: "command", Command: []string{"./scripts/lint.sh", "-q"}},
		{Name: "gate", Type: "contains", Any: []string{"x"}, Hook: "pre_call", Action: "flag"},
		{Name: "during", Type: "json", Hook: "during_call", Action: "fallback"},
	}, "/etc/llmux")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := set.Select([]string{"plain", "lint", "gate", "during"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][3]string{{"plain", "post_call", "deny"}, {"lint", "post_call", "deny"}, {"gate", "pre_call", "flag"}, {"during", "during_call", "fallback"}}
	for i, r := range rules {
		if got := [3]string{r.Name, r.Hook, r.Action}; got != want[i] {
			t.Errorf("rule %d = %v, want %v", i, got, want[i])
		}
	}
	cmd := rules[1].check.(*commandCheck)
	if cmd.timeout != 5*time.Second {
		t.Errorf("command timeout = %v, want 5s", cmd.timeout)
	}
	if want := filepath.Join("/etc/llmux", "scripts/lint.sh"); cmd.argv[0] != want || cmd.argv[1] != "-q" {
		t.Errorf("command = %v, want %s resolved against the config dir", cmd.argv, want)
	}
}

func TestSelect(t *testing.T) {
	set, err := Compile([]config.Guardrail{
		{Name: "a", Type: "json"}, {Name: "b", Type: "json"}, {Name: "c", Type: "json"},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := set.Select([]string{"b", "a"}, nil, []string{"a", "c", "b"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"b", "a", "c"}) {
		t.Errorf("Select = %v, want [b a c]", names)
	}
	if _, err := set.Select([]string{"a", "x"}, []string{"y", "x"}); err == nil || err.Error() != `guard: unknown guardrail "x", "y"` {
		t.Errorf("Select(unknown) error = %v", err)
	}
	var empty *Set
	if rules, err := empty.Select(nil); err != nil || rules != nil {
		t.Errorf("nil Set Select(nil) = %v, %v", rules, err)
	}
}
