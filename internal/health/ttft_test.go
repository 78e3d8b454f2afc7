package health

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestTTFTEWMA(t *testing.T) {
	type obs struct {
		after time.Duration // since the previous sample
		ttft  time.Duration
		times int
	}
	tests := []struct {
		name     string
		halfLife time.Duration // 0: default
		samples  []obs
		want     time.Duration
		tol      time.Duration
	}{
		{"one sample", 0, []obs{{0, 800 * time.Millisecond, 1}}, 800 * time.Millisecond, 0},
		{"same instant weighs alike", 0, []obs{{0, time.Second, 1}, {0, 3 * time.Second, 1}}, 2 * time.Second, 0},
		// 10 s at t0 weighs ½ one half-life later: (½·10 + 2) / 1.5.
		{"one half-life later", 0, []obs{{0, 10 * time.Second, 1}, {30 * time.Second, 2 * time.Second, 1}}, 4666666667, 1},
		{"custom half-life", 10 * time.Second, []obs{{0, 10 * time.Second, 1}, {10 * time.Second, 2 * time.Second, 1}}, 4666666667, 1},
		{"by time, not by count", 0, []obs{{0, 10 * time.Second, 1000}, {30 * time.Second, 2 * time.Second, 1000}}, 4666666667, 1},
		// 100 slow samples 10 minutes ago weigh 100·2⁻²⁰ together.
		{"slow long ago recovers", 0, []obs{{0, 10 * time.Second, 100}, {10 * time.Minute, time.Second, 1}}, time.Second, time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			tr.SetTTFTHalfLife(tc.halfLife)
			for _, o := range tc.samples {
				c.Advance(o.after)
				for range o.times {
					tr.ObserveTTFT("a", o.ttft)
				}
			}
			got := tr.TTFT("a").EWMA
			if diff := got - tc.want; diff < -tc.tol || diff > tc.tol {
				t.Fatalf("EWMA = %v, want %v ± %v", got, tc.want, tc.tol)
			}
			// Reading later does not move it: it changes only with samples.
			c.Advance(time.Hour)
			if again := tr.TTFT("a").EWMA; again != got {
				t.Fatalf("EWMA moved without samples: %v → %v", got, again)
			}
		})
	}
}

func TestTTFTQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, f func(i int) time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
	}{
		{"constant", gen(1000, func(int) time.Duration { return 500 * time.Millisecond })},
		{"uniform 1 ms..10 s", gen(10000, func(i int) time.Duration { return time.Duration(i+1) * time.Millisecond })},
		{"log-normal around 2 s", gen(5000, func(int) time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*0.8) * float64(2*time.Second))
		})},
		{"bimodal 200 ms / 8 s", gen(2000, func(i int) time.Duration {
			if i%10 == 0 {
				return 8*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond
			}
			return 200*time.Millisecond + time.Duration(rng.IntN(50))*time.Millisecond
		})},
		{"below 1 ms", gen(100, func(i int) time.Duration { return time.Duration(i) * 10 * time.Microsecond })},
		{"above 134 s", gen(100, func(i int) time.Duration { return 3*time.Minute + time.Duration(i)*time.Second })},
		{"one sample", []time.Duration{1234 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			for i, d := range tc.samples {
				if i%500 == 0 {
					c.Advance(time.Second) // spread over a few slots
				}
				tr.ObserveTTFT("a", d)
			}
			lat := tr.TTFT("a")
			if lat.Samples != len(tc.samples) {
				t.Fatalf("Samples = %d, want %d", lat.Samples, len(tc.samples))
			}
			sorted := slices.Sorted(slices.Values(tc.samples))
			for _, q := range []struct {
				name     string
				perMille int
				got      time.Duration
			}{{"p50", 500, lat.P50}, {"p95", 950, lat.P95}, {"p99", 990, lat.P99}} {
				rank := max((q.perMille*len(sorted)+999)/1000, 1)
				truth := sorted[rank-1]
				if gb, tb := bucketOf(q.got), bucketOf(truth); gb < tb-1 || gb > tb+1 {
					t.Errorf("%s = %v (bucket %d), truth %v (bucket %d): more than one bucket apart", q.name, q.got, gb, truth, tb)
				}
				if lo, hi := bucketBounds(bucketOf(truth)); lo < hi {
					width := time.Duration(hi-lo) * time.Microsecond
					if diff := q.got - truth; diff < -width || diff > width {
						t.Errorf("%s = %v, truth %v: off by more than a bucket width %v", q.name, q.got, truth, width)
					}
				}
			}
		})
	}
}

func TestTTFTWindow(t *testing.T) {
	c := newClock() // t0 starts a 10 s slot
	tr := NewTracker(c.Now)
	for range 100 {
		tr.ObserveTTFT("a", time.Second)
	}
	c.Advance(60 * time.Second)
	for range 100 {
		tr.ObserveTTFT("a", 5*time.Second)
	}
	steps := []struct {
		at          time.Duration // since t0
		samples     int
		p50         time.Duration // approximate: checked by bucket
		observeLate bool          // add a sample stamped 3 minutes ago
	}{
		{60 * time.Second, 200, time.Second, false},
		{119 * time.Second, 200, time.Second, false},     // t0's slot still in the window
		{120 * time.Second, 100, 5 * time.Second, false}, // it left
		{179 * time.Second, 100, 5 * time.Second, true},  // a sample too old for the window
		{180 * time.Second, 0, 0, false},                 // all gone
		{10 * time.Minute, 0, 0, false},
	}
	start := time.Unix(1_000_000, 0)
	for _, s := range steps {
		c.Advance(start.Add(s.at).Sub(c.Now()))
		if s.observeLate {
			// The Tracker's clock can run backwards (an injected one):
			// a sample older than the window counts only in the EWMA.
			c.Advance(-3 * time.Minute)
			tr.ObserveTTFT("a", time.Hour)
			c.Advance(3 * time.Minute)
		}
		lat := tr.TTFT("a")
		if lat.Samples != s.samples {
			t.Fatalf("at t0+%v: Samples = %d, want %d", s.at, lat.Samples, s.samples)
		}
		if s.samples == 0 {
			if lat.P50 != 0 || lat.P99 != 0 || lat.EWMA == 0 {
				t.Fatalf("at t0+%v: %+v, want zero quantiles and the old EWMA", s.at, lat)
			}
			continue
		}
		if bucketOf(lat.P50) != bucketOf(s.p50) {
			t.Fatalf("at t0+%v: P50 = %v, want about %v", s.at, lat.P50, s.p50)
		}
	}
	// A new sample after the quiet spell fills the window again.
	tr.ObserveTTFT("a", 300*time.Millisecond)
	if lat := tr.TTFT("a"); lat.Samples != 1 || bucketOf(lat.P99) != bucketOf(300*time.Millisecond) {
		t.Fatalf("after the quiet spell: %+v", lat)
	}
}

func TestTTFTUnknown(t *testing.T) {
	tr := NewTracker(newClock().Now)
	if got := tr.TTFT("nobody"); got != (Latency{}) {
		t.Fatalf("unknown deployment: %+v", got)
	}
	tr.Failure("known", 0)
	if got := tr.TTFT("known"); got != (Latency{}) {
		t.Fatalf("deployment without samples: %+v", got)
	}
	tr.ObserveTTFT("neg", -time.Second)
	if got := tr.TTFT("neg"); got.Samples != 1 || got.EWMA != 0 || got.P99 > time.Millisecond {
		t.Fatalf("negative TTFT not taken as 0: %+v", got)
	}
}

func TestHistogramBuckets(t *testing.T) {
	prevHi := int64(0)
	for b := range histBuckets {
		lo, hi := bucketBounds(b)
		if lo != prevHi {
			t.Fatalf("bucket %d starts at %d µs, previous ended at %d", b, lo, prevHi)
		}
		for _, us := range []int64{lo, max(hi-1, lo)} {
			if got := bucketOf(time.Duration(us) * time.Microsecond); got != b {
				t.Fatalf("bucketOf(%d µs) = %d, want %d", us, got, b)
			}
		}
		if b > 0 && b < histBuckets-1 && float64(hi-lo)/float64(lo) > 1.0/8 {
			t.Fatalf("bucket %d [%d, %d) µs wider than 1/8 of its start", b, lo, hi)
		}
		prevHi = hi
	}
	if got := bucketOf(time.Hour); got != histBuckets-1 {
		t.Fatalf("bucketOf(1h) = %d, want the overflow bucket", got)
	}
}
