package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// tinyBrownout is the smallest run that exercises every part: about 20
// requests per phase of 5 s, ten times faster than provider time.
var tinyBrownout = BrownoutOptions{RequestsPerPhase: 20, Rate: 240, TimeScale: 0.1}

// TestBrownoutReport runs the brownout benchmark with tiny settings and
// checks what it prints, never the bars or speed.
func TestBrownoutReport(t *testing.T) {
	base := runtime.NumGoroutine()
	var progress bytes.Buffer
	opt := tinyBrownout
	opt.Progress = &progress
	rep, err := Brownout(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	text := renderReport(t, rep)
	for _, want := range []string{
		"GOMAXPROCS", "loadavg", "provider time", "time scale 0.1", "240/min", "the model alone",
		"openai-1", "azure-1", "anthropic-1", "first-token timeout 8s", "budget 10%",
		"results (provider time)", "upstream/req", "hedges/req", "cost/1k", "p50", "p95", "p99",
		"upstream requests by account", "out of rotation", "slowest successful requests",
		"bars (issue 4", "failover, outage: success 100%", "brownout p99 <= 1.5x healthy p99",
		"failover+latency+hedge, brownout: hedges <= 10% of requests",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, mode := range []string{ModeNoFailover, ModeFailover, ModeHedge} {
		for _, phase := range brownoutPhases {
			row := regexp.MustCompile(`(?m)^ *` + regexp.QuoteMeta(mode) + ` +` + phase + ` +\d+ +\d+ +[\d.]+%`)
			if !row.MatchString(text) {
				t.Errorf("table lacks the row %s %s:\n%s", mode, phase, text)
			}
		}
	}
	if n := strings.Count(text, "\nPASS  ") + strings.Count(text, "\nFAIL  "); n != len(rep.Bars) || n != 13 {
		t.Errorf("%d verdict lines for %d bars, want 13", n, len(rep.Bars))
	}
	if n := strings.Count(progress.String(), "\n"); n != len(brownoutPhases) {
		t.Errorf("progress has %d lines, want one per phase:\n%s", n, progress.String())
	}
	if rep.Untagged != 0 {
		t.Errorf("%d upstream requests without a tag", rep.Untagged)
	}
	checkBrownoutJSON(t, text)
	waitLimitsGoroutines(t, base)
}

// checkBrownoutJSON checks that the output ends with exactly one JSON
// line {"results":[...]} with exactly the contract's keys, one entry per
// mode × phase, and that requests reached the providers.
func checkBrownoutJSON(t *testing.T, text string) {
	t.Helper()
	results := resultsLine(t, text)
	keys := []string{"cost_per_1k", "mode", "p50_ms", "p95_ms", "p99_ms", "phase", "requests", "success_rate", "upstream_per_request"}
	var seen []string
	for _, r := range results {
		have := make([]string, 0, len(r))
		for k := range r {
			have = append(have, k)
		}
		slices.Sort(have)
		if !slices.Equal(have, keys) {
			t.Errorf("result keys %v, want exactly %v", have, keys)
		}
		mode, _ := r["mode"].(string)
		phase, _ := r["phase"].(string)
		seen = append(seen, mode+"/"+phase)
		n, _ := r["requests"].(float64)
		rate, _ := r["success_rate"].(float64)
		up, _ := r["upstream_per_request"].(float64)
		cost, _ := r["cost_per_1k"].(float64)
		p50, _ := r["p50_ms"].(float64)
		p95, _ := r["p95_ms"].(float64)
		p99, _ := r["p99_ms"].(float64)
		// Whether requests succeed, and how fast, is what the run
		// measures; here only that they reached the providers.
		if n < 1 || rate < 0 || rate > 1 || up <= 0 || cost < 0 || p50 < 0 || p95 < p50 || p99 < p95 {
			t.Errorf("%s/%s: requests %v, success_rate %v, upstream_per_request %v, cost_per_1k %v, p50 %v, p95 %v, p99 %v",
				mode, phase, n, rate, up, cost, p50, p95, p99)
		}
	}
	var want []string
	for _, m := range []string{ModeNoFailover, ModeFailover, ModeHedge} {
		for _, p := range []string{PhaseHealthy, PhaseBrownout, PhaseOutage, PhaseRecovered} {
			want = append(want, m+"/"+p)
		}
	}
	if !slices.Equal(seen, want) {
		t.Errorf("rows %v, want %v", seen, want)
	}
}

// TestBrownoutCancel checks that cancelling stops a run that would take
// minutes and leaves nothing running.
func TestBrownoutCancel(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(700*time.Millisecond, cancel)
	_, err := Brownout(ctx, BrownoutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitLimitsGoroutines(t, base)
}

func TestBrownoutOptionsRejected(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  BrownoutOptions
	}{
		{"negative requests", BrownoutOptions{RequestsPerPhase: -1}},
		{"negative rate", BrownoutOptions{Rate: -5}},
		{"time scale above 1", BrownoutOptions{TimeScale: 2}},
		{"negative time scale", BrownoutOptions{TimeScale: -0.1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Brownout(t.Context(), c.opt); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestBrownoutFaults pins what each phase does to which account: status
// faults ahead of the always-on fault of the same key, on every key of
// the failing account and on no other.
func TestBrownoutFaults(t *testing.T) {
	kinds := func(p int) map[string][]string {
		out := map[string][]string{}
		for _, f := range brownoutFaults(p) {
			out[f.Key] = append(out[f.Key], f.Kind)
		}
		return out
	}
	keysPerAccount := len(brownoutModes) * (1 + len(brownoutPhases))
	for _, c := range []struct {
		phase   int
		account map[int][]string
	}{
		{0, nil},
		{1, map[int][]string{brownedAccount: {sim.FaultStatus, sim.FaultSlowFirstToken}}},
		{2, map[int][]string{brownedAccount: {sim.FaultStatus, sim.FaultSlowFirstToken}, downAccount: {sim.FaultStatus, sim.FaultReset}}},
		{3, nil},
	} {
		t.Run(brownoutPhases[c.phase], func(t *testing.T) {
			got := kinds(c.phase)
			if len(got) != len(c.account)*keysPerAccount {
				t.Errorf("faults on %d keys, want %d", len(got), len(c.account)*keysPerAccount)
			}
			for a, want := range c.account {
				for m := range brownoutModes {
					for _, p := range append([]string{""}, brownoutPhases...) {
						if k := simKeyName(m, a, p); !slices.Equal(got[k], want) {
							t.Errorf("%s: %v, want %v", k, got[k], want)
						}
					}
				}
			}
		})
	}
}

// TestPhaseShim checks that the shim files each upstream request under
// its client request's phase whatever header carries the key, and passes
// requests it cannot place through unchanged.
func TestPhaseShim(t *testing.T) {
	var got []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("Api-Key")+"|"+r.Header.Get("X-Api-Key"))
	})
	s := newPhaseShim(next, newSimClock(1))
	s.expect([]brownoutCall{{phase: 0}, {phase: 2}, {phase: 3}})
	send := func(body, header, value string) {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		r.Header.Set(header, value)
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
	send(`{"messages":[{"role":"user","content":"`+requestTag(1)+`hello"}]}`, "Authorization", "Bearer "+simKeyName(1, 0, ""))
	send(`{"messages":[{"content":"`+requestTag(2)+`x"}]}`, "Api-Key", simKeyName(2, 1, ""))
	send(`{"messages":[{"content":"`+requestTag(0)+`x"}]}`, "X-Api-Key", simKeyName(0, 2, ""))
	send(`{"messages":[{"content":"no tag"}]}`, "X-Api-Key", simKeyName(0, 2, ""))
	send(`{"messages":[{"content":"`+requestTag(7)+`out of range"}]}`, "X-Api-Key", simKeyName(0, 2, ""))
	send(`{"messages":[{"content":"`+requestTag(0)+`unknown key"}]}`, "X-Api-Key", "sk-other")
	want := []string{
		"Bearer " + simKeyName(1, 0, PhaseOutage) + "||",
		"|" + simKeyName(2, 1, PhaseRecovered) + "|",
		"||" + simKeyName(0, 2, PhaseHealthy),
		"||" + simKeyName(0, 2, ""),
		"||" + simKeyName(0, 2, ""),
		"||sk-other",
	}
	if !slices.Equal(got, want) {
		t.Errorf("keys\n%q\nwant\n%q", got, want)
	}
	if n := s.untagged.Load(); n != 3 {
		t.Errorf("untagged %d, want 3", n)
	}
	if len(s.hops[1][1]) != 1 || s.hops[1][1][0].account != 0 || len(s.hops[2][2]) != 1 || len(s.hops[0][0]) != 1 {
		t.Errorf("hops %v", s.hops)
	}
}

func TestParseTag(t *testing.T) {
	for _, c := range []struct {
		body string
		id   int
		ok   bool
	}{
		{requestTag(0), 0, true},
		{`{"content":"` + requestTag(123456) + `words"}`, 123456, true},
		{`{"content":"bench-ref-x"}`, 0, false},
		{`{"content":"plain"}`, 0, false},
	} {
		id, ok := parseTag([]byte(c.body))
		if id != c.id || ok != c.ok {
			t.Errorf("%s: %d %v, want %d %v", c.body, id, ok, c.id, c.ok)
		}
	}
}

func TestBrownoutBars(t *testing.T) {
	row := func(mode, phase string, n, ok int, p99, hedges float64) BrownoutRow {
		r := BrownoutRow{OK: ok, Hedges: hedges}
		r.Mode, r.Phase, r.Requests, r.P99MS = mode, phase, n, p99
		r.SuccessRate = float64(ok) / float64(n)
		return r
	}
	var rows []BrownoutRow
	for _, m := range []string{ModeNoFailover, ModeFailover, ModeHedge} {
		for _, p := range brownoutPhases {
			ok, p99, hedges := 100, 3000.0, 5.0
			switch {
			case m == ModeNoFailover && p == PhaseBrownout:
				ok = 90 // the baseline has no bars
			case m == ModeFailover && p == PhaseOutage:
				ok = 99
			case m == ModeHedge && p == PhaseBrownout:
				p99, hedges = 4500, 10 // exactly at both limits
			case m == ModeHedge && p == PhaseOutage:
				hedges = 11
			}
			rows = append(rows, row(m, p, 100, ok, p99, hedges))
		}
	}
	var got []bool
	for _, b := range brownoutBars(rows) {
		got = append(got, b.Pass)
	}
	want := []bool{
		true, true, false, true, // failover success by phase
		true, true, true, true, // hedge success by phase
		true,                    // hedge p99 ratio 1.5
		true, true, false, true, // hedge budget by phase
	}
	if !slices.Equal(got, want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
}

// TestLatencyFloor checks the yardstick against the model it draws from:
// the median sits near the median time to first token plus half the
// mean reply, and the tail is ordered.
func TestLatencyFloor(t *testing.T) {
	p50, p95, p99 := latencyFloor(1, 50_000)
	if p50 < 1200*time.Millisecond || p50 > 1500*time.Millisecond || p95 <= p50 || p99 <= p95 || p99 > brownoutLatency.TTFTMax+time.Second {
		t.Errorf("floor p50 %s, p95 %s, p99 %s", p50, p95, p99)
	}
}

func TestPathOf(t *testing.T) {
	t0 := time.Unix(1000, 0)
	hops := func(gaps ...time.Duration) []upstreamHop {
		h := []upstreamHop{{at: t0}}
		for _, g := range gaps {
			h = append(h, upstreamHop{at: t0.Add(g)})
		}
		return h
	}
	for _, c := range []struct {
		name string
		hops []upstreamHop
		want int
	}{
		{"none", nil, pathOne},
		{"one", hops(), pathOne},
		{"5xx failed over", hops(30 * time.Millisecond), pathRetry},
		{"hedged at p95", hops(2 * time.Second), pathHedge},
		{"hedged late", hops(7 * time.Second), pathHedge},
		{"after the first-token timeout", hops(8 * time.Second), pathTimeout},
		{"the second decides", hops(2*time.Second, 8*time.Second), pathHedge},
	} {
		if got := pathOf(c.hops); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// fakeBrownout is a report with every row and bar, without a run: seed
// s, hedged p99 healthy and brownout as given.
func fakeBrownout(seed int64, healthyP99, brownoutP99 float64) *BrownoutReport {
	rep := &BrownoutReport{Conditions: BrownoutConditions{Seed: seed, LoadAvgStart: "0.50 0.40 0.30 1/99 123", LoadAvgEnd: "0.70 0.50 0.40 1/99 124"}}
	for _, m := range []string{ModeNoFailover, ModeFailover, ModeHedge} {
		for _, p := range brownoutPhases {
			r := BrownoutRow{OK: 100, Hedges: 5}
			r.Mode, r.Phase, r.Requests, r.SuccessRate, r.P99MS = m, p, 100, 1, healthyP99
			if m == ModeHedge && p == PhaseBrownout {
				r.P99MS = brownoutP99
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	rep.Bars = brownoutBars(rep.Rows)
	return rep
}

// TestBrownoutSeries checks the series' summary and JSON lines: one per
// run with its seed, then the summary with the bars' tally and the
// medians.
func TestBrownoutSeries(t *testing.T) {
	s := &BrownoutSeries{Reports: []*BrownoutReport{
		fakeBrownout(1, 3000, 4000), fakeBrownout(2, 3000, 9000), fakeBrownout(3, 3000, 3600),
	}}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"=== seed 1 (run 1 of 3) ===", "=== seed 3 (run 3 of 3) ===", "=== summary: 3 runs, seeds 1, 2, 3",
		"MISS  2 of 3  failover+latency+hedge: brownout p99 <= 1.5x healthy p99",
		"HELD  3 of 3  failover, outage: success 100%", "0.50 -> 0.70", "13 of 13", "12 of 13",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !regexp.MustCompile(`(?m)^ *median +3000ms +4000ms +1\.33x`).MatchString(text.String()) {
		t.Errorf("no median line of 3000ms, 4000ms, 1.33x:\n%s", text.String())
	}
	var out bytes.Buffer
	if err := s.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d JSON lines, want one per run and a summary:\n%s", len(lines), out.String())
	}
	for i, l := range lines[:3] {
		var run struct {
			Seed    int64            `json:"seed"`
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal([]byte(l), &run); err != nil || run.Seed != int64(i+1) || len(run.Results) != 12 {
			t.Errorf("line %d: seed %d, %d results, err %v: %s", i, run.Seed, len(run.Results), err, l)
		}
	}
	var sum struct {
		Summary struct {
			Seeds  []int64          `json:"seeds"`
			Bars   []BarTally       `json:"bars"`
			Median []BrownoutResult `json:"median"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[3]), &sum); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Summary.Seeds, []int64{1, 2, 3}) || len(sum.Summary.Bars) != 13 || len(sum.Summary.Median) != 12 {
		t.Fatalf("summary %+v", sum.Summary)
	}
	if b := sum.Summary.Bars[8]; b.Held != 2 || b.Runs != 3 {
		t.Errorf("p99 bar %+v, want held 2 of 3", b)
	}
	if m := sum.Summary.Median[9]; m.Mode != ModeHedge || m.Phase != PhaseBrownout || m.P99MS != 4000 {
		t.Errorf("median hedge brownout %+v, want p99 4000", m)
	}
}
