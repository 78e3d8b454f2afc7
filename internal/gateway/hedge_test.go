package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/sim"
)

// everyHedge is a budget that allows a hedge for every request: routine
// hedges may use routineShare of it, so it is 1/routineShare requests.
func everyHedge() *hedgeBudget { return newHedgeBudget(1/routineShare, time.Minute, time.Now) }

// A request whose first token is late on one deployment is hedged to
// another; the first to answer wins and the client sees one clean answer.
func TestHedgeWinsOverSlowDeployment(t *testing.T) {
	for _, stream := range []bool{false, true} {
		g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 3 * time.Second}}, config.Timeouts{})
		g.hedges["chat"] = &hedgePolicy{after: 100 * time.Millisecond, budget: everyHedge()}
		body := `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
		if stream {
			body = strings.Replace(body, `"model"`, `"stream":true,"model"`, 1)
		}
		start := time.Now()
		rec := post(g, "/v1/chat/completions", body) // round-robin starts on a, the slow one
		if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" || rec.Header().Get(headerAttempts) != "2" {
			t.Fatalf("stream=%v: %d via %q after %q attempts: %s", stream, rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerAttempts), rec.Body)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("stream=%v: the hedge did not win (took %v)", stream, time.Since(start))
		}
		if strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("the client saw the loser: %s", rec.Body)
		}
	}
}

// Without budget there is no hedge: the slow deployment answers.
func TestHedgeBudgetExhausted(t *testing.T) {
	g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 300 * time.Millisecond}}, config.Timeouts{})
	g.hedges["chat"] = &hedgePolicy{after: 50 * time.Millisecond, budget: newHedgeBudget(0, time.Minute, time.Now)}
	rec := post(g, "/v1/chat/completions", `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != 200 || rec.Header().Get(headerDeployment) != "a" || rec.Header().Get(headerAttempts) != "1" {
		t.Fatalf("%d via %q after %q attempts", rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerAttempts))
	}
}

func TestHedgeBudget(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newHedgeBudget(0.1, time.Minute, func() time.Time { return now })
	for i := 0; i < 20; i++ {
		b.request()
	}
	if !b.take(true) || !b.take(true) {
		t.Fatal("10% of 20 requests allows 2 hedges")
	}
	if b.take(true) {
		t.Fatal("a third hedge exceeds the budget")
	}
	now = now.Add(2 * time.Minute) // the window slides past it all
	for i := 0; i < 10; i++ {
		b.request()
	}
	if !b.take(true) || b.take(true) {
		t.Fatal("after the window slid, 10 requests allow exactly one hedge")
	}
}

// Routine hedges (off a healthy deployment) use only part of the budget;
// the rest stays for rescues (off a failing deployment).
func TestHedgeBudgetKeepsRescues(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newHedgeBudget(0.1, time.Minute, func() time.Time { return now })
	for i := 0; i < 40; i++ {
		b.request()
	}
	steps := []struct {
		rescue, want bool
	}{
		{false, true}, {false, true}, // routine: half of 4
		{false, false},
		{true, true}, {true, true}, // rescues: the rest
		{true, false},
	}
	for i, s := range steps {
		if b.allows(s.rescue) != s.want || b.take(s.rescue) != s.want {
			t.Fatalf("step %d (rescue %v): want %v", i, s.rescue, s.want)
		}
	}
}

// priorityEnv is timeoutEnv's gateway with strategy priority: every
// request tries a first.
func priorityEnv(t *testing.T, faults []sim.Fault) *Gateway {
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
		Routes:      []config.Route{{Name: "chat", Strategy: config.StrategyPriority, Deployments: []string{"a", "b"}}},
		Keys:        []config.Key{{Name: "k", Key: "sk-client"}},
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

const hedgeBody = `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`

// servedBy posts one request and checks who answered and how soon.
func servedBy(g *Gateway, what, want string, within time.Duration) error {
	start := time.Now()
	rec := post(g, "/v1/chat/completions", hedgeBody)
	took := time.Since(start)
	if rec.Code != 200 || rec.Header().Get(headerDeployment) != want {
		return fmt.Errorf("%s: %d via %q (log %q), want via %s", what, rec.Code, rec.Header().Get(headerDeployment), rec.Header().Get(headerAttemptLog), want)
	}
	if within > 0 && took > within {
		return fmt.Errorf("%s: took %v, want within %v", what, took, within)
	}
	return nil
}

// Issue 12: routine hedges at a healthy deployment's p95 must not spend
// the budget that a failing deployment's late requests need. Here the
// budget is 10% of 20 requests: the first routine hedge fits the routine
// half, a second does not, and once a fails its request still gets the
// rest. Before the routine share, the routine hedges took it all and the
// failing deployment's request waited for its slow first token.
func TestHedgeRescuesFailingDeployment(t *testing.T) {
	g := priorityEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: time.Second}})
	h := &hedgePolicy{after: 50 * time.Millisecond, budget: newHedgeBudget(0.1, time.Minute, time.Now)}
	g.hedges["chat"] = h
	for i := 0; i < 20; i++ {
		h.budget.request()
	}
	if err := servedBy(g, "first routine hedge", "b", 800*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := servedBy(g, "second routine hedge, beyond the routine share", "a", 0); err != nil {
		t.Fatal(err)
	}
	g.health.Failure("a", 0)
	if err := servedBy(g, "rescue off the failing deployment", "b", 800*time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

// Issue 12: two requests late on the same deployment at once are a sign
// of trouble, not of the p95 tail: their hedges are rescues even before
// the deployment has failed, and beyond the routine share.
func TestHedgeRescueWhenOthersLate(t *testing.T) {
	g := priorityEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 3 * time.Second}})
	h := &hedgePolicy{after: 50 * time.Millisecond, budget: newHedgeBudget(0.1, time.Minute, time.Now)}
	g.hedges["chat"] = h
	for i := 0; i < 30; i++ {
		h.budget.request()
	}
	h.budget.take(false) // the routine share (1.6 of 32 requests) is spent
	first := make(chan error)
	go func() { first <- servedBy(g, "first late request", "b", 2500*time.Millisecond) }()
	if err := servedBy(g, "second late request", "b", 2500*time.Millisecond); err != nil {
		t.Error(err)
	}
	if err := <-first; err != nil {
		t.Error(err)
	}
}

// Issue 12: a hedge the budget refused is asked for again while the
// first attempt waits, and taken once the budget allows it. Before, a
// refused hedge was never asked for again, and the request waited for
// the slow first token.
func TestHedgeRetriedWhenBudgetFrees(t *testing.T) {
	g := priorityEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 3 * time.Second}})
	h := &hedgePolicy{after: 20 * time.Millisecond, budget: newHedgeBudget(0.1, time.Minute, time.Now)}
	g.hedges["chat"] = h
	g.health.Failure("a", 0) // a rescue: any budget is enough
	// At 20 ms the budget (one request, the test's own) has no room;
	// at 500 ms ten more requests have come.
	more := time.AfterFunc(500*time.Millisecond, func() {
		for i := 0; i < 10; i++ {
			h.budget.request()
		}
	})
	defer more.Stop()
	if err := servedBy(g, "hedge after the budget freed", "b", 2*time.Second); err != nil {
		t.Fatal(err)
	}
}

// A lost race counts as a failure of a deployment in trouble, so that its
// circuit can open; on a deployment otherwise answering it is the p95
// tail and counts for nothing.
func TestHedgeLoserOnFailingDeployment(t *testing.T) {
	g := priorityEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 2 * time.Second}})
	g.hedges["chat"] = &hedgePolicy{after: 50 * time.Millisecond, budget: everyHedge()}
	if err := servedBy(g, "healthy a loses", "b", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := g.health.Failures("a"); n != 0 {
		t.Fatalf("a healthy deployment's lost race counted: %d failures", n)
	}
	g.health.Failure("a", 0)
	if err := servedBy(g, "failing a loses", "b", time.Second); err != nil {
		t.Fatal(err)
	}
	if n := g.health.Failures("a"); n != 2 {
		t.Fatalf("a failing deployment's lost race: %d failures, want 2", n)
	}
}

// A deployment in trouble is hedged after at most the fixed delay, even
// when its p95 (raised by its own slow samples) is later; one answering
// normally after its p95.
func TestHedgeDelay(t *testing.T) {
	g := timeoutEnv(t, nil, config.Timeouts{})
	h := &hedgePolicy{after: 2 * time.Second, useP95: true, budget: everyHedge()}
	dep := &config.Deployment{Name: "a"}
	if d := h.delay(g, dep, false); d != 2*time.Second {
		t.Fatalf("without samples: %v, want after", d)
	}
	for i := 0; i < minP95Samples; i++ {
		g.health.ObserveTTFT("a", 5*time.Second)
	}
	if d := h.delay(g, dep, false); d < 4*time.Second {
		t.Fatalf("healthy: %v, want its p95 (about 5s)", d)
	}
	if d := h.delay(g, dep, true); d != 2*time.Second {
		t.Fatalf("in trouble: %v, want after", d)
	}
}

// A hedge goes to a deployment not in trouble if there is one, and to a
// half-open one only with its probe slot, held until released.
func TestHedgeCandidate(t *testing.T) {
	g := timeoutEnv(t, nil, config.Timeouts{})
	p := &hedgePolicy{after: time.Second, budget: everyHedge()}
	rest := []*config.Deployment{&g.cfg.Deployments[0], &g.cfg.Deployments[1]} // a, b
	for _, c := range []struct {
		name    string
		trouble func()
		undo    func()
	}{
		{"failing", func() { g.health.Failure("a", 0) }, func() { g.health.Success("a") }},
		{"late", func() { p.late.add("a", 1) }, func() { p.late.add("a", -1) }},
	} {
		c.trouble()
		st := &callState{used: map[string]bool{}}
		h, ok := g.hedgeCandidate(context.Background(), &call{}, st, p, rest)
		if !ok || h.up.dep.Name != "b" || !st.used["b"] {
			t.Fatalf("a %s: got %v %v, want b, the one not in trouble", c.name, h.up, ok)
		}
		h.permit.Release()
		c.undo()
	}

	// b's circuit opens at its first failure, for a nanosecond: then it is
	// half-open, with one probe slot.
	g.health.SetBreaker("b", health.Breaker{ConsecutiveFailures: 1, OpenFor: time.Nanosecond, Jitter: -1})
	g.health.Failure("b", 0)
	h, ok := g.hedgeCandidate(context.Background(), &call{}, &callState{used: map[string]bool{"a": true}}, p, rest)
	if !ok || h.up.dep.Name != "b" || !h.permit.Probe() {
		t.Fatalf("got %v %v, want b's probe", h.up, ok)
	}
	if g.health.Available("b") {
		t.Fatal("the hedge did not take the half-open deployment's probe slot")
	}
	if _, ok := g.hedgeCandidate(context.Background(), &call{}, &callState{used: map[string]bool{"a": true}}, p, rest); ok {
		t.Fatal("a second hedge went to the half-open deployment while its probe was out")
	}
	h.permit.Release()
	if !g.health.Available("b") {
		t.Fatal("releasing the hedge's permit did not free the probe slot")
	}
}

func TestHedgeAndTimeoutsFromConfig(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Routes[1].Hedge = &config.Hedge{After: 2 * time.Second, P95: true, Budget: 0.05}
		c.Routes[1].Timeouts = config.Timeouts{FirstToken: 5 * time.Second, Total: time.Minute}
		c.Deployments[1].Timeouts = config.Timeouts{FirstToken: 9 * time.Second}
	})
	h := env.g.hedges["two"]
	if h == nil || h.after != 2*time.Second || !h.useP95 || h.budget.fraction != 0.05 || env.g.hedges["one"] != nil {
		t.Fatalf("hedges %+v", env.g.hedges)
	}
	got := env.g.timeoutsFor("two", &env.g.cfg.Deployments[1])
	if got != (timeouts{firstToken: 9 * time.Second, total: time.Minute}) {
		t.Fatalf("timeouts %+v", got)
	}
}
