package health

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// play runs a script on name: "f" a failure, "s" a success (each through
// the Tracker's permit-less calls), "+10s" advances the clock.
func play(t *testing.T, tr *Tracker, c *clock, name, script string) {
	t.Helper()
	for _, tok := range strings.Fields(script) {
		if d, ok := strings.CutPrefix(tok, "+"); ok {
			dur, err := time.ParseDuration(d)
			if err != nil {
				t.Fatalf("bad script token %q", tok)
			}
			c.Advance(dur)
			continue
		}
		for _, r := range tok {
			switch r {
			case 'f':
				tr.Failure(name, 0)
			case 's':
				tr.Success(name)
			default:
				t.Fatalf("bad script token %q", tok)
			}
		}
	}
}

func rep(s string, n int) string { return strings.Repeat(s, n) }

func TestBreakerOpens(t *testing.T) {
	noStreak := Breaker{ConsecutiveFailures: -1}
	tests := []struct {
		name   string
		cfg    Breaker
		script string
		want   State
	}{
		{"4 failures in a row stay closed", Breaker{}, "ffff", Closed},
		{"5 failures in a row open", Breaker{}, "fffff", Open},
		{"a success breaks the streak", Breaker{}, "ffffsffff", Closed},
		{"custom streak of 2", Breaker{ConsecutiveFailures: 2}, "sfsff", Open},
		{"all failing but below MinRequests", noStreak, rep("f", 19), Closed},
		{"all failing at MinRequests", noStreak, rep("f", 20), Open},
		{"rate below ErrorRate", noStreak, rep("s", 11) + rep("f", 9), Closed},
		{"rate at ErrorRate", noStreak, rep("s", 10) + rep("f", 10), Open},
		{"interleaved rate at ErrorRate", Breaker{}, rep("sf", 10), Open},
		{"interleaved rate below ErrorRate", Breaker{}, rep("ssf", 10), Closed},
		{"custom MinRequests and rate", Breaker{ConsecutiveFailures: -1, MinRequests: 4, ErrorRate: 0.75}, "sfff", Open},
		{"custom rate not reached", Breaker{ConsecutiveFailures: -1, MinRequests: 4, ErrorRate: 0.75}, "ssff", Closed},
		{"errors age out of the window", noStreak, rep("f", 15) + " +30s " + rep("f", 10), Closed},
		{"errors still in the window", noStreak, rep("f", 15) + " +26s " + rep("f", 5), Open},
		{"custom window", Breaker{ConsecutiveFailures: -1, Window: 5 * time.Second}, rep("f", 15) + " +5s " + rep("f", 19), Closed},
		{"rate trigger disabled", Breaker{ConsecutiveFailures: -1, ErrorRate: -1}, rep("f", 100), Closed},
		{"failures while open keep it open", Breaker{}, "fffff ssss", Open},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := NewTracker(c.Now)
			tr.SetBreaker("a", tc.cfg)
			play(t, tr, c, "a", tc.script)
			st := tr.Snapshot("a")
			if st.State != tc.want {
				t.Fatalf("state = %v, want %v (%+v)", st.State, tc.want, st)
			}
			if got, want := tr.Available("a"), tc.want == Closed; got != want {
				t.Fatalf("Available = %v, want %v", got, want)
			}
			if tr.Snapshot("b").State != Closed || !tr.Available("b") {
				t.Fatal("breaker state leaked to another deployment")
			}
		})
	}
}

func TestDefaultBreaker(t *testing.T) {
	c := newClock()
	tr := NewTracker(c.Now)
	tr.SetDefaultBreaker(Breaker{ConsecutiveFailures: 2})
	tr.SetBreaker("own", Breaker{ConsecutiveFailures: 3})
	play(t, tr, c, "a", "ff")
	play(t, tr, c, "own", "ff")
	if got := tr.Snapshot("a").State; got != Open {
		t.Fatalf("default breaker: state %v, want open", got)
	}
	if got := tr.Snapshot("own").State; got != Closed {
		t.Fatalf("own breaker: state %v, want closed", got)
	}
}

// openCircuit opens name's circuit with permit-less failures.
func openCircuit(t *testing.T, tr *Tracker, name string) {
	t.Helper()
	for tr.Snapshot(name).State != Open {
		tr.Failure(name, 0)
		if tr.Failures(name) > 100 {
			t.Fatal("circuit never opened")
		}
	}
}

func TestHalfOpenAdmitsProbes(t *testing.T) {
	for _, probes := range []int{1, 2, 5} {
		t.Run(strings.Repeat("p", probes), func(t *testing.T) {
			c := newClock()
			tr := newTracker(c)
			tr.SetBreaker("a", Breaker{OpenFor: 10 * time.Second, HalfOpenProbes: probes})
			openCircuit(t, tr, "a")
			if _, ok := tr.Acquire("a"); ok {
				t.Fatal("open circuit admitted a request")
			}
			c.Advance(10*time.Second - 1)
			if tr.Available("a") {
				t.Fatal("available before OpenFor passed")
			}
			c.Advance(1)
			if !tr.Available("a") || tr.Snapshot("a").State != HalfOpen {
				t.Fatal("not half-open and available after OpenFor")
			}

			// Many goroutines race for the probe slots.
			const racers = 16
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				permits []Permit
			)
			start := make(chan struct{})
			for range racers {
				wg.Go(func() {
					<-start
					if p, ok := tr.Acquire("a"); ok {
						mu.Lock()
						permits = append(permits, p)
						mu.Unlock()
					}
				})
			}
			close(start)
			wg.Wait()
			if len(permits) != probes {
				t.Fatalf("%d probes admitted, want %d", len(permits), probes)
			}
			for i := range permits {
				if !permits[i].Probe() {
					t.Fatal("half-open permit is not a probe")
				}
			}
			if tr.Available("a") {
				t.Fatal("available with every probe slot taken")
			}
			if got := tr.Snapshot("a").ProbesInFlight; got != probes {
				t.Fatalf("ProbesInFlight = %d, want %d", got, probes)
			}

			// Release frees one slot, once.
			permits[0].Release()
			permits[0].Release()
			if !tr.Available("a") {
				t.Fatal("released slot not free")
			}
			p, ok := tr.Acquire("a")
			if !ok || !p.Probe() {
				t.Fatal("freed slot not handed out")
			}
			if _, ok := tr.Acquire("a"); ok {
				t.Fatal("second Release freed a second slot")
			}
			if tr.Snapshot("a").State != HalfOpen {
				t.Fatal("Release changed the state")
			}
		})
	}
}

// TestProbeOutcome follows one outage: every failed probe opens the
// circuit for the same interval (no back-off within an outage), and a
// good probe closes it.
func TestProbeOutcome(t *testing.T) {
	const openFor, maxOpenFor = 10 * time.Second, 45 * time.Second
	tests := []struct {
		name    string
		reopens int  // probe failures before the final probe
		success bool // outcome of the final probe
	}{
		{"success closes at once", 0, true},
		{"a failed probe re-opens for the same interval", 1, true},
		{"many failed probes do not back off", 8, true},
		{"still failing", 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := newTracker(c)
			tr.SetDefaultBreaker(Breaker{OpenFor: openFor, MaxOpenFor: maxOpenFor})
			openCircuit(t, tr, "a")
			for i := range tc.reopens + 1 {
				st := tr.Snapshot("a")
				if st.State != Open || st.OpenForMS != openFor.Milliseconds() || st.OpenLeftMS != openFor.Milliseconds() ||
					st.IntervalMS != openFor.Milliseconds() || st.FailedProbes != i || st.Flaps != 0 || st.Outages != 1 {
					t.Fatalf("opening %d: %+v, want open for %v after %d failed probes", i, st, openFor, i)
				}
				if !st.OpenedAt.Equal(c.Now()) || !st.NextProbeAt.Equal(c.Now().Add(openFor)) {
					t.Fatalf("opening %d: OpenedAt = %v, NextProbeAt = %v, want %v and %v later", i, st.OpenedAt, st.NextProbeAt, c.Now(), openFor)
				}
				c.Advance(openFor - time.Millisecond)
				if tr.Available("a") {
					t.Fatalf("opening %d: available before %v", i, openFor)
				}
				c.Advance(time.Millisecond)
				if st := tr.Snapshot("a"); st.State != HalfOpen || !st.NextProbeAt.Equal(c.Now()) {
					t.Fatalf("opening %d: after %v: %+v, want half-open, probe now", i, openFor, st)
				}
				p, ok := tr.Acquire("a")
				if !ok || !p.Probe() {
					t.Fatalf("opening %d: no probe after %v", i, openFor)
				}
				if st := tr.Snapshot("a"); !st.NextProbeAt.IsZero() || st.Available {
					t.Fatalf("opening %d: probe out: %+v, want no next probe", i, st)
				}
				if i < tc.reopens || !tc.success {
					p.Failure(0)
				} else {
					p.Success()
				}
			}
			st := tr.Snapshot("a")
			if !tc.success {
				if st.State != Open || st.Available || st.FailedProbes != tc.reopens+1 {
					t.Fatalf("after a failed probe: %+v", st)
				}
				return
			}
			if st.State != Closed || !st.Available || st.OpenForMS != 0 || !st.OpenedAt.IsZero() || st.WindowRequests != 0 ||
				st.IntervalMS != 0 || st.FailedProbes != 0 || !st.NextProbeAt.IsZero() || !st.ClosedAt.Equal(c.Now()) {
				t.Fatalf("after a good probe: %+v, want closed with an empty window", st)
			}
		})
	}
}

func TestAvailable(t *testing.T) {
	const openFor = 10 * time.Second
	tests := []struct {
		name  string
		setup func(t *testing.T, tr *Tracker, c *clock)
		want  bool
		state State
	}{
		{"unknown", func(*testing.T, *Tracker, *clock) {}, true, Closed},
		{"closed", func(_ *testing.T, tr *Tracker, _ *clock) { tr.Success("a") }, true, Closed},
		{"closed in cooldown", func(_ *testing.T, tr *Tracker, _ *clock) { tr.Failure("a", time.Second) }, false, Closed},
		{"closed after cooldown", func(t *testing.T, tr *Tracker, c *clock) { tr.Failure("a", time.Second); c.Advance(time.Second) }, true, Closed},
		{"open", func(t *testing.T, tr *Tracker, _ *clock) { openCircuit(t, tr, "a") }, false, Open},
		{"half-open, slot free", func(t *testing.T, tr *Tracker, c *clock) { openCircuit(t, tr, "a"); c.Advance(openFor) }, true, HalfOpen},
		{"half-open, slots taken", func(t *testing.T, tr *Tracker, c *clock) {
			openCircuit(t, tr, "a")
			c.Advance(openFor)
			tr.Acquire("a")
		}, false, HalfOpen},
		{"half-open, in cooldown", func(t *testing.T, tr *Tracker, c *clock) {
			for range 5 {
				tr.Failure("a", time.Minute)
			}
			c.Advance(openFor)
		}, false, HalfOpen},
		{"half-open, lost probe timed out", func(t *testing.T, tr *Tracker, c *clock) {
			openCircuit(t, tr, "a")
			c.Advance(openFor)
			tr.Acquire("a")
			c.Advance(DefaultProbeTimeout)
		}, true, HalfOpen},
		{"open again after a probe fails", func(t *testing.T, tr *Tracker, c *clock) {
			openCircuit(t, tr, "a")
			c.Advance(openFor)
			p, _ := tr.Acquire("a")
			p.Failure(0)
			c.Advance(openFor - 1) // the second opening lasts openFor as well
		}, false, Open},
		{"half-open again a failed probe's interval later", func(t *testing.T, tr *Tracker, c *clock) {
			openCircuit(t, tr, "a")
			c.Advance(openFor)
			p, _ := tr.Acquire("a")
			p.Failure(0)
			c.Advance(openFor)
		}, true, HalfOpen},
		{"closed after a probe succeeds", func(t *testing.T, tr *Tracker, c *clock) {
			openCircuit(t, tr, "a")
			c.Advance(openFor)
			p, _ := tr.Acquire("a")
			p.Success()
		}, true, Closed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			tr := newTracker(c)
			tr.SetDefaultBreaker(Breaker{OpenFor: openFor})
			tc.setup(t, tr, c)
			if got := tr.Available("a"); got != tc.want {
				t.Errorf("Available = %v, want %v", got, tc.want)
			}
			_, ok := tr.Acquire("a")
			if ok != tc.want {
				t.Errorf("Acquire ok = %v, want %v (as Available)", ok, tc.want)
			}
			st := tr.Snapshot("a")
			if st.State != tc.state {
				t.Errorf("state = %v, want %v", st.State, tc.state)
			}
		})
	}
}

func TestPermitOutcomes(t *testing.T) {
	c := newClock()
	tr := newTracker(c)
	tr.SetDefaultBreaker(Breaker{OpenFor: 10 * time.Second})

	// Reported once only; Release after an outcome is a no-op.
	func() {
		p, ok := tr.Acquire("a")
		if !ok || p.Probe() {
			t.Fatal("closed circuit: want a plain permit")
		}
		defer p.Release()
		p.Failure(time.Second)
		p.Failure(time.Second)
		p.Success()
	}()
	if st := tr.Snapshot("a"); st.WindowRequests != 1 || st.WindowErrors != 1 || st.ConsecutiveFailures != 1 || st.CooldownMS != 1000 {
		t.Fatalf("one permit counted more than once: %+v", st)
	}
	var zero Permit
	zero.Success()
	zero.Failure(time.Hour)
	zero.Release()

	// A permit from the closed state ends after the circuit opened: its
	// success must not close it, its failure only cools down.
	c.Advance(time.Second)
	early, _ := tr.Acquire("a")
	late, _ := tr.Acquire("a")
	openCircuit(t, tr, "a")
	failures := tr.Failures("a")
	early.Success()
	if st := tr.Snapshot("a"); st.State != Open || st.ConsecutiveFailures != failures {
		t.Fatalf("stale success changed the breaker: %+v", st)
	}
	late.Failure(time.Minute)
	if st := tr.Snapshot("a"); st.State != Open || st.ConsecutiveFailures != failures || st.CooldownMS != time.Minute.Milliseconds() {
		t.Fatalf("stale failure: %+v, want only a 1m cooldown", st)
	}

	// A probe that outlived a close is stale as well.
	c.Advance(time.Minute)
	probe, ok := tr.Acquire("a")
	if !ok || !probe.Probe() {
		t.Fatal("no probe")
	}
	tr.Success("a") // a permit-less success acts as the probe's outcome
	if tr.Snapshot("a").State != Closed {
		t.Fatal("permit-less success did not close a half-open circuit")
	}
	probe.Failure(0)
	if st := tr.Snapshot("a"); st.State != Closed || st.ConsecutiveFailures != 0 {
		t.Fatalf("stale probe failure re-opened: %+v", st)
	}

	// A timed-out probe's late success is ignored; the new probe decides.
	openCircuit(t, tr, "a")
	c.Advance(10 * time.Second)
	lost, _ := tr.Acquire("a")
	c.Advance(DefaultProbeTimeout)
	next, ok := tr.Acquire("a")
	if !ok || !next.Probe() {
		t.Fatal("lost probe's slot not reclaimed")
	}
	lost.Success()
	if tr.Snapshot("a").State != HalfOpen {
		t.Fatal("timed-out probe closed the circuit")
	}
	next.Success()
	if tr.Snapshot("a").State != Closed {
		t.Fatal("probe success did not close the circuit")
	}
}

func TestPermitlessOutcomesDriveBreaker(t *testing.T) {
	c := newClock()
	tr := newTracker(c)
	play(t, tr, c, "a", "fffff")
	if tr.Available("a") || tr.Failures("a") != 5 || tr.CooldownLeft("a") != 0 {
		t.Fatal("5 failures: want open, streak 5, no cooldown")
	}
	play(t, tr, c, "a", "s")
	if st := tr.Snapshot("a"); st.State != Open || st.ConsecutiveFailures != 0 {
		t.Fatalf("success while open: %+v, want still open with streak 0", st)
	}
	play(t, tr, c, "a", "+4s fff")
	if st := tr.Snapshot("a"); st.State != Open || st.OpenLeftMS != 1000 || st.FailedProbes != 0 {
		t.Fatalf("failures while open: %+v, want the opening unchanged", st)
	}
	play(t, tr, c, "a", "+1s f")
	if st := tr.Snapshot("a"); st.State != Open || st.OpenForMS != 5000 || st.IntervalMS != 5000 || st.FailedProbes != 1 {
		t.Fatalf("failure while half-open: %+v, want open for 5s again", st)
	}
	play(t, tr, c, "a", "+5s s")
	if st := tr.Snapshot("a"); st.State != Closed || !st.Available || st.ConsecutiveFailures != 0 {
		t.Fatalf("success while half-open: %+v, want closed", st)
	}
	play(t, tr, c, "a", "+1m fffff")
	if st := tr.Snapshot("a"); st.State != Open || st.IntervalMS != 10_000 || st.Flaps != 1 || st.Outages != 2 {
		t.Fatalf("re-opened within FlapWindow: %+v, want a flap with interval 10s", st)
	}
}

func TestBreakerValidate(t *testing.T) {
	tests := []struct {
		name string
		b    Breaker
		want []string // substrings, one per expected problem
	}{
		{"zero is valid", Breaker{}, nil},
		{"disabled triggers are valid", Breaker{ConsecutiveFailures: -1, ErrorRate: -1}, nil},
		{"rate above 1", Breaker{ErrorRate: 1.5}, []string{"ErrorRate 1.5 is above 1"}},
		{"negatives", Breaker{MinRequests: -1, HalfOpenProbes: -2, Window: -time.Second},
			[]string{"MinRequests -1 is negative", "HalfOpenProbes -2 is negative", "Window -1s is negative"}},
		{"cap below OpenFor", Breaker{OpenFor: time.Minute, MaxOpenFor: time.Second}, []string{"MaxOpenFor 1s is below OpenFor 1m0s"}},
		{"cap below default OpenFor", Breaker{MaxOpenFor: time.Second}, []string{"MaxOpenFor 1s is below OpenFor 5s"}},
		{"no jitter is valid", Breaker{Jitter: -1}, nil},
		{"jitter of 1", Breaker{Jitter: 1}, []string{"Jitter 1 is not below 1"}},
		{"jitter NaN", Breaker{Jitter: math.NaN()}, []string{"Jitter NaN is not below 1"}},
		{"negative flap window", Breaker{FlapWindow: -time.Minute, OpenFor: -time.Second},
			[]string{"FlapWindow -1m0s is negative", "OpenFor -1s is negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.b.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if got := strings.Count(msg, "\n") + 1; got != len(tc.want) {
				t.Errorf("%d problems reported, want %d: %q", got, len(tc.want), msg)
			}
		})
	}
}
