package prompts

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// render loads dir, resolves ref, selects for model/family and renders.
func render(t *testing.T, dir, ref, model, family string, vars map[string]any) ([]Message, error) {
	t.Helper()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	vt, why := v.Select(model, family)
	if vt == nil {
		t.Fatal(why)
	}
	return vt.Render(vars, model, family)
}

func TestRender(t *testing.T) {
	good := filepath.Join("testdata", "good")
	code := `if a < b && c { return "q" }`
	tests := []struct {
		name          string
		dir           string
		ref           string
		model, family string
		vars          map[string]any
		want          []Message
	}{
		{
			name: "no HTML escaping, partials, model_family branch (anthropic)",
			dir:  good, ref: "explain-code@7", model: "claude-haiku-4-5", family: FamilyAnthropic,
			vars: map[string]any{"code": code, "language": "Go"},
			want: []Message{
				{"system", "Only answer questions about code and tooling in the user's project.\nWrap code in <code> tags.\n" +
					"If the answer is not in the provided context or tool output, reply exactly \"I don't know\".\n" +
					"You explain compiler errors in Go code."},
				{"user", "<code>" + code + "</code>\n"},
			},
		},
		{
			name: "model injected, model_family branch (openai), three messages",
			dir:  good, ref: "explain-code@7", model: "gpt-4o", family: FamilyOpenAI,
			vars: map[string]any{"code": code},
			want: []Message{
				{"system", "Only answer questions about code and tooling in the user's project.\nUse fenced code blocks.\n" +
					"If the answer is not in the provided context or tool output, reply exactly \"I don't know\".\n" +
					"You are running on gpt-4o."},
				{"user", "Explain this code:\n" + code},
				{"assistant", "Let me look at the code."},
			},
		},
		{
			name: "optional variable given; for loop over a list",
			dir:  good, ref: "explain-code@7", model: "gpt-3.5-turbo", family: FamilyOpenAI,
			vars: map[string]any{"code": "x := 1", "files": []any{"a.go", "b.go"}},
			want: []Message{
				{"system", "Only answer questions about code and tooling in the user's project.\nUse fenced code blocks.\n" +
					"If the answer is not in the provided context or tool output, reply exactly \"I don't know\".\nKeep answers short."},
				{"user", "File 1: a.go\nFile 2: b.go\nx := 1"},
			},
		},
		{
			name: "frozen version renders its frozen partial",
			dir:  good, ref: "explain-code", model: "gpt-4o", family: FamilyOpenAI,
			vars: map[string]any{"code": "<x>"},
			want: []Message{
				{"system", "Version 6 scope: answer only questions about code."},
				{"user", "v6: <x>"},
			},
		},
		{
			name: "the caller's model wins over the injected one",
			dir:  repoWith(t, "", map[string]string{"default.prompt": "messages:\n  - role: user\n    content: '{{model}}/{{model_family}}'\n"}),
			ref:  "p", model: "gpt-4o", family: FamilyOpenAI,
			vars: map[string]any{"model": "mine"},
			want: []Message{{"user", "mine/openai"}},
		},
		{
			name: "set stays inside its message and its partial",
			dir: writeRepo(t, map[string]string{
				"p/prompt.yaml":    "name: p\nversion: 1\n",
				"_partials/set.j2": "{% set y = 'inner' %}{{ y }}",
				"p/default.prompt": "messages:\n  - role: system\n    content: \"{% set x = 'one' %}{{ x }}\"\n  - role: user\n    content: \"{{ x is defined }} {% include '_partials/set.j2' %} {{ y is defined }}\"\n",
			}),
			ref: "p", model: "m", family: "",
			want: []Message{{"system", "one"}, {"user", "False inner False"}},
		},
		{
			name: "non-string values and Jinja whitespace control",
			dir:  repoWith(t, "", map[string]string{"default.prompt": "messages:\n  - role: user\n    content: |\n      n={{ n }}\n      {%- for x in xs %} {{ x }}{% endfor %}\n      {% if flag %}yes{% endif %}\n"}),
			ref:  "p", model: "m", family: "",
			vars: map[string]any{"n": 3, "xs": []any{1.5, "b"}, "flag": true},
			want: []Message{{"user", "n=3 1.5 b\nyes"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Sorted(maps.Keys(tt.vars))
			got, err := render(t, tt.dir, tt.ref, tt.model, tt.family, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Render =\n%q\nwant\n%q", got, tt.want)
			}
			if after := slices.Sorted(maps.Keys(tt.vars)); !slices.Equal(after, before) {
				t.Errorf("Render changed the keys of vars: %v, was %v", after, before)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	good := filepath.Join("testdata", "good")
	inPartial := writeRepo(t, map[string]string{
		"p/prompt.yaml":      "name: p\nversion: 1\n",
		"_partials/outer.j2": "outer\n{% for f in files %}{% include '_partials/inner.j2' %}{% endfor %}",
		"_partials/inner.j2": "one\ntwo {{ f }} {{ missing }}\n",
		"p/default.prompt":   "messages:\n  - role: system\n    content: |\n      head\n      {% include '_partials/outer.j2' %}\n",
	})
	tests := []struct {
		name     string
		dir, ref string
		model    string
		vars     map[string]any
		file     string // relative to dir
		line     int
		variable string
		msg      string
	}{
		{
			name: "missing variable", dir: good, ref: "explain-code@7", model: "gpt-4o",
			vars: map[string]any{}, file: "explain-code/gpt4.prompt", line: 16, variable: "code",
			msg: `undefined variable "code"`,
		},
		{
			name: "missing variable in a condition", dir: repoWith(t, "", map[string]string{"default.prompt": "messages:\n  - role: user\n    content: |\n      a\n      {% if debug %}x{% endif %}\n"}),
			ref: "p", model: "m", vars: nil, file: "p/default.prompt", line: 5, variable: "debug",
			msg: `undefined variable "debug"`,
		},
		{
			name: "missing variable in a nested partial inside a loop", dir: inPartial, ref: "p", model: "m",
			vars: map[string]any{"files": []any{"a.go"}}, file: "_partials/inner.j2", line: 2, variable: "missing",
			msg: `undefined variable "missing"`,
		},
		{
			name: "missing attribute is not a missing variable", dir: repoWith(t, "", map[string]string{"default.prompt": "messages:\n  - role: user\n    content: '{{ user.name }}'\n"}),
			ref: "p", model: "m", vars: map[string]any{"user": map[string]any{"id": 1}}, file: "p/default.prompt", line: 3,
			msg: "attribute 'name' not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := render(t, tt.dir, tt.ref, tt.model, FamilyOpenAI, tt.vars)
			if err == nil {
				t.Fatalf("Render = %q, want an error", msgs)
			}
			var re *RenderError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *RenderError", err, err)
			}
			if want := filepath.Join(tt.dir, filepath.FromSlash(tt.file)); re.File != want || re.Line != tt.line {
				t.Errorf("at %s:%d, want %s:%d", re.File, re.Line, want, tt.line)
			}
			if re.Variable != tt.variable {
				t.Errorf("Variable = %q, want %q", re.Variable, tt.variable)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), fmt.Sprintf("%s:%d", re.File, re.Line)) {
				t.Errorf("Error() = %q, want file:line and %q", err, tt.msg)
			}
			var ve *VarError
			if got := errors.As(err, &ve); got != (tt.variable != "") {
				t.Errorf("errors.As(*VarError) = %v, want %v", got, tt.variable != "")
			} else if got && ve.Variable != tt.variable {
				t.Errorf("VarError.Variable = %q", ve.Variable)
			}
		})
	}
}

// TestRenderConcurrent renders one compiled variant from many goroutines;
// run with -race.
func TestRenderConcurrent(t *testing.T) {
	v, err := loadGood(t).Resolve("explain-code@7")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				code := fmt.Sprintf("code %d/%d", i, j)
				for _, model := range []string{"gpt-4o", "claude-haiku-4-5", "gpt-3.5-turbo"} {
					family := FamilyOpenAI
					if strings.HasPrefix(model, "claude") {
						family = FamilyAnthropic
					}
					vt, _ := v.Select(model, family)
					msgs, err := vt.Render(map[string]any{"code": code, "files": []any{}}, model, family)
					if err != nil {
						t.Error(err)
						return
					}
					if last := msgs[len(msgs)-1].Content; model != "gpt-4o" && !strings.Contains(last, code) {
						t.Errorf("%s: last message %q lacks %q", model, last, code)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
