package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// needRedisServer skips the test without redis-server on PATH, or fails
// it when CI=true: under CI the Redis paths must run.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true: install the redis-server package")
		}
		t.Skip("redis-server is not on PATH; install the redis-server package to run this test")
	}
}

// tinyLimits is the smallest run that exercises every part: one load,
// one replica and three sharing a real Redis, both strategies.
var tinyLimits = LimitsOptions{Speedup: 60, Phase: 30 * time.Second, Loads: []float64{1.0}, Replicas: []int{1, 3}}

// TestLimitsReport runs the limits benchmark with tiny settings and checks
// what it prints and that requests flowed, never the bars or speed.
func TestLimitsReport(t *testing.T) {
	needRedisServer(t)
	base := runtime.NumGoroutine()
	var progress bytes.Buffer
	opt := tinyLimits
	opt.Progress = &progress
	rep, err := Limits(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	text := renderReport(t, rep)
	for _, want := range []string{
		"GOMAXPROCS", "loadavg", "speedup 60", "30s of open-loop Poisson arrivals", "redis-server",
		"openai-1", "openai-2", "azure-1", "anthropic-1", "aggregate", "capacity_used =",
		"\nreplicas 1\n", "\nreplicas 3\n", "upstream 429", "capacity used", "client errors", "shed", "queue p50", "queue p99",
		"by account:", "bars (issue 3", "replicas 1, load 1.0x: upstream 429 = 0", "replicas 3, load 1.0x: upstream 429 = 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(progress.String(), "\n"); n != 4 {
		t.Errorf("progress has %d lines, want one per phase (4):\n%s", n, progress.String())
	}
	checkLimitsJSON(t, text)
	waitLimitsGoroutines(t, base)
}

// checkLimitsJSON checks that the output ends with exactly one JSON line
// {"results":[...]} whose entries have exactly the contract's keys, one
// per replicas × strategy, and that requests reached the providers.
func checkLimitsJSON(t *testing.T, text string) {
	t.Helper()
	results := resultsLine(t, text)
	keys := []string{"capacity_used", "client_errors", "load", "queue_wait_p50_ms", "queue_wait_p99_ms",
		"replicas", "shed", "strategy", "upstream_429", "upstream_requests"}
	var seen []string
	for _, r := range results {
		var have []string
		for k := range r {
			have = append(have, k)
		}
		slices.Sort(have)
		if !slices.Equal(have, keys) {
			t.Errorf("result keys %v, want exactly %v", have, keys)
		}
		strategy, _ := r["strategy"].(string)
		if strategy != StrategyLLMux && strategy != StrategyRoundRobin {
			t.Errorf("strategy %q", strategy)
		}
		if r["load"] != 1.0 {
			t.Errorf("load %v, want 1", r["load"])
		}
		if n, _ := r["upstream_requests"].(float64); n <= 0 {
			t.Errorf("%v replicas %v: no upstream requests", strategy, r["replicas"])
		}
		if c, _ := r["capacity_used"].(float64); c <= 0 || c > 1.5 {
			t.Errorf("%v replicas %v: capacity_used %v", strategy, r["replicas"], c)
		}
		seen = append(seen, strategy+"/"+jsonNum(r["replicas"]))
	}
	slices.Sort(seen)
	if want := []string{"llmux/1", "llmux/3", "round-robin/1", "round-robin/3"}; !slices.Equal(seen, want) {
		t.Errorf("phases %v, want %v", seen, want)
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestLimitsCancel checks that cancelling stops a run that would take
// minutes and leaves nothing running: no goroutine, no redis-server.
func TestLimitsCancel(t *testing.T) {
	needRedisServer(t)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	_, err := Limits(ctx, LimitsOptions{Speedup: 10, Phase: 10 * time.Minute, Replicas: []int{3}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitLimitsGoroutines(t, base)
}

func TestLimitsOptionsRejected(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  LimitsOptions
	}{
		{"negative speedup", LimitsOptions{Speedup: -1}},
		{"negative phase", LimitsOptions{Phase: -time.Second}},
		{"zero load", LimitsOptions{Loads: []float64{1, 0}}},
		{"no replicas", LimitsOptions{Replicas: []int{0}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Limits(t.Context(), c.opt); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestCapacities pins the capacity formula: per account the rate its
// first binding limit allows for the mix's mean charge.
func TestCapacities(t *testing.T) {
	if p, m := meanPrompt(), meanMaxTokens(); p != 1842.5 || m != 464 {
		t.Fatalf("mean prompt %v, mean max_tokens %v; want 1842.5 and 464", p, m)
	}
	accts, total := capacities()
	want := map[string]struct {
		perMinute float64
		binding   string
	}{
		"openai-1":    {80_000 / 2306.5, "tpm"},
		"openai-2":    {50_000 / 2306.5, "tpm"},
		"azure-1":     {40_000 / 2306.5, "tpm"},
		"anthropic-1": {40_000 / 1842.5, "itpm"},
	}
	sum := 0.0
	for _, a := range accts {
		w := want[a.name]
		if a.binding != w.binding || a.perMinute != w.perMinute {
			t.Errorf("%s: %.2f/min bound by %s, want %.2f by %s", a.name, a.perMinute, a.binding, w.perMinute, w.binding)
		}
		sum += w.perMinute
	}
	if total != sum {
		t.Errorf("aggregate %v, want %v", total, sum)
	}
}

// TestWorkload checks the generator against the mix: sizes as the
// simulator counts them, max_tokens from the set, arrivals inside the
// window at about the asked rate, and the same requests for the same
// seed and rate.
func TestWorkload(t *testing.T) {
	reqs, err := workload(7, 600, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(reqs); n < 5700 || n > 6300 {
		t.Errorf("%d arrivals in 10 minutes at 600/min", n)
	}
	long := 0
	for i, r := range reqs {
		if r.at < 0 || r.at >= 10*time.Minute || (i > 0 && r.at < reqs[i-1].at) {
			t.Fatalf("request %d arrives at %s", i, r.at)
		}
		if !slices.Contains(mixMaxTokens, r.maxTokens) {
			t.Fatalf("max_tokens %d", r.maxTokens)
		}
		var body limitsChat
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		// The simulator's count: 3 + per message 3 + ceil(bytes/4).
		n := 3
		for _, m := range body.Messages {
			n += 3 + (len(m.Content)+3)/4
		}
		if n != r.prompt || body.MaxTokens != r.maxTokens || body.Model != limitsRoute {
			t.Fatalf("request %d: counted %d tokens, want %d; body max_tokens %d model %q", i, n, r.prompt, body.MaxTokens, body.Model)
		}
		if r.long {
			long++
			if r.prompt < mixLong[0] || r.prompt > mixLong[1] {
				t.Fatalf("long prompt of %d tokens", r.prompt)
			}
		} else if r.prompt < mixShort[0] || r.prompt > mixShort[1] {
			t.Fatalf("short prompt of %d tokens", r.prompt)
		}
	}
	if share := float64(long) / float64(len(reqs)); share < 0.08 || share > 0.12 {
		t.Errorf("long share %.3f, want about %.2f", share, mixLongShare)
	}
	again, _ := workload(7, 600, 10*time.Minute)
	if len(again) != len(reqs) || !bytes.Equal(again[100].body, reqs[100].body) {
		t.Error("the same seed and rate gave a different workload")
	}
}

func TestWindowFactor(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.TimeOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		name     string
		provider string
		start    time.Time
		window   time.Duration
		want     float64
	}{
		{"continuous: full bucket plus refill", "openai", at("10:00:30"), 4 * time.Minute, 5},
		{"continuous, half a minute", "anthropic", at("10:00:30"), 30 * time.Second, 1.5},
		{"azure: mid-minute start touches 5 windows", "azure", at("10:00:30"), 4 * time.Minute, 5},
		{"azure: aligned start touches 4", "azure", at("10:00:00"), 4 * time.Minute, 4},
		{"azure: inside one window", "azure", at("10:00:10"), 30 * time.Second, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := windowFactor(c.provider, c.start, c.window); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestLimitsBars(t *testing.T) {
	ph := func(strategy string, load float64, req, n429 int64, used float64) LimitsPhase {
		return LimitsPhase{LimitsResult: LimitsResult{Replicas: 1, Strategy: strategy, Load: load,
			UpstreamRequests: req, Upstream429: n429, CapacityUsed: used}}
	}
	bars := limitsBars([]LimitsPhase{
		ph(StrategyLLMux, 0.8, 100, 0, 0.5),
		ph(StrategyRoundRobin, 0.8, 100, 9, 0.5), // the baseline has no bars
		ph(StrategyLLMux, 1.0, 100, 1, 0.7),
		ph(StrategyLLMux, 1.5, 2000, 2, 0.95),
		ph(StrategyLLMux, 1.5, 2000, 3, 0.949),
	})
	var got []bool
	for _, b := range bars {
		got = append(got, b.Pass)
	}
	if want := []bool{true, false, true, true, false, false}; !slices.Equal(got, want) {
		t.Errorf("verdicts %v, want %v (%+v)", got, want, bars)
	}
}

// waitLimitsGoroutines fails if the goroutines a run started do not end.
// Connections closed by the servers end their client goroutines
// asynchronously, hence the wait.
func waitLimitsGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before the run, %d after:\n%s", base, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		<-tick.C
	}
}
