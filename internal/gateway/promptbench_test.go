package gateway_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/guard"
	"github.com/llmux/llmux/internal/prompts"
	"github.com/llmux/llmux/internal/sim"
)

type repoSource struct{ r *prompts.Repo }

func (s repoSource) Repo() *prompts.Repo { return s.r }

// BenchmarkPrompt measures what naming a prompt adds to a request: the
// same gateway and replayed upstream answer, with the client sending
// messages, naming the example explain-code prompt (rendered per request
// from its compiled, cached templates: a request's variables differ), and
// the same with secret redaction on (its pre-filter finds nothing in this
// code). The difference between "messages" and "prompt" is the prompt's
// cost per request.
//
//	go test -run '^$' -bench Prompt -benchmem ./internal/gateway/
func BenchmarkPrompt(b *testing.B) {
	const simKey, clientKey = "sim-bench", "sk-bench"
	s, err := sim.New(sim.Config{Keys: []sim.Key{{Key: simKey, Provider: sim.ProviderOpenAI}}})
	if err != nil {
		b.Fatal(err)
	}
	repo, err := prompts.Load("../../examples/prompts")
	if err != nil {
		b.Fatal(err)
	}
	code := strings.Repeat("func add(a, b int) int {\n\tif a < 0 && b < 0 {\n\t\treturn -(-a + -b)\n\t}\n\treturn a + b\n}\n", 20) // ~1.6 KB
	messages, _ := json.Marshal(map[string]any{"model": "bench", "max_tokens": 32, "messages": []any{
		map[string]string{"role": "system", "content": "You explain go code."},
		map[string]string{"role": "user", "content": code}}})
	named, _ := json.Marshal(map[string]any{"model": "bench", "max_tokens": 32,
		"llmux": map[string]any{"prompt": "explain-code", "variables": map[string]any{"code": code, "language": "go"}}})
	rt := recordAnswer(b, s, "Bearer "+simKey, chatBody(b, "gpt-4o-mini", false))
	det, err := guard.NewGitleaks(config.Secrets{}, ".")
	if err != nil {
		b.Fatal(err)
	}
	newGW := func(redact bool) http.Handler {
		opts := gateway.Options{
			Config:  benchConfig("http://upstream.invalid/v1", simKey, clientKey),
			Client:  &http.Client{Transport: rt},
			Logger:  slog.New(slog.DiscardHandler),
			Prompts: repoSource{repo},
		}
		if redact {
			opts.Redactor = guard.NewRedactor(det)
		}
		gw, err := gateway.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		return gw
	}
	plain, redacting := newGW(false), newGW(true)
	b.Run("messages", func(b *testing.B) { benchServe(b, plain, "Bearer "+clientKey, messages, false) })
	b.Run("prompt", func(b *testing.B) { benchServe(b, plain, "Bearer "+clientKey, named, false) })
	b.Run("messages+redact", func(b *testing.B) { benchServe(b, redacting, "Bearer "+clientKey, messages, false) })
	b.Run("prompt+redact", func(b *testing.B) { benchServe(b, redacting, "Bearer "+clientKey, named, false) })
}
