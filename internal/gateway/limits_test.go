package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/sim"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitsEnv is a gateway over the simulator with two OpenAI deployments
// (a, b) and one Anthropic (c), limits and routes set by the test.
type limitsEnv struct {
	g     *Gateway
	sim   *sim.Server
	clock *fakeClock
}

func newLimitsEnv(t *testing.T, mutate func(*config.Config)) *limitsEnv {
	t.Helper()
	s, err := sim.New(sim.Config{Seed: 1, Keys: []sim.Key{
		{Key: "sim-a", Provider: "openai"}, {Key: "sim-b", Provider: "openai"}, {Key: "sim-c", Provider: "anthropic"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	dep := func(name, acc, model string) config.Deployment {
		return config.Deployment{Name: name, Account: acc, Model: model, Family: model, ContextWindow: 128000, MaxOutput: 4096}
	}
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		AdminKey:     "admin-secret",
		RateLimit:    config.RateLimit{Backend: "memory", Replicas: 1, QueueSize: 100},
		Tiers:        []string{"pro", "free"},
		Accounts: []config.Account{
			{Name: "a", Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "sim-a"},
			{Name: "b", Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "sim-b"},
			{Name: "c", Provider: "anthropic", BaseURL: srv.URL, APIKey: "sim-c"},
		},
		Deployments: []config.Deployment{dep("a", "a", "gpt-4o-mini"), dep("b", "b", "gpt-4o-mini"), dep("c", "c", "claude-haiku-4-5")},
		Routes: []config.Route{
			{Name: "one", Deployments: []string{"a"}},
			{Name: "two", Deployments: []string{"a", "b"}},
			{Name: "other", Deployments: []string{"b"}},
			{Name: "claude", Deployments: []string{"c"}},
		},
		Keys: []config.Key{{Name: "k", Key: "sk-client", Tier: "pro"}},
	}
	mutate(cfg)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Now: clock.now, Limiter: ratelimit.NewMemory(clock.now)})
	if err != nil {
		t.Fatal(err)
	}
	return &limitsEnv{g: g, sim: s, clock: clock}
}

func chat(route string, maxTokens int) string {
	return `{"model":"` + route + `","max_tokens":` + strconv.Itoa(maxTokens) + `,"messages":[{"role":"user","content":"hello there"}]}`
}

func TestDeploymentLimitRefusesWith429AndRetryAfter(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 2, TPM: 100000}
		c.Routes[0].MaxWait = 0
	})
	for i := 0; i < 2; i++ {
		if rec := post(env.g, "/v1/chat/completions", chat("one", 10)); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post(env.g, "/v1/chat/completions", chat("one", 10))
	if rec.Code != 429 {
		t.Fatalf("third request: %d, want 429: %s", rec.Code, rec.Body)
	}
	// 2 RPM refills one request every 30 s.
	if ra := rec.Header().Get("Retry-After"); ra != "30" {
		t.Fatalf("Retry-After = %q, want 30", ra)
	}
	if !strings.Contains(rec.Body.String(), `"rate_limit_exceeded"`) {
		t.Fatalf("body %s", rec.Body)
	}
	if st := env.sim.Stats(); st.Totals.RateLimited != 0 {
		t.Fatalf("the simulator sent %d 429s; llmux must refuse before the provider does", st.Totals.RateLimited)
	}
	env.clock.advance(30 * time.Second)
	if rec := post(env.g, "/v1/chat/completions", chat("one", 10)); rec.Code != 200 {
		t.Fatalf("after refill: %d %s", rec.Code, rec.Body)
	}
}

func TestSpillsToDeploymentWithHeadroom(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Deployments[1].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Routes[1].MaxWait = 0
	})
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		rec := post(env.g, "/v1/chat/completions", chat("two", 10))
		if rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		seen[rec.Header().Get(headerDeployment)] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("served by %v, want both deployments", seen)
	}
	if rec := post(env.g, "/v1/chat/completions", chat("two", 10)); rec.Code != 429 {
		t.Fatalf("both exhausted: %d", rec.Code)
	}
}

func TestRequestLargerThanEveryLimitIs400(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 100, TPM: 1000}
	})
	rec := post(env.g, "/v1/chat/completions", chat("one", 5000))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "per-minute limit") || !strings.Contains(rec.Body.String(), "1000") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestFallbackRouteWhenNoHeadroom(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Routes[0].MaxWait = 0
		c.Routes[0].Fallbacks = []string{"other"}
	})
	post(env.g, "/v1/chat/completions", chat("one", 10))
	rec := post(env.g, "/v1/chat/completions", chat("one", 10))
	if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" || rec.Header().Get(headerFallback) != "other" {
		t.Fatalf("%d deployment %q fallback %q: %s", rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerFallback), rec.Body)
	}
}

func TestKeyLimits(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Keys[0].Limits = config.Limits{RPM: 1}
	})
	if rec := post(env.g, "/v1/chat/completions", chat("two", 10)); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec := post(env.g, "/v1/chat/completions", chat("two", 10))
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "key is over its own rate limit") || rec.Header().Get("Retry-After") != "60" {
		t.Fatalf("%d retry-after %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// A queued request is served once capacity returns, within max_wait.
func TestQueuedRequestServedWhenCapacityReturns(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Routes[0].MaxWait = time.Hour
	})
	post(env.g, "/v1/chat/completions", chat("one", 10))
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(env.g, "/v1/chat/completions", chat("one", 10)) }()
	waitFor(t, func() bool { return env.g.queues["one"].Len() == 1 })
	env.clock.advance(time.Minute)
	env.g.notifyQueues()
	rec := <-done
	if rec.Code != 200 {
		t.Fatalf("queued request: %d %s", rec.Code, rec.Body)
	}
	if env.g.queues["one"].Len() != 0 {
		t.Fatal("the served request is still queued")
	}
}

// An upstream 429 blocks the deployment's buckets and the request moves
// on without the client seeing it.
func TestUpstream429BlocksAndMovesOn(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 100, TPM: 100000}
	})
	env.sim.SetFaults([]sim.Fault{{Kind: "status", Status: 429, Rate: 1, Key: "sim-a"}})
	for i := 0; i < 2; i++ {
		rec := post(env.g, "/v1/chat/completions", chat("two", 10))
		if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" {
			t.Fatalf("request %d: %d via %q", i, rec.Code, rec.Header().Get(headerDeployment))
		}
	}
	req := httptest.NewRequest("GET", "/admin/limits", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	rec := httptest.NewRecorder()
	env.g.ServeHTTP(rec, req)
	var view limitsView
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil || rec.Code != 200 {
		t.Fatalf("admin/limits: %d %s", rec.Code, rec.Body)
	}
	a := view.Deployments[0]
	if a.Name != "a" || a.BlockedMS <= 0 || a.Health.ConsecutiveFailures != 0 {
		t.Fatalf("deployment a after a 429: %+v", a)
	}
	if b := a.Buckets["tpm"]; b.Limit != 100000 || b.Available > 0 {
		t.Fatalf("a's tpm bucket after a 429 should be empty: %+v", b)
	}
}

func TestAdminNeedsAdminKey(t *testing.T) {
	env := newLimitsEnv(t, func(*config.Config) {})
	for _, key := range []string{"", "sk-client", "wrong"} {
		req := httptest.NewRequest("GET", "/admin/limits", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		env.g.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("key %q: %d", key, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "admin-secret") {
			t.Fatal("admin key leaked")
		}
	}
}

// Metrics expose bucket levels and count upstream 429s apart from the
// 429s llmux sends.
func TestLimitMetrics(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Routes[0].MaxWait = 0
	})
	post(env.g, "/v1/chat/completions", chat("one", 10))
	post(env.g, "/v1/chat/completions", chat("one", 10))
	rec := httptest.NewRecorder()
	env.g.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`llmux_bucket_available{bucket="rpm",deployment="a"} 0`,
		`llmux_bucket_limit{bucket="tpm",deployment="a"} 100000`,
		`llmux_requests_total{deployment="",route="one",status="429"} 1`,
		`llmux_queue_depth{route="one"} 0`,
		`llmux_limiter_degraded 0`,
		`llmux_circuit_state{deployment="a"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// waitFor polls a condition another goroutine will make true.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

var _ http.Handler = (*Gateway)(nil)

func TestQueueWaitHeader(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 100000}
		c.Routes[0].MaxWait = time.Hour
	})
	post(env.g, "/v1/chat/completions", chat("one", 10))
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post(env.g, "/v1/chat/completions", chat("one", 10)) }()
	waitFor(t, func() bool { return env.g.queues["one"].Len() == 1 })
	env.clock.advance(90 * time.Second)
	env.g.notifyQueues()
	rec := <-done
	if rec.Code != 200 || rec.Header().Get(headerQueued) != "90000" {
		t.Fatalf("%d, %s = %q, want 90000", rec.Code, headerQueued, rec.Header().Get(headerQueued))
	}
}

// Repeated failures open a deployment's circuit: it is tried last, and
// the state shows in the metrics.
func TestCircuitOpensOnRepeatedFailures(t *testing.T) {
	env := newLimitsEnv(t, func(*config.Config) {})
	env.sim.SetFaults([]sim.Fault{{Kind: "status", Status: 500, Rate: 1, Key: "sim-a"}})
	for i := 0; i < 12; i++ {
		if rec := post(env.g, "/v1/chat/completions", chat("two", 5)); rec.Code != 200 {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	if s := env.g.health.Snapshot("a"); s.State.String() != "open" {
		t.Fatalf("circuit of a after repeated 500s: %+v", s)
	}
	before := env.sim.Stats().Keys["sim-a"].Requests
	for i := 0; i < 4; i++ {
		if rec := post(env.g, "/v1/chat/completions", chat("two", 5)); rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" || rec.Header().Get(headerAttempts) != "1" {
			t.Fatalf("with a's circuit open: %d via %q in %q attempts", rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerAttempts))
		}
	}
	if after := env.sim.Stats().Keys["sim-a"].Requests; after != before {
		t.Fatalf("an open circuit still got %d requests", after-before)
	}
	rec := httptest.NewRecorder()
	env.g.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `llmux_circuit_state{deployment="a"} 1`) {
		t.Fatal("metrics do not show a's open circuit")
	}
}

// An open circuit takes no requests; after its open time one probe goes
// through, and a failed probe opens it again at once.
func TestOpenCircuitAndProbe(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) { c.Routes[0].MaxWait = 0 })
	env.sim.SetFaults([]sim.Fault{{Kind: "status", Status: 500, Rate: 1, Key: "sim-a"}})
	for i := 0; i < 5; i++ {
		post(env.g, "/v1/chat/completions", chat("one", 5))
	}
	sent := func() int64 { return env.sim.Stats().Keys["sim-a"].Requests }
	before := sent()
	if rec := post(env.g, "/v1/chat/completions", chat("one", 5)); rec.Code == 200 || sent() != before {
		t.Fatalf("an open circuit took a request: %d, %d upstream", rec.Code, sent()-before)
	}
	env.clock.advance(31 * time.Second) // past the open time: half-open
	post(env.g, "/v1/chat/completions", chat("one", 5))
	if sent() != before+1 {
		t.Fatalf("half-open sent %d probes, want 1", sent()-before)
	}
	post(env.g, "/v1/chat/completions", chat("one", 5))
	if sent() != before+1 {
		t.Fatal("a failed probe did not reopen the circuit")
	}
	env.sim.SetFaults(nil)
	env.clock.advance(2 * time.Minute)
	if rec := post(env.g, "/v1/chat/completions", chat("one", 5)); rec.Code != 200 {
		t.Fatalf("a successful probe must close the circuit: %d", rec.Code)
	}
	if s := env.g.health.Snapshot("a"); s.State.String() != "closed" {
		t.Fatalf("state after a good probe: %v", s.State)
	}
}
