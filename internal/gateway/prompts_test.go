package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/llmux/llmux/internal/prompts"
)

// staticPrompts is a PromptSource over one loaded repository.
type staticPrompts struct{ repo *prompts.Repo }

func (s staticPrompts) Repo() *prompts.Repo { return s.repo }

// writeRepo writes files (path: content) under a temporary prompt
// repository and loads it.
func writeRepo(t testing.TB, files map[string]string) *prompts.Repo {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, err := prompts.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// explainRepo has prompt "explain" (v3, production → 3) with variants for
// gpt-4o (exact), claude-* (glob) and a default, and prompt "strict"
// (require_variant) with a claude variant and a default only.
func explainRepo(t testing.TB) *prompts.Repo { return writeRepo(t, explainFiles) }

var explainFiles = map[string]string{
	"_partials/scope.j2": `Only answer about code.`,
	"explain/prompt.yaml": `name: explain
version: 3
labels: {production: 3}
input:
  type: object
  required: [code]
  properties:
    code: {type: string}
    level: {type: integer}
`,
	"explain/gpt4.prompt": `---
variant: gpt4
match: ["gpt-4o"]
params: {max_tokens: 111, temperature: 0.1}
---
messages:
  - role: system
    content: '{% include "_partials/scope.j2" %} GPT for {{ model }}.'
  - role: user
    content: 'Explain: {{ code }}'
`,
	"explain/claude.prompt": `---
variant: claude
match: ["claude-*"]
params: {max_tokens: 222, stop: ["END"]}
---
messages:
  - role: system
    content: '{% include "_partials/scope.j2" %} Claude ({{ model_family }}).'
  - role: user
    content: '<code>{{ code }}</code>'
`,
	"explain/default.prompt": `---
variant: default
---
messages:
  - role: user
    content: 'Default: {{ code }}'
`,
	"strict/prompt.yaml": `name: strict
version: 1
require_variant: true
`,
	"strict/claude.prompt": `---
variant: claude
match: ["claude-*"]
---
messages:
  - role: user
    content: 'strict claude'
`,
	"strict/default.prompt": `---
variant: default
---
messages:
  - role: user
    content: 'strict default'
`,
}

func TestPromptRenderedForTheRoutedModel(t *testing.T) {
	up := newEchoUpstream(t)
	g := newEchoGateway(t, echoConfig(up.srv.URL), Options{Prompts: staticPrompts{explainRepo(t)}})
	tests := []struct {
		name, path, body, header string
		check                    func(t *testing.T, sent []byte)
	}{
		{
			name:   "openai client, gpt-4o: exact variant, its params, client messages after",
			path:   "/v1/chat/completions",
			body:   `{"model":"openai","llmux":{"prompt":"explain","variables":{"code":"a < b && c"}},"messages":[{"role":"user","content":"and briefly"}],"x_keep":1}`,
			header: "explain@3#gpt4",
			check: func(t *testing.T, sent []byte) {
				msgs := gjson.GetBytes(sent, "messages").Array()
				if len(msgs) != 3 || msgs[0].Get("content").Str != "Only answer about code. GPT for gpt-4o." ||
					msgs[1].Get("content").Str != "Explain: a < b && c" || msgs[2].Get("content").Str != "and briefly" {
					t.Errorf("messages = %s", gjson.GetBytes(sent, "messages").Raw)
				}
				if gjson.GetBytes(sent, "max_tokens").Int() != 111 || gjson.GetBytes(sent, "temperature").Float() != 0.1 {
					t.Errorf("params not applied: %s", sent)
				}
				if gjson.GetBytes(sent, "llmux").Exists() || gjson.GetBytes(sent, "x_keep").Int() != 1 {
					t.Errorf("llmux object must go, unknown fields stay: %s", sent)
				}
			},
		},
		{
			name:   "client max_tokens wins over the variant's",
			path:   "/v1/chat/completions",
			body:   `{"model":"openai","max_tokens":5,"llmux":{"prompt":"explain@production","variables":{"code":"x"}}}`,
			header: "explain@3#gpt4",
			check: func(t *testing.T, sent []byte) {
				if gjson.GetBytes(sent, "max_tokens").Int() != 5 {
					t.Errorf("max_tokens = %s", gjson.GetBytes(sent, "max_tokens").Raw)
				}
			},
		},
		{
			name:   "anthropic client to anthropic: glob variant, system field, stop_sequences",
			path:   "/v1/messages",
			body:   `{"model":"anthropic","llmux":{"prompt":"explain@3","variables":{"code":"x := 1"}}}`,
			header: "explain@3#claude",
			check: func(t *testing.T, sent []byte) {
				if got := gjson.GetBytes(sent, "system").Str; got != "Only answer about code. Claude (anthropic)." {
					t.Errorf("system = %q", got)
				}
				if got := gjson.GetBytes(sent, "messages.0.content").Str; got != "<code>x := 1</code>" {
					t.Errorf("first message = %q", got)
				}
				if gjson.GetBytes(sent, "max_tokens").Int() != 222 || gjson.GetBytes(sent, "stop_sequences.0").Str != "END" {
					t.Errorf("params: %s", sent)
				}
			},
		},
		{
			name:   "openai client to anthropic upstream: translated rendering",
			path:   "/v1/chat/completions",
			body:   `{"model":"anthropic","llmux":{"prompt":"explain","variables":{"code":"y"}}}`,
			header: "explain@3#claude",
			check: func(t *testing.T, sent []byte) {
				if got := gjson.GetBytes(sent, "system").Str; !strings.Contains(got, "Claude (anthropic)") {
					t.Errorf("system = %q (%s)", got, sent)
				}
			},
		},
		{
			name:   "a model without its own variant gets the default",
			path:   "/v1/chat/completions",
			body:   `{"model":"mini","llmux":{"prompt":"explain","variables":{"code":"z"}}}`,
			header: "explain@3#default",
			check: func(t *testing.T, sent []byte) {
				if got := gjson.GetBytes(sent, "messages.0.content").Str; got != "Default: z" {
					t.Errorf("message = %q", got)
				}
			},
		},
		{
			name:   "the prompt endpoint",
			path:   "/v1/prompts/explain/completions",
			body:   `{"model":"openai","variables":{"code":"w"}}`,
			header: "explain@3#gpt4",
			check: func(t *testing.T, sent []byte) {
				if got := gjson.GetBytes(sent, "messages.1.content").Str; got != "Explain: w" {
					t.Errorf("message = %q", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.requests())
			rec := post(g, tt.path, tt.body)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get(headerPrompt); got != tt.header {
				t.Errorf("%s = %q, want %q", headerPrompt, got, tt.header)
			}
			reqs := up.requests()
			if len(reqs) != before+1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs)-before)
			}
			tt.check(t, reqs[len(reqs)-1])
		})
	}
}

// A fallback to another model re-renders with that model's variant.
func TestPromptFallbackSwitchesVariant(t *testing.T) {
	up := newEchoUpstream(t)
	cfg := echoConfig(up.srv.URL)
	zero := 0 // no retry of the same deployment: the fallback serves
	for i := range cfg.Routes {
		cfg.Routes[i].Retries = &zero
	}
	g := newEchoGateway(t, cfg, Options{Prompts: staticPrompts{explainRepo(t)}})
	up.set(1) // gpt-4o fails once
	rec := post(g, "/v1/chat/completions", `{"model":"both","llmux":{"prompt":"explain","variables":{"code":"q"}}}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get(headerPrompt); got != "explain@3#claude" {
		t.Errorf("%s = %q, want the claude variant after the fallback", headerPrompt, got)
	}
	reqs := up.requests()
	if len(reqs) != 2 || !strings.Contains(string(reqs[0]), "GPT for gpt-4o") || !strings.Contains(string(reqs[1]), "Claude (anthropic)") {
		t.Errorf("upstream bodies:\n%s\n%s", reqs[0], reqs[len(reqs)-1])
	}
}

// require_variant: deployments without a variant written for them are not
// candidates; with none left the client hears why.
func TestPromptRequireVariant(t *testing.T) {
	up := newEchoUpstream(t)
	g := newEchoGateway(t, echoConfig(up.srv.URL), Options{Prompts: staticPrompts{explainRepo(t)}})
	rec := post(g, "/v1/chat/completions", `{"model":"both","llmux":{"prompt":"strict"}}`)
	if rec.Code != 200 || rec.Header().Get(headerDeployment) != "an/claude" || rec.Header().Get(headerPrompt) != "strict@1#claude" {
		t.Fatalf("status %d, deployment %q, prompt %q: %s", rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerPrompt), rec.Body)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("upstream got %d requests; gpt-4o must not be tried", n)
	}
	rec = post(g, "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"strict"}}`)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "no variant") {
		t.Errorf("status %d: %s; want 400 saying no variant", rec.Code, rec.Body)
	}
}

func TestPromptBadInput(t *testing.T) {
	up := newEchoUpstream(t)
	g := newEchoGateway(t, echoConfig(up.srv.URL), Options{Prompts: staticPrompts{explainRepo(t)}})
	tests := []struct {
		name, path, body string
		status           int
		param, contains  string
	}{
		{"missing variable", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain","variables":{}}}`, 400, "llmux.variables.code", "code"},
		{"wrong type", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain","variables":{"code":"x","level":"high"}}}`, 400, "llmux.variables.level", "level"},
		{"unknown prompt", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"nope","variables":{}}}`, 404, "llmux.prompt", "nope"},
		{"unknown label", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain@canary","variables":{"code":"x"}}}`, 404, "llmux.prompt", "canary"},
		{"unknown version", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain@9","variables":{"code":"x"}}}`, 404, "llmux.prompt", "9"},
		{"no prompt name", "/v1/chat/completions", `{"model":"openai","llmux":{"variables":{}}}`, 400, "llmux.prompt", "required"},
		{"misspelled field", "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain","variabels":{}}}`, 400, "llmux", "variabels"},
		{"llmux not an object", "/v1/messages", `{"model":"anthropic","llmux":"explain"}`, 400, "", "object"}, // Anthropic errors name no param
		{"endpoint with llmux", "/v1/prompts/explain/completions", `{"model":"openai","llmux":{}}`, 400, "llmux", "path"},
		{"endpoint not an object", "/v1/prompts/explain/completions", `[1]`, 400, "", "JSON object"},
		{"messages still required without a prompt", "/v1/chat/completions", `{"model":"openai"}`, 400, "messages", "messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(g, tt.path, tt.body)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("status %d: %s; want %d containing %q", rec.Code, rec.Body, tt.status, tt.contains)
			}
			var e struct {
				Error struct {
					Param *string `json:"param"`
				} `json:"error"`
			}
			json.Unmarshal(rec.Body.Bytes(), &e)
			if tt.param != "" && (e.Error.Param == nil || *e.Error.Param != tt.param) {
				t.Errorf("param = %v, want %q (%s)", e.Error.Param, tt.param, rec.Body)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("bad requests reached the upstream %d times", n)
	}
}

func TestPromptsNotConfigured(t *testing.T) {
	up := newEchoUpstream(t)
	g := newEchoGateway(t, echoConfig(up.srv.URL), Options{})
	rec := post(g, "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain"}}`)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "no prompt repository") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

// FuzzPromptRequest: whatever names a prompt, with whatever variables,
// messages and secrets, the gateway answers below 500 in the client's
// format, never panics and never shows a secret it redacted upstream.
func FuzzPromptRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"both","llmux":{"prompt":"explain","variables":{"code":"x"}}}`,
		`{"model":"openai","llmux":{"prompt":"explain@3","variables":{"code":"AKIA` + `Z7XQ4HN2LK5MTR6W"}},"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"anthropic","max_tokens":3,"llmux":{"prompt":"strict"},"system":[{"type":"text","text":"s"}]}`,
		`{"model":"mini","llmux":{"prompt":"explain","variables":{"code":{"nested":[1,2]}}}}`,
		`{"model":"openai","llmux":{"prompt":"explain@","variables":null}}`,
		`{"model":"openai","llmux":{"prompt":"@@@"},"messages":{}}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	up := newEchoUpstream(f)
	r, err := testRedactor()
	if err != nil {
		f.Fatal(err)
	}
	repo := explainRepo(f)
	g := newEchoGateway(f, echoConfig(up.srv.URL), Options{Prompts: staticPrompts{repo}, Redactor: r})
	f.Fuzz(func(t *testing.T, body string, anthropic bool) {
		path := "/v1/chat/completions"
		if anthropic {
			path = "/v1/messages"
		}
		rec := post(g, path, body)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != 200 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error body is not JSON: %s", rec.Body)
		}
	})
}

// appendJSONString encodes like encoding/json without HTML escaping.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a < b && c", "quote \" back \\ nl \n tab \t", "\x00\x1f\x7f", "\u2028\u2029", "bad \xff utf8", "é中𝄞"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString(nil, s)
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if want := strings.TrimSuffix(b.String(), "\n"); string(got) != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
