package bench

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLimitsOverloadReport runs the overload benchmark with tiny settings
// and checks what it prints, never the bars or speed.
func TestLimitsOverloadReport(t *testing.T) {
	base := runtime.NumGoroutine()
	var progress bytes.Buffer
	rep, err := LimitsOverload(t.Context(), LimitsOptions{Speedup: 60, Phase: 30 * time.Second, MaxWait: 20 * time.Second, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	text := renderReport(t, rep)
	for _, want := range []string{
		"llmux bench limits --overload", "GOMAXPROCS", "loadavg", "speedup 60", "30s of open-loop Poisson arrivals",
		"max_wait 20s, queue_target 2s and 0 (off)", "loads: 1.5x", "REAL ms", "capacity_used =",
		"queue p50", "queue p90", "queue p99", "latency p99", "shed p99 (real)", "retry-after p50", "by account:",
		"of them", "by reason (llmux_queue_shed_total)", "bars (issue 12", "queue_target 2s: served queue wait p99 <= 5s", "every account's capacity used >= 95%",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "without limits or queue") {
		t.Errorf("the overload run has no round-robin baseline:\n%s", text)
	}
	if n := strings.Count(progress.String(), "\n"); n != 2 {
		t.Errorf("progress has %d lines, want one per queue target (2):\n%s", n, progress.String())
	}
	results := resultsLine(t, text)
	keys := []string{"capacity_used", "capacity_used_by_account", "client_errors", "load", "max_wait_ms", "offered",
		"queue_target_ms", "queue_wait_p50_ms", "queue_wait_p90_ms", "queue_wait_p99_ms", "replicas", "retry_after_p50_ms",
		"served", "served_latency_p50_ms", "served_latency_p99_ms", "shed", "shed_by_reason", "shed_latency_real_p50_ms", "shed_latency_real_p99_ms", "shed_long",
		"upstream_429", "upstream_requests"}
	var targets []float64
	for _, r := range results {
		var have []string
		for k := range r {
			have = append(have, k)
		}
		slices.Sort(have)
		if !slices.Equal(have, keys) {
			t.Errorf("result keys %v, want exactly %v", have, keys)
		}
		if r["load"] != 1.5 || r["replicas"] != 1.0 || r["max_wait_ms"] != 20000.0 {
			t.Errorf("load %v, replicas %v, max_wait_ms %v; want 1.5, 1, 20000", r["load"], r["replicas"], r["max_wait_ms"])
		}
		if n, _ := r["served"].(float64); n <= 0 {
			t.Errorf("queue_target_ms %v: nothing served", r["queue_target_ms"])
		}
		if by, _ := r["capacity_used_by_account"].(map[string]any); len(by) != len(limitsAccounts) {
			t.Errorf("capacity_used_by_account %v, want one per account", by)
		}
		targets = append(targets, r["queue_target_ms"].(float64))
	}
	if !slices.Equal(targets, []float64{2000, 0}) {
		t.Errorf("queue targets %v, want 2000 and 0", targets)
	}
	waitLimitsGoroutines(t, base)
}

// TestLimitsOptionDefaults pins the defaults of the two runs: the limits
// run keeps issue 3's settings, the overload run is issue 12's.
func TestLimitsOptionDefaults(t *testing.T) {
	o := LimitsOptions{}.withDefaults(runLimits)
	if o.Phase != 4*time.Minute || o.MaxWait != 20*time.Second || !slices.Equal(o.Loads, []float64{0.8, 1, 1.5}) ||
		!slices.Equal(o.Replicas, []int{1, 3}) || !slices.Equal(o.QueueTargets, []time.Duration{2 * time.Second}) {
		t.Errorf("limits defaults %+v", o)
	}
	o = LimitsOptions{}.withDefaults(runOverload)
	if o.Phase != 8*time.Minute || o.MaxWait != time.Minute || !slices.Equal(o.Loads, []float64{1.5}) ||
		!slices.Equal(o.Replicas, []int{1}) || !slices.Equal(o.QueueTargets, []time.Duration{2 * time.Second, 0}) {
		t.Errorf("overload defaults %+v", o)
	}
	if _, err := Limits(t.Context(), LimitsOptions{QueueTargets: []time.Duration{time.Second, 0}}); err == nil {
		t.Error("the limits run accepted two queue targets")
	}
	if _, err := LimitsOverload(t.Context(), LimitsOptions{QueueTargets: []time.Duration{-time.Second}}); err == nil {
		t.Error("a negative queue target was accepted")
	}
}

func TestOverloadBars(t *testing.T) {
	ph := func(target time.Duration, p99, shedP99 float64, n429 int64, used ...float64) OverloadPhase {
		p := OverloadPhase{OverloadResult: OverloadResult{Replicas: 1, Load: 1.5, QueueTargetMS: clockMS(target),
			QueueWaitP99MS: p99, ShedLatencyRealP99MS: shedP99, Upstream429: n429}}
		for i, u := range used {
			p.limits.Accounts = append(p.limits.Accounts, AccountResult{Name: limitsAccounts[i].name, Admitted: int64(1000 * u), Capacity: 1000})
		}
		return p
	}
	bars := overloadBars([]OverloadPhase{
		ph(2*time.Second, 5000, 49.9, 0, 0.95, 0.99),
		ph(0, 60000, 1, 9, 0.5, 0.5), // the comparison has no bars
		ph(2*time.Second, 5001, 50, 1, 0.97, 0.949),
	})
	var got []bool
	for _, b := range bars {
		got = append(got, b.Pass)
	}
	if want := []bool{true, true, true, true, false, false, false, false}; !slices.Equal(got, want) {
		t.Errorf("verdicts %v, want %v (%+v)", got, want, bars)
	}
	if v := bars[7].Value; !strings.Contains(v, "openai-2 94.9%") {
		t.Errorf("capacity bar value %q, want the lowest account", v)
	}
}
