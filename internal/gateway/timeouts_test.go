package gateway

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/sim"
)

// timeoutEnv is a gateway over a simulator that runs in real time with
// tiny latencies, so injected delays are real.
func timeoutEnv(t *testing.T, faults []sim.Fault, to config.Timeouts) *Gateway {
	t.Helper()
	s, err := sim.New(sim.Config{Seed: 1, TimeScale: 1,
		Latency: sim.Latency{TTFTMedian: time.Millisecond, TTFTP99: 2 * time.Millisecond, TTFTMax: 3 * time.Millisecond, TokensPerSecond: 1e6},
		Keys:    []sim.Key{{Key: "sim-a", Provider: "openai"}, {Key: "sim-b", Provider: "openai"}},
		Faults:  faults})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	dep := func(name string) config.Deployment {
		return config.Deployment{Name: name, Account: name, Model: "gpt-4o-mini", Family: "gpt-4o-mini", ContextWindow: 128000, MaxOutput: 4096}
	}
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		RateLimit:    config.RateLimit{QueueSize: 10},
		Accounts: []config.Account{
			{Name: "a", Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "sim-a"},
			{Name: "b", Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "sim-b"},
		},
		Deployments: []config.Deployment{dep("a"), dep("b")},
		Routes:      []config.Route{{Name: "chat", Deployments: []string{"a", "b"}}},
		Keys:        []config.Key{{Name: "k", Key: "sk-client"}},
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	g.cfg.Routes[0].Timeouts = to
	return g
}

// A first token later than the first-token timeout moves the request on,
// before the client saw a byte.
func TestFirstTokenTimeoutFailsOver(t *testing.T) {
	for _, stream := range []bool{false, true} {
		g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 10 * time.Second}},
			config.Timeouts{FirstToken: 200 * time.Millisecond})
		body := `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = `{"model":"chat","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		}
		for i := 0; i < 2; i++ { // one of the two starts on the slow deployment
			start := time.Now()
			rec := post(g, "/v1/chat/completions", body)
			if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" {
				t.Fatalf("stream=%v request %d: %d via %q: %s", stream, i, rec.Code, rec.Header().Get(headerDeployment), rec.Body)
			}
			if strings.Contains(rec.Body.String(), `"error"`) {
				t.Fatalf("the client saw the timeout: %s", rec.Body)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("the first-token timeout did not cut the slow attempt")
			}
		}
	}
}

// A stream that stalls after its first token ends with an error event in
// the client's format once the chunk gap is exceeded — never a hang.
func TestChunkGapTimeoutEndsStream(t *testing.T) {
	g := timeoutEnv(t, []sim.Fault{{Kind: "stall", Rate: 1, AfterTokens: 2}}, config.Timeouts{ChunkGap: 200 * time.Millisecond})
	rec := post(g, "/v1/chat/completions", `{"model":"chat","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"tell me more"}]}`)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `data: {"error":`) || !strings.Contains(body, "chunk-gap") || strings.Contains(body, "[DONE]") {
		t.Fatalf("stream did not end with a chunk-gap error event:\n%s", body)
	}
}

func TestTotalTimeout(t *testing.T) {
	g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Delay: 10 * time.Second}}, config.Timeouts{Total: 150 * time.Millisecond})
	start := time.Now()
	rec := post(g, "/v1/chat/completions", `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 502 || !strings.Contains(rec.Body.String(), "total timeout") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("total timeout did not cut the attempts")
	}
}

func TestTimeoutsMerge(t *testing.T) {
	route := config.Timeouts{FirstToken: time.Second, Total: time.Minute}
	dep := config.Timeouts{FirstToken: 2 * time.Second, ChunkGap: 3 * time.Second}
	got := route.Merge(dep)
	want := config.Timeouts{FirstToken: 2 * time.Second, ChunkGap: 3 * time.Second, Total: time.Minute}
	if got != want {
		t.Fatalf("Merge = %+v, want %+v", got, want)
	}
}

// A route's deadline bounds the whole chain: when no deployment answers in
// time the client gets 504 in its own format, promptly.
func TestRouteDeadline(t *testing.T) {
	g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Delay: 10 * time.Second}}, config.Timeouts{})
	g.cfg.Routes[0].Deadline = 200 * time.Millisecond
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		start := time.Now()
		rec := post(g, path, `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != 504 || !strings.Contains(rec.Body.String(), "deadline") {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		if path == "/v1/messages" && !strings.Contains(rec.Body.String(), `"type":"error"`) {
			t.Fatalf("not in Anthropic's format: %s", rec.Body)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the deadline did not cut the chain")
		}
	}
}

func TestRetryBackoffStopsWithContext(t *testing.T) {
	g := timeoutEnv(t, nil, config.Timeouts{})
	g.cfg.Routes[0].RetryBackoff = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.backoff(ctx, "chat", 1); err == nil {
		t.Fatal("backoff ignored a cancelled context")
	}
	if err := g.backoff(context.Background(), "chat", 0); err != nil {
		t.Fatal("the first attempt must not back off")
	}
}
