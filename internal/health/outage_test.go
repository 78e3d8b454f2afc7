package health

import (
	"testing"
	"time"
)

// outage drives one deployment, "primary", through an outage on a fake
// clock: a request arrives every `every` from the start until `until`;
// the ones the breaker admits are sent to a fake deployment that fails
// every request sent before `down` has passed and serves every one sent
// after. A request takes `latency` and is then reported on its permit,
// or (byName) the way the gateway does it: by name, then Release.
type outage struct {
	every, latency, down, until time.Duration
	byName                      bool
}

// outageRun is what an outage run saw, as offsets from its start.
type outageRun struct {
	admitted  []time.Duration // every request the breaker let through
	probes    []time.Duration // those admitted as half-open probes
	opened    time.Duration   // when the circuit was first seen open; -1: never
	inFlight  int             // most probes out at once
	refused   int             // requests the breaker turned away (to the fallback)
	lastState State
}

type flight struct {
	p      Permit
	sent   time.Duration
	end    time.Duration
	failed bool
}

func (o outage) run(tr *Tracker, c *clock) outageRun {
	const name = "primary"
	start := c.Now()
	r := outageRun{opened: -1}
	var out []flight
	finish := func(f *flight) {
		switch {
		case o.byName && f.failed:
			tr.Failure(name, 0)
		case o.byName:
			tr.Success(name)
		case f.failed:
			f.p.Failure(0)
		default:
			f.p.Success()
		}
		f.p.Release()
	}
	for at := time.Duration(0); at <= o.until; at += o.every {
		c.Advance(start.Add(at).Sub(c.Now()))
		live := out[:0]
		for i := range out {
			if out[i].end <= at {
				finish(&out[i])
			} else {
				live = append(live, out[i])
			}
		}
		out = live
		if r.opened < 0 && tr.Snapshot(name).State != Closed {
			r.opened = at
		}
		p, ok := tr.Acquire(name)
		if !ok {
			r.refused++
			continue
		}
		r.admitted = append(r.admitted, at)
		if p.Probe() {
			r.probes = append(r.probes, at)
		}
		f := flight{p: p, sent: at, end: at + o.latency, failed: at < o.down}
		if o.latency == 0 {
			finish(&f)
		} else {
			out = append(out, f)
		}
		r.inFlight = max(r.inFlight, probesOut(out))
	}
	r.lastState = tr.Snapshot(name).State
	return r
}

func probesOut(out []flight) int {
	n := 0
	for i := range out {
		if out[i].p.Probe() {
			n++
		}
	}
	return n
}

// TestRecoveryAfterOutage is issue 12: the primary is down for a while,
// then healthy, with a request every few seconds. The first request after
// recovery that the breaker admits must come within one jittered
// interval (OpenFor × 1.2) plus one request gap; under the old rule
// (30 s, doubling on every failed probe) it came up to a minute later.
func TestRecoveryAfterOutage(t *testing.T) {
	tests := []struct {
		name string
		o    outage
		rand func() float64
	}{
		{"60s outage, seed 1", outage{every: 4 * time.Second, down: time.Minute}, seeded(1)},
		{"60s outage, seed 2", outage{every: 4 * time.Second, down: time.Minute}, seeded(2)},
		{"60s outage, longest openings", outage{every: 4 * time.Second, down: time.Minute}, func() float64 { return 1 }},
		{"60s outage, shortest openings", outage{every: 4 * time.Second, down: time.Minute}, func() float64 { return 0 }},
		{"60s outage, reported by name", outage{every: 4 * time.Second, down: time.Minute, byName: true}, seeded(3)},
		{"61s outage", outage{every: 4 * time.Second, down: 61 * time.Second}, seeded(4)},
		{"10 minute outage", outage{every: 4 * time.Second, down: 10 * time.Minute}, seeded(5)},
		{"60s outage, a request a second", outage{every: time.Second, down: time.Minute}, seeded(6)},
		{"60s outage, slow requests", outage{every: 4 * time.Second, latency: 3 * time.Second, down: time.Minute}, seeded(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			tr.SetRand(tc.rand)
			o := tc.o
			o.until = o.down + 2*time.Minute
			r := o.run(tr, c)

			if r.opened < 0 || r.opened > 5*o.every+o.latency {
				t.Fatalf("circuit opened at %v, want within the first 5 failures", r.opened)
			}
			first := time.Duration(-1)
			for _, at := range r.admitted {
				if at >= o.down {
					first = at
					break
				}
			}
			limit := time.Duration(float64(DefaultOpenFor)*(1+DefaultJitter)) + o.every + o.latency
			if first < 0 {
				t.Fatalf("no request admitted after recovery (admitted: %v)", r.admitted)
			}
			if first-o.down > limit {
				t.Fatalf("first admitted request %v after recovery, want within %v (admitted: %v)", first-o.down, limit, r.admitted)
			}
			// From then on the circuit is closed and takes every request.
			n := 0
			for _, at := range r.admitted {
				if at >= first {
					n++
				}
			}
			if want := int((o.until-first)/o.every) + 1; n != want || r.lastState != Closed {
				t.Fatalf("after recovery %d requests admitted, want all %d; state %v", n, want, r.lastState)
			}
		})
	}
}

// TestOneProbePerInterval sends a request every 100 ms to a deployment
// that is down: once its circuit has opened, it must get one probe per
// jittered interval (OpenFor × [0.8, 1.2]), the next as soon as the
// previous one failed and the interval passed: never a burst, never
// starved.
func TestOneProbePerInterval(t *testing.T) {
	const every = 100 * time.Millisecond
	tests := []struct {
		name    string
		latency time.Duration
		byName  bool
		seed    uint64
	}{
		{"instant failures", 0, false, 1},
		{"instant failures by name", 0, true, 2},
		{"300ms failures", 300 * time.Millisecond, false, 3},
		{"300ms failures by name", 300 * time.Millisecond, true, 4},
		{"2s failures", 2 * time.Second, false, 5},
		{"9s failures", 9 * time.Second, false, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			tr.SetRand(seeded(tc.seed))
			o := outage{every: every, latency: tc.latency, down: 10 * time.Minute, until: 2 * time.Minute, byName: tc.byName}
			r := o.run(tr, c)

			if r.opened < 0 {
				t.Fatal("circuit never opened")
			}
			var after []time.Duration // admitted once the circuit had opened
			for _, at := range r.admitted {
				if at >= r.opened {
					after = append(after, at)
				}
			}
			if len(after) != len(r.probes) {
				t.Fatalf("%d requests admitted after the circuit opened, %d of them probes: want probes only", len(after), len(r.probes))
			}
			if r.inFlight > 1 {
				t.Fatalf("%d probes out at once, want 1", r.inFlight)
			}
			lo := tc.latency + time.Duration(float64(DefaultOpenFor)*(1-DefaultJitter))
			hi := tc.latency + time.Duration(float64(DefaultOpenFor)*(1+DefaultJitter)) + every
			for i := 1; i < len(r.probes); i++ {
				if gap := r.probes[i] - r.probes[i-1]; gap < lo || gap > hi {
					t.Fatalf("probes %d and %d are %v apart, want %v to %v (probes at %v)", i-1, i, gap, lo, hi, r.probes)
				}
			}
			span := o.until - r.opened - tc.latency
			if fewest, most := int(span/hi), int(span/lo)+1; len(r.probes) < fewest || len(r.probes) > most {
				t.Fatalf("%d probes in %v, want %d to %d", len(r.probes), span, fewest, most)
			}
		})
	}
}

// TestFlapBackoff checks the back-off rule: within an outage the interval
// stays put however many probes fail; an outage that begins less than
// FlapWindow after the last one ended doubles the last outage's interval,
// up to MaxOpenFor; any other outage starts again from OpenFor.
func TestFlapBackoff(t *testing.T) {
	type episode struct {
		closedFor    time.Duration // before it, since the last close; ignored for the first
		failedProbes int
	}
	flapping := func(n int, closedFor time.Duration) []episode {
		o := make([]episode, n)
		for i := range o {
			o[i].closedFor = closedFor
		}
		return o
	}
	s := time.Second
	tests := []struct {
		name      string
		cfg       Breaker
		outages   []episode
		interval  []time.Duration // of each outage
		wantFlaps []int
	}{
		{"flapping doubles up to MaxOpenFor", Breaker{}, flapping(9, time.Minute),
			[]time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s, 300 * s}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"failed probes do not back off, flaps do", Breaker{}, []episode{{0, 3}, {30 * s, 3}, {30 * s, 3}},
			[]time.Duration{5 * s, 10 * s, 20 * s}, []int{0, 1, 2}},
		{"closed for FlapWindow starts from OpenFor", Breaker{}, []episode{{0, 0}, {time.Minute, 1}, {time.Minute, 0}, {2 * time.Minute, 0}, {time.Minute, 0}},
			[]time.Duration{5 * s, 10 * s, 20 * s, 5 * s, 10 * s}, []int{0, 1, 2, 0, 1}},
		{"just inside FlapWindow is a flap", Breaker{}, []episode{{0, 0}, {2*time.Minute - 1, 0}},
			[]time.Duration{5 * s, 10 * s}, []int{0, 1}},
		{"a long quiet period starts from OpenFor", Breaker{}, []episode{{0, 2}, {time.Minute, 0}, {time.Minute, 0}, {time.Minute, 0}, {time.Hour, 2}},
			[]time.Duration{5 * s, 10 * s, 20 * s, 40 * s, 5 * s}, []int{0, 1, 2, 3, 0}},
		{"custom OpenFor, cap and FlapWindow", Breaker{OpenFor: s, MaxOpenFor: 3 * s, FlapWindow: 10 * s},
			[]episode{{0, 0}, {5 * s, 0}, {5 * s, 2}, {5 * s, 0}, {10 * s, 0}},
			[]time.Duration{s, 2 * s, 3 * s, 3 * s, s}, []int{0, 1, 2, 3, 0}},
		{"MaxOpenFor at OpenFor never backs off", Breaker{MaxOpenFor: DefaultOpenFor}, flapping(3, 0),
			[]time.Duration{5 * s, 5 * s, 5 * s}, []int{0, 1, 2}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			tr.SetRand(seeded(uint64(i)))
			tr.SetDefaultBreaker(tc.cfg)
			cfg := tc.cfg.withDefaults()
			for k, o := range tc.outages {
				if k > 0 {
					c.Advance(o.closedFor)
				}
				openCircuit(t, tr, "a")
				for probe := 0; ; probe++ {
					st := tr.Snapshot("a")
					if st.IntervalMS != tc.interval[k].Milliseconds() || st.Flaps != tc.wantFlaps[k] || st.Outages != k+1 || st.FailedProbes != probe {
						t.Fatalf("outage %d, after %d failed probes: %+v, want interval %v, flaps %d", k, probe, st, tc.interval[k], tc.wantFlaps[k])
					}
					checkOpening(t, st, tc.interval[k], &cfg)
					c.Advance(st.NextProbeAt.Sub(c.Now()))
					p, ok := tr.Acquire("a")
					if !ok || !p.Probe() {
						t.Fatalf("outage %d: no probe at the end of the opening", k)
					}
					if probe == o.failedProbes {
						p.Success()
						break
					}
					p.Failure(0)
				}
				if st := tr.Snapshot("a"); st.State != Closed || !st.ClosedAt.Equal(c.Now()) || st.IntervalMS != 0 || st.Flaps != 0 {
					t.Fatalf("outage %d: after a good probe: %+v", k, st)
				}
			}
		})
	}
}

// checkOpening fails unless st is an opening of an outage with the given
// interval: interval × [1-Jitter, 1+Jitter], at most MaxOpenFor.
func checkOpening(t *testing.T, st Status, interval time.Duration, c *Breaker) {
	t.Helper()
	j := max(c.Jitter, 0)
	lo := time.Duration(float64(interval) * (1 - j))
	hi := min(time.Duration(float64(interval)*(1+j)), c.MaxOpenFor)
	if d := st.NextProbeAt.Sub(st.OpenedAt); st.State != Open || d < lo || d > hi {
		t.Fatalf("opening of %v (%+v), want open for %v to %v", d, st, lo, hi)
	}
}

// TestJitter checks that openings spread over the whole jitter range and
// no further, and that two trackers seeded differently do not open in
// lockstep while one seed repeats itself.
func TestJitter(t *testing.T) {
	const n = 200
	tests := []struct {
		name   string
		cfg    Breaker
		lo, hi time.Duration // bounds of an opening
	}{
		{"default ±20%", Breaker{}, 4 * time.Second, 6 * time.Second},
		{"±50%", Breaker{OpenFor: 10 * time.Second, Jitter: 0.5}, 5 * time.Second, 15 * time.Second},
		{"capped at MaxOpenFor", Breaker{OpenFor: 10 * time.Second, MaxOpenFor: 10 * time.Second}, 8 * time.Second, 10 * time.Second},
		{"none", Breaker{Jitter: -1}, 5 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			openings := func(seed uint64) []time.Duration {
				c := newClock()
				tr := NewTracker(c.Now)
				tr.SetRand(seeded(seed))
				tr.SetDefaultBreaker(tc.cfg)
				openCircuit(t, tr, "a")
				var got []time.Duration
				for range n {
					st := tr.Snapshot("a")
					got = append(got, st.NextProbeAt.Sub(st.OpenedAt))
					c.Advance(st.NextProbeAt.Sub(c.Now()))
					p, _ := tr.Acquire("a")
					p.Failure(0)
				}
				return got
			}
			one, two, again := openings(1), openings(2), openings(1)
			shortest, longest := one[0], one[0]
			same := 0
			for i, d := range one {
				if d < tc.lo || d > tc.hi {
					t.Fatalf("opening %d lasts %v, want %v to %v", i, d, tc.lo, tc.hi)
				}
				shortest, longest = min(shortest, d), max(longest, d)
				if d == two[i] {
					same++
				}
				if d != again[i] {
					t.Fatalf("opening %d: %v, then %v with the same seed", i, d, again[i])
				}
			}
			if tc.lo == tc.hi {
				if same != n {
					t.Fatalf("without jitter, %d of %d openings differ between seeds", n-same, n)
				}
				return
			}
			if slack := (tc.hi - tc.lo) / 20; shortest > tc.lo+slack || longest < tc.hi-slack {
				t.Fatalf("openings span %v to %v, want about %v to %v", shortest, longest, tc.lo, tc.hi)
			}
			if same > n/20 {
				t.Fatalf("%d of %d openings are the same with seeds 1 and 2", same, n)
			}
		})
	}
}

// TestJitterSpreadsDeployments opens many deployments of one tracker at
// the same instant: their probes must not all come at once.
func TestJitterSpreadsDeployments(t *testing.T) {
	c := newClock()
	tr := NewTracker(c.Now)
	tr.SetRand(seeded(1))
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	at := map[time.Time]bool{}
	for _, name := range names {
		openCircuit(t, tr, name)
		at[tr.Snapshot(name).NextProbeAt] = true
	}
	if len(at) != len(names) {
		t.Fatalf("%d deployments opened together probe at %d distinct times, want %d", len(names), len(at), len(names))
	}
}
