package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tiny is the smallest run that still exercises every part.
var tiny = Options{Concurrency: 2, Duration: 100 * time.Millisecond, Rounds: 1}

// TestOverheadReport runs the benchmark with tiny settings and checks the
// shape of what it prints, never its speed.
func TestOverheadReport(t *testing.T) {
	base := runtime.NumGoroutine()
	var progress bytes.Buffer
	opt := tiny
	opt.Progress = &progress
	rep, err := Overhead(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	text := renderReport(t, rep)
	for _, want := range []string{
		"GOMAXPROCS", "loadavg", "concurrency 2", "1 rounds",
		"\nnon-stream\n", "\nstream (", "requests", "errors", "req/s", "p50", "p99", "ttfb p50",
		"llmux vs direct: added p50", "llmux vs proxy:", "bar: non-stream throughput",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(progress.String(), "round 1/1:") {
		t.Errorf("progress = %q, want a line for round 1/1", progress.String())
	}
	checkJSONLine(t, text)
	checkNoErrors(t, rep)
	waitGoroutines(t, base)
}

func checkJSONLine(t *testing.T, text string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.HasPrefix(l, `{"bench":"overhead"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want exactly one JSON line, got %d in:\n%s", len(lines), text)
	}
	if !strings.HasSuffix(strings.TrimSpace(text), lines[0]) {
		t.Errorf("the JSON line is not last")
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("JSON line does not parse: %v\n%s", err, lines[0])
	}
	cond, _ := got["conditions"].(map[string]any)
	for _, k := range []string{"date", "go", "goos", "goarch", "num_cpu", "gomaxprocs", "loadavg_start",
		"concurrency", "duration_ms", "rounds", "body_bytes"} {
		if _, ok := cond[k]; !ok {
			t.Errorf("conditions lack %q", k)
		}
	}
	for _, mode := range []string{"non_stream", "stream"} {
		m, ok := got[mode].(map[string]any)
		if !ok {
			t.Errorf("JSON lacks mode %q", mode)
			continue
		}
		for _, k := range []string{"rps_direct", "rps_proxy", "rps_llmux", "added_p50_ms", "added_p99_ms",
			"ratio_llmux_vs_proxy", "ratio_llmux_vs_direct"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s.%s missing or not a number", mode, k)
			}
		}
		for _, k := range []string{"p50_ms", "p99_ms", "errors", "requests"} {
			per, _ := m[k].(map[string]any)
			for _, target := range []string{"direct", "proxy", "llmux"} {
				if _, ok := per[target].(float64); !ok {
					t.Errorf("%s.%s.%s missing or not a number", mode, k, target)
				}
			}
		}
	}
	if bar, _ := got["bar"].(map[string]any); bar["pass"] == nil {
		t.Errorf("JSON lacks bar.pass")
	}
}

func checkNoErrors(t *testing.T, rep *Report) {
	t.Helper()
	for name, m := range map[string]*ModeResult{"non_stream": &rep.NonStream, "stream": &rep.Stream} {
		for _, target := range targetOrder {
			if n := m.Errors[target] + m.WarmupErrors[target]; n != 0 {
				t.Errorf("%s %s: %d errors, first: %s", name, target, n, m.FirstError[target])
			}
			if m.Requests[target] == 0 {
				t.Errorf("%s %s: no requests", name, target)
			}
		}
	}
}

// waitGoroutines fails if the goroutines the run started do not end.
// Connections closed by the servers end their client goroutines
// asynchronously, hence the wait.
func waitGoroutines(t *testing.T, base int) {
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

// TestOverheadCancel checks that cancelling the context stops a run that
// would otherwise take minutes, and leaves nothing running. Whether the
// cancel lands in the probe, the warm-up or a round does not matter.
func TestOverheadCancel(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := Overhead(ctx, Options{Concurrency: 2, Duration: time.Minute, Rounds: 3})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitGoroutines(t, base)
}

func TestQuantileAndMedian(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0, 1}, {1, 10}} {
		if got := quantile(d, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
	for _, c := range []struct {
		name string
		xs   []float64
		want float64
	}{{"odd", []float64{3, 1, 2}, 2}, {"even", []float64{4, 1, 3, 2}, 2.5}, {"empty", nil, 0}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median %s = %v, want %v", c.name, got, c.want)
		}
	}
	if got := ratios([]float64{2, 3, 4}, []float64{1, 0, 2}); len(got) != 2 || got[0] != 2 || got[1] != 2 {
		t.Errorf("ratios skip zero denominators: got %v", got)
	}
}

func TestBar(t *testing.T) {
	targets := []target{{name: "direct"}, {name: "proxy"}, {name: "llmux"}}
	one := func(d time.Duration) []time.Duration { return []time.Duration{d} }
	for _, c := range []struct {
		name      string
		proxyRPS  []float64
		llmuxRPS  []float64
		llmuxErrs int
		pass      bool
		ratio     float64
	}{
		{"at the bar", []float64{100, 200, 300}, []float64{70, 140, 210}, 0, true, 0.7},
		{"below the bar", []float64{100, 100, 100}, []float64{60, 90, 50}, 0, false, 0.6},
		{"median of round ratios", []float64{100, 100, 100}, []float64{10, 80, 200}, 0, true, 0.8},
		{"errors through llmux", []float64{100}, []float64{100}, 1, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ser := [numModes][]series{}
			for m := range numModes {
				ser[m] = []series{
					{rps: []float64{500, 500, 500}, total: one(1), ttfb: one(1), ok: 1},
					{rps: c.proxyRPS, total: one(2), ttfb: one(2), ok: 1},
					{rps: c.llmuxRPS, total: one(3), ttfb: one(3), ok: 1, errs: c.llmuxErrs},
				}
			}
			r := newReport(Conditions{}, targets, &ser)
			if r.Bar.Pass != c.pass || r.Bar.Value != c.ratio {
				t.Errorf("bar = %+v, want pass %v at ratio %v", r.Bar, c.pass, c.ratio)
			}
			if !c.pass && r.Bar.Reason == "" {
				t.Errorf("a failed bar gives no reason")
			}
		})
	}
}
