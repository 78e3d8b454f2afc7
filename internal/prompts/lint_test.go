package prompts

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var testTargets = []Target{
	{Model: "gpt-4o", Family: FamilyOpenAI},
	{Model: "claude-haiku-4-5", Family: FamilyAnthropic},
}

// lintStrings runs Lint and returns its problems as strings with dir
// left out.
func lintStrings(t *testing.T, dir string, targets []Target) []string {
	t.Helper()
	var out []string
	for _, p := range Lint(dir, targets) {
		out = append(out, strings.ReplaceAll(p.String(), dir+string(filepath.Separator), ""))
	}
	return out
}

func TestLint(t *testing.T) {
	const schema = "input:\n  type: object\n  properties:\n    code: {type: string}\n"
	user := func(content string) string {
		return "messages:\n  - role: user\n    content: |\n      " + content + "\n"
	}
	tests := []struct {
		name    string
		dir     string
		targets []Target
		want    []string
	}{
		{
			name: "good repository", dir: filepath.Join("testdata", "good"), targets: testTargets,
			want: []string{
				"explain-code/gpt35.prompt:13: warning: non-portable template syntax: {{ }} with attribute or item access; " + portable,
			},
		},
		{
			name: "load problems are errors", dir: filepath.Join("testdata", "bad", "bad-role"),
			want: []string{`p/default.prompt:2: messages[0].role: "robot" is not one of system, user, assistant`},
		},
		{
			name: "variables not in the schema",
			dir: writeRepo(t, map[string]string{
				"p/prompt.yaml":    "name: p\nversion: 1\n" + schema + "verify:\n  command: go vet\n",
				"_partials/x.j2":   "{{ lang }}",
				"p/default.prompt": user(`{{code}} {{tool_output}} {{model}} {{model_family}} {% for i in range(3) %}{{i}}{% endfor %}{{ codee }}{% include "_partials/x.j2" %}`),
			}),
			want: []string{
				"_partials/x.j2:1: " + `variable "lang" is not in the input schema of p@1 (properties: code)`,
				"p/default.prompt:4: " + `variable "codee" is not in the input schema of p@1 (properties: code)`,
			},
		},
		{
			name: "no schema: any variable",
			dir:  repoWith(t, "", map[string]string{"default.prompt": user("{{ anything }}")}),
		},
		{
			name: "non-portable syntax",
			dir:  repoWith(t, schema, map[string]string{"default.prompt": "messages:\n  - role: user\n    content: |\n      {{ code | upper }}\n      {% set x = 1 %}\n      {{ code if code }}\n      {% macro m() %}{% endmacro %}\n      {{ code[0] }}\n"}),
			want: []string{
				"p/default.prompt:4: warning: non-portable template syntax: {{ }} with filter \"upper\"; " + portable,
				"p/default.prompt:5: warning: non-portable template syntax: {% set %}; " + portable,
				"p/default.prompt:6: warning: non-portable template syntax: {{ }} with an inline if; " + portable,
				"p/default.prompt:7: warning: non-portable template syntax: {% macro %}; " + portable,
				"p/default.prompt:8: warning: non-portable template syntax: {{ }} with attribute or item access; " + portable,
			},
		},
		{
			name: "no variant for a target",
			dir: writeRepo(t, map[string]string{
				"p/prompt.yaml":               "name: p\nversion: 2\nrequire_variant: true\nlabels: {production: 1}\n",
				"p/gpt.prompt":                "---\nmatch: [gpt-4o]\n---\n" + user("hi"),
				".versions/p/1/prompt.yaml":   "name: p\nversion: 1\n",
				".versions/p/1/claude.prompt": "---\nfamily: anthropic\n---\n" + user("hi"),
			}),
			targets: testTargets,
			want: []string{
				".versions/p/1/prompt.yaml: warning: p@1 has no variant for model gpt-4o (family openai); the default variant is missing too",
				"p/prompt.yaml: warning: p@2 has no variant for model claude-haiku-4-5 (family anthropic); require_variant is set, so the router will skip it",
			},
		},
		{
			name: "orphaned frozen versions",
			dir: writeRepo(t, map[string]string{
				"p/prompt.yaml":                "name: p\nversion: 1\n",
				"p/default.prompt":             user("hi"),
				".versions/gone/1/prompt.yaml": "name: gone\nversion: 1\n",
			}),
			want: []string{`.versions/gone: warning: frozen versions of "gone", which has no prompt folder`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lintStrings(t, tt.dir, tt.targets)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Lint:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLintFrozenCopyDiffers edits a frozen version without bumping it.
func TestLintFrozenCopyDiffers(t *testing.T) {
	dir := copyGood(t)
	if _, err := Freeze(dir, "summarize"); err != nil {
		t.Fatal(err)
	}
	if got := lintStrings(t, dir, nil); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "summarize") }) {
		t.Fatalf("freshly frozen: %v", got)
	}
	writeFile(t, filepath.Join(dir, "summarize", "default.prompt"), "messages:\n  - role: user\n    content: '{{text}}!'\n")
	want := "summarize/prompt.yaml: warning: version 1 differs from its frozen copy in " +
		filepath.Join(dir, ".versions", "summarize", "1") + "; bump version"
	got := lintStrings(t, dir, nil)
	if !slices.Contains(got, strings.ReplaceAll(want, dir+string(filepath.Separator), "")) {
		t.Errorf("Lint = %q, want it to contain %q", got, want)
	}
}

func TestLintSeverities(t *testing.T) {
	for _, p := range Lint(filepath.Join("testdata", "good"), testTargets) {
		if p.Severity != SeverityWarning {
			t.Errorf("good repository: %s has severity %q", p, p.Severity)
		}
	}
	for _, p := range Lint(filepath.Join("testdata", "bad", "cycle"), nil) {
		if p.Severity != SeverityError {
			t.Errorf("cycle: %s has severity %q", p, p.Severity)
		}
	}
}
