package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/sim"
)

// A request whose first token is late on one deployment is hedged to
// another; the first to answer wins and the client sees one clean answer.
func TestHedgeWinsOverSlowDeployment(t *testing.T) {
	for _, stream := range []bool{false, true} {
		g := timeoutEnv(t, []sim.Fault{{Kind: "slow_first_token", Rate: 1, Key: "sim-a", Delay: 3 * time.Second}}, config.Timeouts{})
		g.hedges["chat"] = &hedgePolicy{after: 100 * time.Millisecond, budget: newHedgeBudget(1, time.Minute, time.Now)}
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
	if !b.take() || !b.take() {
		t.Fatal("10% of 20 requests allows 2 hedges")
	}
	if b.take() {
		t.Fatal("a third hedge exceeds the budget")
	}
	now = now.Add(2 * time.Minute) // the window slides past it all
	for i := 0; i < 10; i++ {
		b.request()
	}
	if !b.take() || b.take() {
		t.Fatal("after the window slid, 10 requests allow exactly one hedge")
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
