package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/guard"
)

// echoUpstream answers OpenAI chat and Anthropic messages requests with
// a text of its choosing — by default the last message's text, so a test
// sees what the model saw — streamed in pieces of three bytes, so that
// placeholders are cut between events. It records every body and can
// fail the next requests.
type echoUpstream struct {
	mu     sync.Mutex
	bodies [][]byte
	// answers, when set, are the answers to the next requests in turn.
	answers []string
	// fail is how many of the next requests get a 500.
	fail int
	srv  *httptest.Server
}

func newEchoUpstream(t testing.TB) *echoUpstream {
	u := &echoUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *echoUpstream) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req struct {
		Stream   bool `json:"stream"`
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal(b, &req)
	u.mu.Lock()
	u.bodies = append(u.bodies, b)
	failing := u.fail > 0
	if failing {
		u.fail--
	}
	answer := ""
	if len(u.answers) > 0 {
		answer, u.answers = u.answers[0], u.answers[1:]
	} else if n := len(req.Messages); n > 0 {
		answer = messageText(req.Messages[n-1].Content)
	}
	u.mu.Unlock()
	if failing {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":{"message":"boom","type":"server_error"}}`)
		return
	}
	anthropicAPI := strings.HasSuffix(r.URL.Path, "/messages")
	switch {
	case anthropicAPI && req.Stream:
		writeAnthropicStream(w, answer)
	case anthropicAPI:
		writeJSON(w, map[string]any{"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
			"content": []any{map[string]any{"type": "text", "text": answer}}, "stop_reason": "end_turn", "stop_sequence": nil,
			"usage": map[string]int{"input_tokens": 10, "output_tokens": 5}})
	case req.Stream:
		writeOpenAIStream(w, answer)
	default:
		writeJSON(w, map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": answer}, "finish_reason": "stop"}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
	}
}

// messageText is a message content's text: a string, or its text parts.
func messageText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func pieces(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func writeOpenAIStream(w http.ResponseWriter, answer string) {
	w.Header().Set("Content-Type", "text/event-stream")
	event := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	event(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for _, p := range pieces(answer, 3) {
		event(chunk(map[string]any{"content": p}, nil))
	}
	event(chunk(map[string]any{}, "stop"))
	event(map[string]any{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": []any{},
		"usage": map[string]int{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
	io.WriteString(w, "data: [DONE]\n\n")
}

func writeAnthropicStream(w http.ResponseWriter, answer string) {
	w.Header().Set("Content-Type", "text/event-stream")
	event := func(name string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	}
	event("message_start", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_1", "type": "message",
		"role": "assistant", "model": "claude-x", "content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": 10, "output_tokens": 1}}})
	event("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	for _, p := range pieces(answer, 3) {
		event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
	}
	event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	event("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": 5}})
	event("message_stop", map[string]any{"type": "message_stop"})
}

func (u *echoUpstream) requests() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.bodies...)
}

func (u *echoUpstream) set(fail int, answers ...string) {
	u.mu.Lock()
	u.fail, u.answers = fail, answers
	u.mu.Unlock()
}

// echoConfig is an OpenAI and an Anthropic account on the same echo
// upstream: deployments oa/gpt (gpt-4o), oa/mini (gpt-4o-mini) and
// an/claude (claude-x); routes openai, anthropic, both (gpt then claude,
// priority) and mini.
func echoConfig(url string) *config.Config {
	dep := func(name, acc, model string) config.Deployment {
		return config.Deployment{Name: name, Account: acc, Model: model, Family: model, ContextWindow: 128000, MaxOutput: 4096, Weight: 1}
	}
	return &config.Config{
		MaxBodyBytes: 1 << 20,
		Accounts: []config.Account{
			{Name: "oa", Provider: config.ProviderOpenAI, BaseURL: url + "/v1", APIKey: "sk-upstream"},
			{Name: "an", Provider: config.ProviderAnthropic, BaseURL: url, APIKey: "sk-ant-upstream"},
		},
		Deployments: []config.Deployment{dep("oa/gpt", "oa", "gpt-4o"), dep("oa/mini", "oa", "gpt-4o-mini"), dep("an/claude", "an", "claude-x")},
		Routes: []config.Route{
			{Name: "openai", Deployments: []string{"oa/gpt"}, MaxAttempts: 1},
			{Name: "anthropic", Deployments: []string{"an/claude"}, MaxAttempts: 1},
			{Name: "both", Deployments: []string{"oa/gpt", "an/claude"}, Strategy: config.StrategyPriority, MaxAttempts: 2},
			{Name: "mini", Deployments: []string{"oa/mini"}, MaxAttempts: 1},
		},
		Keys: []config.Key{{Name: "k", Key: "sk-client"}},
	}
}

// newEchoGateway builds a gateway over cfg with opts' prompts, guardrails
// and redactor.
func newEchoGateway(t testing.TB, cfg *config.Config, opts Options) *Gateway {
	t.Helper()
	opts.Config = cfg
	opts.Logger = slog.New(slog.DiscardHandler)
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// testRedactor is the real gitleaks detector, loaded once per test binary
// (it takes a fraction of a second).
var testRedactor = sync.OnceValues(func() (*guard.Redactor, error) {
	d, err := guard.NewGitleaks(config.Secrets{}, ".")
	if err != nil {
		return nil, err
	}
	return guard.NewRedactor(d), nil
})
