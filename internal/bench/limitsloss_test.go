package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLimitsRedisLoss runs the Redis-loss benchmark compressed (speedup
// 60, a one-minute phase, Redis down from 15s to 30s, two seeds on one
// redis-server) and checks the report's shape and that each phase really
// lost Redis and got it back: every replica limited locally and returned
// to Redis after the restart. It never asserts the bar.
func TestLimitsRedisLoss(t *testing.T) {
	needRedisServer(t)
	base := runtime.NumGoroutine()
	var progress bytes.Buffer
	opt := LimitsOptions{Speedup: 60, Phase: time.Minute, KillAt: 15 * time.Second, DownFor: 15 * time.Second, Progress: &progress}
	rep, err := LimitsRedisLoss(t.Context(), opt, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	text := renderReport(t, rep)
	for _, want := range []string{
		"llmux bench limits --redis-loss", "GOMAXPROCS", "loadavg", "speedup 60", "1m0s of open-loop Poisson arrivals",
		"seeds 1, 2: one phase each", "redis-server killed (SIGKILL) 15s into each phase; 15s later", "redis-server 7", "loads: 1.5x",
		"\nseed 1: replicas 3, load 1.5x", "\nseed 2: replicas 3, load 1.5x", "before the loss", "switch (first 1s)", "rest of the loss",
		"after the restart", "whole phase", "switched to local", "back on redis", "re-seeded keys",
		"bars (issue 12", "provider 429s within 1s of the switch = 0 in every seed", "provider 429s after the restart = 0 in every seed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "without limits or queue") {
		t.Errorf("the Redis-loss run has no round-robin baseline:\n%s", text)
	}
	if n := strings.Count(progress.String(), "\n"); n != 2 {
		t.Errorf("progress has %d lines, want one per seed (2):\n%s", n, progress.String())
	}
	results := lossResults(t, text)
	for i, r := range results {
		if r.Seed != int64(i+1) || r.Replicas != 3 || r.Load != 1.5 {
			t.Errorf("result %d: seed %d, replicas %d, load %v; want seed %d, 3, 1.5", i, r.Seed, r.Replicas, r.Load, i+1)
		}
		checkLossPeriods(t, r)
		checkLossRecovered(t, r)
	}
	waitLimitsGoroutines(t, base)
}

// lossResults checks that text ends with exactly one JSON line,
// {"bench":"limits-redis-loss","results":[...]} with one result per seed
// and exactly the documented keys, and returns the results.
func lossResults(t *testing.T, text string) []RedisLossResult {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	last := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "{") {
			t.Fatalf("a JSON line before the last:\n%s", text)
		}
	}
	var raw struct {
		Bench   string           `json:"bench"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(last), &raw); err != nil || raw.Bench != "limits-redis-loss" || len(raw.Results) != 2 {
		t.Fatalf("last line %s: bench %q, %d results, err %v; want limits-redis-loss and 2 results", last, raw.Bench, len(raw.Results), err)
	}
	keys := []string{"answering_at_ms", "capacity_used", "client_errors", "degraded", "killed_at_ms", "load", "offered", "periods",
		"replicas", "restarted_at_ms", "seed", "served", "shed", "upstream_429", "upstream_requests"}
	for _, r := range raw.Results {
		if have := slices.Sorted(maps.Keys(r)); !slices.Equal(have, keys) {
			t.Errorf("result keys %v, want exactly %v", have, keys)
		}
	}
	var got struct{ Results []RedisLossResult }
	if err := json.Unmarshal([]byte(last), &got); err != nil {
		t.Fatal(err)
	}
	return got.Results
}

// checkLossPeriods checks that the four periods follow each other from
// the phase start to its end around the outage, and add up to the phase.
func checkLossPeriods(t *testing.T, r RedisLossResult) {
	t.Helper()
	if r.KilledAtMS < 15_000 || r.RestartedAtMS < 30_000 || r.AnsweringAtMS < r.RestartedAtMS {
		t.Errorf("seed %d: killed at %vms, restarted at %vms, answering at %vms; want from 15s, from 30s, after the restart", r.Seed, r.KilledAtMS, r.RestartedAtMS, r.AnsweringAtMS)
	}
	var names []string
	offered, served, to := 0, 0, 0.0
	for _, p := range r.Periods {
		names = append(names, p.Period)
		if p.FromMS != to || p.ToMS <= p.FromMS {
			t.Errorf("seed %d: period %s from %vms to %vms, after one ending at %vms", r.Seed, p.Period, p.FromMS, p.ToMS, to)
		}
		if (p.CapacityUsed == nil) != (p.Period == PeriodSwitch) {
			t.Errorf("seed %d: period %s capacity_used %v; want null for the switch only", r.Seed, p.Period, p.CapacityUsed)
		}
		offered, served, to = offered+p.Offered, served+p.Served, p.ToMS
	}
	if want := []string{PeriodBefore, PeriodSwitch, PeriodLoss, PeriodAfter}; !slices.Equal(names, want) {
		t.Errorf("seed %d: periods %v, want %v", r.Seed, names, want)
	}
	if to != 60_000 || offered != r.Offered || served != r.Served || r.Served == 0 {
		t.Errorf("seed %d: periods end at %vms, offered %d, served %d; phase 60000ms, offered %d, served %d", r.Seed, to, offered, served, r.Offered, r.Served)
	}
}

// checkLossRecovered checks that every replica switched to local limiting
// and was back on Redis after the restart.
func checkLossRecovered(t *testing.T, r RedisLossResult) {
	t.Helper()
	if len(r.Degraded) != 3 {
		t.Fatalf("seed %d: %d replicas in degraded, want 3", r.Seed, len(r.Degraded))
	}
	for _, d := range r.Degraded {
		if d.Switches < 1 || d.SwitchedAfterKillMS == nil || d.DegradedMS <= 0 {
			t.Errorf("seed %d replica %d never limited locally: %+v", r.Seed, d.Replica, d)
		}
		if d.RecoveredAfterRestartMS == nil || *d.RecoveredAfterRestartMS < 0 {
			t.Errorf("seed %d replica %d not back on Redis after the restart: %+v", r.Seed, d.Replica, d)
		}
	}
}

// TestDegradedLog checks the switches read from Resilient's log lines:
// a warning opens a span, an info line closes it with reseed_keys, other
// lines and repeats change nothing, and every record still reaches next.
func TestDegradedLog(t *testing.T) {
	clock := newSimClock(1)
	l := newDegradedLog(clock)
	next := &warnCounter{}
	log := slog.New(l.replica(next))
	other := slog.New(l.replica(next))
	log.Info("redis reachable again; limiting through redis", "reseed_keys", 4) // not degraded: ignored
	log.Warn("redis unreachable; limiting locally at 1/3 of each limit")
	log.Warn("redis unreachable; limiting locally at 1/3 of each limit") // already open
	log.Debug("something else")
	log.With("a", 1).Info("redis reachable again; limiting through redis", "reseed_keys", 4)
	other.Warn("redis unreachable; limiting locally at 1/3 of each limit")
	spans := l.copySpans()
	if len(spans) != 2 || len(spans[0]) != 1 || len(spans[1]) != 1 {
		t.Fatalf("spans %+v; want one for each replica", spans)
	}
	if s := spans[0][0]; s.from.IsZero() || s.to.Before(s.from) || s.to.IsZero() || s.reseeded != 4 {
		t.Errorf("replica 1: %+v; want a closed span with 4 keys re-seeded", s)
	}
	if !spans[1][0].to.IsZero() {
		t.Errorf("replica 2: %+v; want an open span", spans[1][0])
	}
	if n, _ := next.count(); n != 3 {
		t.Errorf("next got %d warnings, want 3", n)
	}
	out := replicasDegraded(spans, outageRecord{killed: spans[0][0].from, restarted: spans[0][0].to}, spans[1][0].from.Add(time.Minute))
	if out[0].RecoveredAfterRestartMS == nil || out[0].ReseedKeys != 4 || out[1].RecoveredAfterRestartMS != nil || out[1].DegradedMS < 60_000 {
		t.Errorf("summaries %+v", out)
	}
}

func TestLossBars(t *testing.T) {
	seed := func(id int64, n429 ...int64) RedisLossPhase {
		var p RedisLossPhase
		p.Seed = id
		for _, n := range n429 {
			p.Periods = append(p.Periods, LossPeriod{Upstream429: n})
		}
		return p
	}
	bars := lossBars([]RedisLossPhase{seed(1, 0, 0, 0, 0), seed(2, 0, 3, 0, 1)})
	var got []bool
	for _, b := range bars {
		got = append(got, b.Pass)
	}
	if want := []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("verdicts %v, want %v (%+v)", got, want, bars)
	}
	if v := bars[1].Value; v != "0, 3 (seeds 1, 2)" {
		t.Errorf("switch bar value %q", v)
	}
}

func TestLimitsRedisLossRejected(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  LimitsOptions
	}{
		{"one replica", LimitsOptions{Replicas: []int{1}}},
		{"two replica counts", LimitsOptions{Replicas: []int{3, 5}}},
		{"two loads", LimitsOptions{Loads: []float64{1, 1.5}}},
		{"two queue targets", LimitsOptions{QueueTargets: []time.Duration{time.Second, 0}}},
		{"negative kill time", LimitsOptions{KillAt: -time.Second}},
		{"back after the phase", LimitsOptions{Phase: 5 * time.Minute, KillAt: 2 * time.Minute, DownFor: 3 * time.Minute}},
		{"negative speedup", LimitsOptions{Speedup: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Rejected before any redis-server is started.
			if _, err := LimitsRedisLoss(context.Background(), c.opt, nil); err == nil {
				t.Error("accepted")
			}
		})
	}
	o := LimitsOptions{}.withDefaults(runRedisLoss)
	if o.Phase != 7*time.Minute || !slices.Equal(o.Loads, []float64{1.5}) || !slices.Equal(o.Replicas, []int{3}) ||
		o.KillAt != 150*time.Second || o.DownFor != 160*time.Second || o.MaxWait != 20*time.Second || o.Speedup != 30 {
		t.Errorf("redis-loss defaults %+v", o)
	}
}
