package prompts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoadBad loads each repository under testdata/bad and checks every
// problem reported, with its file and line. Paths are relative to the
// case's folder.
func TestLoadBad(t *testing.T) {
	want := map[string][]string{
		"bad-content": {
			"p/default.prompt:2: messages[0].content: required",
			"p/default.prompt:4: messages[1].content: want a string",
		},
		"bad-family": {
			"p/default.prompt:2: family: \"google\" is not \"openai\" or \"anthropic\"",
		},
		"bad-guardrails": {
			"p/prompt.yaml:3: guardrails: want a list of strings, got \"secrets\"",
			"p/prompt.yaml:4: require_variant: want true or false, got \"maybe\"",
		},
		"bad-labels": {
			"p/prompt.yaml:4: labels: \"7\" is not a valid label (a letter, then letters, digits, '.', '_', '-')",
			"p/prompt.yaml:5: labels.prod: want an integer, got \"zero\"",
			"p/prompt.yaml:6: labels.canary: want a version >= 1, got 0",
		},
		"bad-match": {
			"p/default.prompt:2: match[1]: bad pattern \"[abc\": syntax error in pattern",
		},
		"bad-params": {
			"p/default.prompt:2: params: want a mapping, e.g. {max_tokens: 1500, temperature: 0.2}",
		},
		"bad-role": {
			"p/default.prompt:2: messages[0].role: \"robot\" is not one of system, user, assistant",
		},
		"bad-schema": {
			"p/prompt.yaml:4: input: invalid JSON Schema: at /type: value must be one of 'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'",
		},
		"bad-verify": {
			"p/prompt.yaml:4: verify.command: empty",
			"p/prompt.yaml:5: verify.variable: \"not ok\" is not an identifier",
			"p/prompt.yaml:6: verify.timeout: \"soon\" is not a duration (e.g. 90s, 2m)",
			"p/prompt.yaml:7: verify: unknown key \"retries\" (known: command, variable, timeout)",
		},
		"bad-version": {
			"p/prompt.yaml:2: version: want an integer >= 1, got 0",
			"q/prompt.yaml:2: version: want an integer, got \"seven\"",
			"r/prompt.yaml:1: name: required",
			"r/prompt.yaml:1: version: required (an integer >= 1)",
		},
		"cycle": {
			"_partials/b.j2:3: template: include cycle: _partials/a.j2 -> _partials/b.j2 -> _partials/a.j2",
		},
		"duplicate-variant": {
			"p/b.prompt: variant \"x\" is also defined in a.prompt",
		},
		"frozen-mismatch": {
			".versions/p/2/prompt.yaml:1: name: \"q\" in a frozen copy of \"p\"",
			".versions/p/2/prompt.yaml:2: version: 1 in the frozen copy of version 2",
			".versions/p/latest: frozen version folder \"latest\": want a version number",
		},
		"include-outside": {
			"p/default.prompt:3: template: include \"../secret.txt\": want a path under _partials/, e.g. _partials/scope.j2",
		},
		"include-variable": {
			"p/default.prompt:3: template: include takes one quoted path, e.g. {% include \"_partials/scope.j2\" %}",
		},
		"label-nowhere": {
			"p/prompt.yaml:5: labels.production: version 3 is neither the current version (1) nor frozen (no folder .versions/p/3)",
		},
		"missing-manifest": {
			"p/prompt.yaml: missing: every prompt folder needs a prompt.yaml (folders starting with _ or . are not prompts)",
		},
		"missing-partial": {
			"p/default.prompt:4: template: missing partial \"_partials/nope.j2\" (no file _partials/nope.j2)",
		},
		"name-mismatch": {
			"p/prompt.yaml:1: name: \"q\" does not match its folder \"p\"",
		},
		"no-body": {
			"p/default.prompt: no messages: want a body with `messages:` after the front matter",
		},
		"no-messages": {
			"p/default.prompt:1: messages: empty",
		},
		"no-variants": {
			"p/prompt.yaml: no variants: want at least one *.prompt file beside prompt.yaml",
		},
		"partial-syntax": {
			"_partials/a.j2:2: template: '}}' expected here",
		},
		"refused": {
			"p/default.prompt:3: template: {% extends %} is not supported in prompt templates",
		},
		"syntax": {
			"p/default.prompt:6: template: Unexpected EOF, expected tag elif or else or endif.",
		},
		"third-document": {
			"p/default.prompt:8: a third YAML document; want front matter and one body",
		},
		"unknown-filter": {
			"p/default.prompt:5: template: unknown filter \"nofilter\"",
		},
		"unknown-key-body": {
			"p/default.prompt:4: body: unknown key \"temperature\" (known: messages)",
		},
		"unknown-key-front": {
			"p/default.prompt:3: front matter: unknown key \"modell\" (known: variant, match, family, params)",
		},
		"unknown-key-manifest": {
			"p/prompt.yaml:3: prompt.yaml: unknown key \"labelz\" (known: name, version, description, input, labels, require_variant, guardrails, verify)",
		},
		"unknown-key-message": {
			"p/default.prompt:4: messages[0]: unknown key \"name\" (known: role, content)",
		},
		"yaml-syntax": {
			"p/prompt.yaml:1: yaml: did not find expected ',' or ']'",
		},
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := want[e.Name()]; !ok {
			t.Errorf("testdata/bad/%s has no expected problems in this table", e.Name())
		}
	}
	for name, problems := range want {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "bad", name)
			r, err := Load(dir)
			if r != nil {
				t.Errorf("Load returned a Repo and %v", err)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load error = %v, want a *LoadError", err)
			}
			var got []string
			for _, p := range le.Problems {
				if p.Severity != SeverityError {
					t.Errorf("problem %s has severity %q", p, p.Severity)
				}
				got = append(got, strings.ReplaceAll(p.String(), dir+string(filepath.Separator), ""))
			}
			if !slices.Equal(got, problems) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(problems, "\n"))
			}
			if !strings.Contains(err.Error(), le.Problems[0].String()) {
				t.Errorf("Error() = %q does not list %q", err.Error(), le.Problems[0])
			}
		})
	}
}

// TestLoadGood checks what Load reads from the good repository: prompts,
// versions (current and frozen), labels and the fields of prompt.yaml and
// the variant files.
func TestLoadGood(t *testing.T) {
	r := loadGood(t)
	var names []string
	for _, p := range r.Prompts() {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"explain-code", "summarize"}) {
		t.Fatalf("Prompts() = %v", names)
	}
	p := r.Prompts()[0]
	if p.Current != 7 || p.Description != "Explain a compiler error in the user's code." {
		t.Errorf("explain-code: current %d, description %q", p.Current, p.Description)
	}
	if p.Labels["production"] != 6 || p.Labels["staging"] != 7 || len(p.Labels) != 2 {
		t.Errorf("labels = %v", p.Labels)
	}
	v6, v7 := p.Versions[6], p.Versions[7]
	if v6 == nil || v7 == nil || len(p.Versions) != 2 {
		t.Fatalf("versions = %v", p.Versions)
	}
	if !v6.Frozen || v7.Frozen {
		t.Errorf("frozen: v6 %v, v7 %v; want true, false", v6.Frozen, v7.Frozen)
	}
	if v7.Ref() != "explain-code@7" || v6.Ref() != "explain-code@6" {
		t.Errorf("refs %q %q", v7.Ref(), v6.Ref())
	}
	if got := variantNames(v7); !slices.Equal(got, []string{"claude", "default", "gpt35", "gpt4"}) {
		t.Errorf("v7 variants = %v (want file-name order)", got)
	}
	if got := variantNames(v6); !slices.Equal(got, []string{"claude", "default"}) {
		t.Errorf("v6 variants = %v", got)
	}
	if !slices.Equal(v7.Guardrails, []string{"secrets", "json-schema"}) || v7.RequireVariant {
		t.Errorf("guardrails %v, require_variant %v", v7.Guardrails, v7.RequireVariant)
	}
	wantVerify := Verify{Command: []string{"go", "build", "./..."}, Variable: "tool_output", Timeout: 90 * time.Second}
	if v7.Verify == nil || !slices.Equal(v7.Verify.Command, wantVerify.Command) || v7.Verify.Variable != wantVerify.Variable || v7.Verify.Timeout != wantVerify.Timeout {
		t.Errorf("verify = %+v, want %+v", v7.Verify, wantVerify)
	}
	if v6.Verify != nil {
		t.Errorf("v6 verify = %+v, want nil", v6.Verify)
	}
	if got := v7.Variables(); !slices.Equal(got, []string{"code", "files", "language", "tool_output"}) {
		t.Errorf("Variables() = %v", got)
	}
	gpt4 := v7.Variants[3]
	if !slices.Equal(gpt4.Match, []string{"gpt-4o", "gpt-4.1", "gpt-4o-*"}) || gpt4.Family != "" {
		t.Errorf("gpt4 match %v family %q", gpt4.Match, gpt4.Family)
	}
	if gpt4.Params["max_tokens"] != 2000 || gpt4.Params["temperature"] != 0.1 || !slices.Equal(gpt4.Params["stop"].([]any), []any{"</answer>"}) {
		t.Errorf("gpt4 params = %v", gpt4.Params)
	}
	if want := filepath.Join("testdata", "good", "explain-code", "gpt4.prompt"); gpt4.File != want {
		t.Errorf("gpt4 file %q, want %q", gpt4.File, want)
	}
	if claude := v7.Variants[0]; claude.Family != FamilyAnthropic {
		t.Errorf("claude family %q", claude.Family)
	}
	if got := r.Prompts()[1].Versions[1].Variables(); got != nil {
		t.Errorf("summarize has no schema; Variables() = %v", got)
	}
}

// TestLoadSkipsNonPrompts checks that folders starting with _ or . and
// stray files are not prompts.
func TestLoadSkipsNonPrompts(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"p/prompt.yaml":      "name: p\nversion: 1\n",
		"p/default.prompt":   "messages:\n  - role: user\n    content: hi\n",
		"p/README.md":        "notes",
		"_drafts/x.prompt":   "not yaml: [",
		".git/config":        "x",
		"notes.txt":          "x",
		".versions/p/.tmp/x": "half-written",
	})
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Prompts(); len(ps) != 1 || ps[0].Name != "p" {
		t.Errorf("Prompts() = %v", ps)
	}
}

func TestLoadMissingDir(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 || !strings.Contains(le.Problems[0].Message, "read prompts directory") {
		t.Errorf("err = %v", err)
	}
}

func variantNames(v *Version) []string {
	var out []string
	for _, vt := range v.Variants {
		out = append(out, vt.Name)
	}
	return out
}
