package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/sim"
)

// inProcess is a transport that serves requests with a handler in the
// caller's goroutine: no network, so a synctest bubble's fake clock runs
// whenever every goroutine waits.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// newBubbleEnv is newLimitsEnv for a synctest bubble: it must be called
// inside one. The gateway, its limiter and the simulator read the
// bubble's clock, and the simulator enforces each deployment's limits on
// its key, so a provider 429 shows in its stats.
func newBubbleEnv(t *testing.T, mutate func(*config.Config)) *limitsEnv {
	t.Helper()
	dep := func(name, acc, model string) config.Deployment {
		return config.Deployment{Name: name, Account: acc, Model: model, Family: model, ContextWindow: 128000, MaxOutput: 4096}
	}
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		RateLimit:    config.RateLimit{Backend: "memory", Replicas: 1, QueueSize: 1000},
		Tiers:        []string{"pro", "free"},
		Accounts: []config.Account{
			{Name: "a", Provider: "openai", BaseURL: "http://sim/v1", APIKey: "sim-a"},
			{Name: "b", Provider: "openai", BaseURL: "http://sim/v1", APIKey: "sim-b"},
		},
		Deployments: []config.Deployment{dep("a", "a", "gpt-4o-mini"), dep("b", "b", "gpt-4o-mini")},
		Routes: []config.Route{
			{Name: "one", Deployments: []string{"a"}},
			{Name: "two", Deployments: []string{"a", "b"}},
			{Name: "other", Deployments: []string{"b"}},
			{Name: "probe", Deployments: []string{"a"}}, // max_wait 0: 200 or 429 at once
		},
		Keys: []config.Key{{Name: "k", Key: "sk-client", Tier: "pro"}},
	}
	mutate(cfg)
	var keys []sim.Key
	for _, d := range cfg.Deployments {
		keys = append(keys, sim.Key{Key: "sim-" + d.Account, Provider: "openai", RPM: d.Limits.RPM, TPM: d.Limits.TPM})
	}
	s, err := sim.New(sim.Config{Seed: 1, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Client: &http.Client{Transport: inProcess{s}}})
	if err != nil {
		t.Fatal(err)
	}
	return &limitsEnv{g: g, sim: s}
}

// reply is one client request's end, in the bubble's time.
type reply struct {
	code    int
	elapsed time.Duration
	queued  time.Duration // x-llmux-queue-ms
	retry   time.Duration // retry-after-ms
	via     string        // x-llmux-deployment
}

func send(g http.Handler, body string) reply {
	start := time.Now()
	rec := post(g, "/v1/chat/completions", body)
	a := reply{code: rec.Code, elapsed: time.Since(start), via: rec.Header().Get(headerDeployment)}
	if ms, err := strconv.ParseInt(rec.Header().Get(headerQueued), 10, 64); err == nil {
		a.queued = time.Duration(ms) * time.Millisecond
	}
	if ms, err := strconv.ParseInt(rec.Header().Get("retry-after-ms"), 10, 64); err == nil {
		a.retry = time.Duration(ms) * time.Millisecond
	}
	return a
}

// TestRetryAfterIsWhenCapacityReturns fills a route's buckets, queues
// requests behind them and sends one more whose predicted start lies
// beyond max_wait: it gets 429 at once, and its Retry-After is within
// ±20% of when a reservation for it really succeeds once those ahead are
// served (probed every 100ms on a route without waiting).
func TestRetryAfterIsWhenCapacityReturns(t *testing.T) {
	for _, c := range []struct {
		name    string
		route   string
		limits  []config.Limits // of a, b
		maxWait time.Duration
		ahead   []int // max_tokens of the requests queued ahead
		size    int   // max_tokens of the request turned away
		probe   string
	}{
		// a refills one request per 10 s: exact.
		{"one deployment, requests limit", "one", []config.Limits{{RPM: 6, TPM: 1_000_000}}, 35 * time.Second, []int{10, 10, 10}, 10, "probe"},
		// a refills 100 tokens/s; requests of different sizes ahead.
		{"one deployment, tokens limit", "one", []config.Limits{{RPM: 1000, TPM: 6000}}, 10 * time.Second, []int{300, 200, 200}, 400, "probe"},
		// a refills every 10 s, b every 20 s: the fluid estimate.
		{"two deployments", "two", []config.Limits{{RPM: 6, TPM: 1_000_000}, {RPM: 3, TPM: 1_000_000}}, 35 * time.Second, []int{10, 10, 10, 10}, 10, "two-probe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env := newBubbleEnv(t, func(cfg *config.Config) {
					for i, l := range c.limits {
						cfg.Deployments[i].Limits = l
					}
					cfg.Routes[0].MaxWait, cfg.Routes[1].MaxWait = c.maxWait, c.maxWait
					cfg.Routes = append(cfg.Routes, config.Route{Name: "two-probe", Deployments: []string{"a", "b"}})
				})
				// Empty the buckets: small requests without waiting until one is refused.
				for send(env.g, chat(c.probe, 1)).code == 200 {
				}
				var wg sync.WaitGroup
				for _, n := range c.ahead {
					wg.Go(func() {
						if a := send(env.g, chat(c.route, n)); a.code != 200 {
							t.Errorf("queued request: %d", a.code)
						}
					})
					synctest.Wait() // queued in this order
				}
				if n := env.g.queues[c.route].Len(); n != len(c.ahead) {
					t.Fatalf("%d queued, want %d", n, len(c.ahead))
				}
				shed := send(env.g, chat(c.route, c.size))
				if shed.code != 429 || shed.elapsed != 0 || shed.retry <= 0 {
					t.Fatalf("the request beyond max_wait: %d after %v, retry-after %v; want 429 at once", shed.code, shed.elapsed, shed.retry)
				}
				start := time.Now()
				wg.Wait() // those ahead are served as the buckets refill
				for send(env.g, chat(c.probe, c.size)).code != 200 {
					time.Sleep(100 * time.Millisecond)
				}
				real := time.Since(start)
				if off := float64(shed.retry-real) / float64(real); off < -0.2 || off > 0.2 {
					t.Errorf("Retry-After %v, capacity back after %v (%+.0f%%)", shed.retry, real, 100*off)
				}
				t.Logf("Retry-After %v, capacity back after %v", shed.retry, real)
			})
		})
	}
}

// TestStandingDelayShedsFast offers 1.5× a deployment's capacity for two
// minutes with max_wait 60s and queue_target 2s: the queue must not fill
// up to max_wait. Sheds are answered at once (no fake time passes), the
// served waits stay near the target, the deployment stays busy, and the
// provider refuses nothing.
func TestStandingDelayShedsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBubbleEnv(t, func(cfg *config.Config) {
			cfg.Deployments[0].Limits = config.Limits{RPM: 60, TPM: 1_000_000} // one request a second
			cfg.Routes[0].MaxWait, cfg.Routes[0].QueueTarget = time.Minute, 2*time.Second
		})
		for range 60 { // spend the full bucket
			if a := send(env.g, chat("one", 10)); a.code != 200 {
				t.Fatalf("warm-up: %d", a.code)
			}
		}
		start := time.Now()
		var mu sync.Mutex
		var served, shed []reply
		var wg sync.WaitGroup
		for range 180 { // 1.5 per second for 120 s
			wg.Go(func() {
				a := send(env.g, chat("one", 10))
				mu.Lock()
				defer mu.Unlock()
				switch a.code {
				case 200:
					served = append(served, a)
				case 429:
					shed = append(shed, a)
				default:
					t.Errorf("status %d", a.code)
				}
			})
			time.Sleep(2 * time.Second / 3)
		}
		wg.Wait()
		window := time.Since(start)
		for _, a := range shed {
			if a.elapsed != 0 || a.retry <= 0 {
				t.Fatalf("a shed request was answered after %v with retry-after %v; want at once, with a Retry-After", a.elapsed, a.retry)
			}
		}
		var waits []time.Duration
		for _, a := range served {
			waits = append(waits, a.queued)
		}
		slices.Sort(waits)
		p50, p99 := waits[len(waits)/2], waits[len(waits)*99/100]
		t.Logf("%d served, %d shed in %v; queue wait p50 %v, p99 %v, max %v", len(served), len(shed), window, p50, p99, waits[len(waits)-1])
		if p99 > 5*time.Second || p50 > 3*time.Second {
			t.Errorf("queue wait p50 %v, p99 %v: want near the 2s target, far below max_wait", p50, p99)
		}
		if len(shed) < 40 {
			t.Errorf("%d of 180 shed at 1.5x load, want about a third", len(shed))
		}
		// One request a second is the capacity; the queue must not run dry.
		if min := int(0.95 * window.Seconds()); len(served) < min {
			t.Errorf("%d served in %v, want at least %d (95%% of capacity)", len(served), window, min)
		}
		if n := env.sim.Stats().Totals.RateLimited; n != 0 {
			t.Errorf("the provider refused %d requests", n)
		}
		metrics := scrape(env.g)
		if !strings.Contains(metrics, `llmux_queue_shed_total{reason="target",route="one"}`) {
			t.Errorf("no shed by target in the metrics:\n%s", grepLines(metrics, "llmux_queue_shed_total"))
		}
	})
}

// TestAdmissionTurnsAwayAtOnce checks that a request predicted to start
// too late is not queued: it goes to the fallback route at once, or gets
// 429 at once, counted by reason.
func TestAdmissionTurnsAwayAtOnce(t *testing.T) {
	for _, c := range []struct {
		name      string
		maxWait   time.Duration
		deadline  time.Duration // the route's deadline: the request's context
		fallback  bool
		wantCode  int
		wantVia   string
		reason    string
		wantRetry time.Duration
	}{
		{"beyond max_wait: 429 with the predicted wait", 30 * time.Second, 0, false, 429, "", "max_wait", time.Minute},
		{"beyond max_wait: the fallback serves", 30 * time.Second, 0, true, 200, "b", "max_wait", 0},
		{"beyond the request's deadline", time.Hour, 20 * time.Second, false, 429, "", "deadline", time.Minute},
		{"within max_wait: queued and served", 2 * time.Minute, 0, false, 200, "a", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env := newBubbleEnv(t, func(cfg *config.Config) {
					cfg.Deployments[0].Limits = config.Limits{RPM: 1, TPM: 1_000_000}
					r := &cfg.Routes[0]
					r.MaxWait, r.Deadline, r.QueueTarget = c.maxWait, c.deadline, 2*time.Second
					if c.fallback {
						r.Fallbacks = []string{"other"}
					}
				})
				if a := send(env.g, chat("one", 10)); a.code != 200 {
					t.Fatalf("first request: %d", a.code)
				}
				a := send(env.g, chat("one", 10))
				if a.code != c.wantCode || a.via != c.wantVia || a.retry != c.wantRetry {
					t.Fatalf("%d via %q, retry-after %v; want %d via %q, %v", a.code, a.via, a.retry, c.wantCode, c.wantVia, c.wantRetry)
				}
				if c.reason != "" && a.elapsed != 0 {
					t.Fatalf("turned away after %v, want at once", a.elapsed)
				}
				want := `llmux_queue_shed_total{reason="` + c.reason + `",route="one"} 1`
				if m := scrape(env.g); c.reason != "" && !strings.Contains(m, want) {
					t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "llmux_queue_shed_total"))
				}
			})
		})
	}
}

// scrape returns the gateway's /metrics.
func scrape(g http.Handler) string {
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
