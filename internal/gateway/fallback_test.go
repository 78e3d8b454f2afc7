package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

// A prompt too long for every deployment of a route goes to the route's
// context_fallbacks (a larger-context route) instead of failing.
func TestContextFallback(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].ContextWindow = 1000
		c.Routes[0].ContextFallbacks = []string{"other"}
	})
	rec := post(env.g, "/v1/chat/completions", chat("one", 5000))
	if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" || rec.Header().Get(headerFallback) != "other" {
		t.Fatalf("%d via %q fallback %q: %s", rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerFallback), rec.Body)
	}
	// A small request still goes to the route itself.
	if rec := post(env.g, "/v1/chat/completions", chat("one", 5)); rec.Header().Get(headerDeployment) != "a" {
		t.Fatalf("small request via %q", rec.Header().Get(headerDeployment))
	}
}

const azureContentFilter = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}}`

// filteringUpstream refuses everything with Azure's content-filter 400
// when refuse is set, and answers otherwise.
func filteringUpstream(t *testing.T, refuse bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if refuse {
			w.WriteHeader(400)
			io.WriteString(w, azureContentFilter)
			return
		}
		io.WriteString(w, okChat)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestContentFilterFallback(t *testing.T) {
	for _, withFallback := range []bool{true, false} {
		cfg := &config.Config{
			MaxBodyBytes: 1 << 20,
			RateLimit:    config.RateLimit{QueueSize: 10},
			Accounts: []config.Account{
				{Name: "strict", Provider: "openai", BaseURL: filteringUpstream(t, true) + "/v1", APIKey: "k1"},
				{Name: "lenient", Provider: "openai", BaseURL: filteringUpstream(t, false) + "/v1", APIKey: "k2"},
			},
			Deployments: []config.Deployment{
				{Name: "strict", Account: "strict", Model: "m", Family: "m", ContextWindow: 128000, MaxOutput: 100},
				{Name: "lenient", Account: "lenient", Model: "m", Family: "m", ContextWindow: 128000, MaxOutput: 100},
			},
			Routes: []config.Route{
				{Name: "chat", Deployments: []string{"strict"}},
				{Name: "open", Deployments: []string{"lenient"}},
			},
			Keys: []config.Key{{Name: "k", Key: "sk-client"}},
		}
		if withFallback {
			cfg.Routes[0].ContentFilterFallbacks = []string{"open"}
		}
		g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		rec := post(g, "/v1/chat/completions", chat("chat", 5))
		switch {
		case withFallback && (rec.Code != 200 || rec.Header().Get(headerFallback) != "open"):
			t.Fatalf("with a content_filter fallback: %d fallback %q: %s", rec.Code, rec.Header().Get(headerFallback), rec.Body)
		case !withFallback && (rec.Code != 400 || !strings.Contains(rec.Body.String(), `"content_filter"`)):
			t.Fatalf("without one, the refusal must reach the client unchanged: %d %s", rec.Code, rec.Body)
		}
	}
}
