package health

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Breaker configures a deployment's circuit breaker. A zero field takes
// the default given in its comment.
type Breaker struct {
	// ConsecutiveFailures opens the circuit after this many failures in a
	// row. Default 5; negative: never on a streak.
	ConsecutiveFailures int
	// ErrorRate opens the circuit when failures make up at least this share
	// of the outcomes in the last Window. Default 0.5; negative: never on a
	// rate.
	ErrorRate float64
	// MinRequests is how many outcomes Window must hold before ErrorRate
	// applies. Default 20.
	MinRequests int
	// Window is how far back ErrorRate looks. Default 30 s.
	Window time.Duration
	// OpenFor is the open interval of an outage that is not a flap (see
	// FlapWindow): the circuit opens for OpenFor, then half-opens for a
	// probe, and a failed probe opens it for the same interval again. So
	// a dead deployment is probed about once per OpenFor for as long as
	// it is down, and is back in service about OpenFor after it
	// recovers. Every opening is jittered (see Jitter). Default 5 s.
	OpenFor time.Duration
	// MaxOpenFor caps a flapping circuit's interval, and every opening,
	// jitter included. Default 5 m (and never below OpenFor; set it to
	// OpenFor to never back off).
	MaxOpenFor time.Duration
	// FlapWindow tells a flap from a fresh outage. An outage lasts from
	// the moment the circuit opens (from closed) until it next closes.
	// When it opens less than FlapWindow after it last closed, the new
	// outage's interval is twice the previous outage's, up to MaxOpenFor;
	// otherwise it is OpenFor. Default 2 m.
	FlapWindow time.Duration
	// Jitter spreads every opening: its length is drawn uniformly from
	// the outage's interval times [1-Jitter, 1+Jitter], the range cut at
	// MaxOpenFor, so replicas and deployments opened by one incident do
	// not probe in lockstep. Default 0.2; negative: none; must be below 1.
	Jitter float64
	// HalfOpenProbes is how many probe requests a half-open circuit admits
	// at once. Default 1.
	HalfOpenProbes int
	// ProbeTimeout frees the slot of a probe permit that was neither
	// reported nor released after this long, so a lost permit cannot keep
	// a deployment out of service. Default 2 m.
	ProbeTimeout time.Duration
}

// Default breaker settings; see Breaker.
const (
	DefaultConsecutiveFailures = 5
	DefaultErrorRate           = 0.5
	DefaultMinRequests         = 20
	DefaultWindow              = 30 * time.Second
	DefaultOpenFor             = 5 * time.Second
	DefaultMaxOpenFor          = 5 * time.Minute
	DefaultFlapWindow          = 2 * time.Minute
	DefaultJitter              = 0.2
	DefaultHalfOpenProbes      = 1
	DefaultProbeTimeout        = 2 * time.Minute
)

// Validate reports every setting of b that makes no sense, at once. Zero
// fields are valid (they mean the default).
func (b Breaker) Validate() error {
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, fmt.Errorf("health: breaker: %s %v %s", field, v, why))
	}
	if math.IsNaN(b.ErrorRate) || b.ErrorRate > 1 {
		bad("ErrorRate", b.ErrorRate, "is above 1")
	}
	if b.MinRequests < 0 {
		bad("MinRequests", b.MinRequests, "is negative")
	}
	if b.HalfOpenProbes < 0 {
		bad("HalfOpenProbes", b.HalfOpenProbes, "is negative")
	}
	if math.IsNaN(b.Jitter) || b.Jitter >= 1 {
		bad("Jitter", b.Jitter, "is not below 1")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"Window", b.Window}, {"OpenFor", b.OpenFor}, {"MaxOpenFor", b.MaxOpenFor},
		{"FlapWindow", b.FlapWindow}, {"ProbeTimeout", b.ProbeTimeout}} {
		if f.d < 0 {
			bad(f.name, f.d, "is negative")
		}
	}
	if d := b.withDefaults(); b.MaxOpenFor > 0 && b.MaxOpenFor < d.OpenFor {
		bad("MaxOpenFor", b.MaxOpenFor, fmt.Sprintf("is below OpenFor %v", d.OpenFor))
	}
	return errors.Join(errs...)
}

// withDefaults fills in zero (and nonsensical) fields.
func (b Breaker) withDefaults() Breaker {
	if b.ConsecutiveFailures == 0 {
		b.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if b.ErrorRate == 0 || math.IsNaN(b.ErrorRate) {
		b.ErrorRate = DefaultErrorRate
	}
	if b.MinRequests <= 0 {
		b.MinRequests = DefaultMinRequests
	}
	if b.Window <= 0 {
		b.Window = DefaultWindow
	}
	if b.OpenFor <= 0 {
		b.OpenFor = DefaultOpenFor
	}
	if b.MaxOpenFor <= 0 {
		b.MaxOpenFor = DefaultMaxOpenFor
	}
	b.MaxOpenFor = max(b.MaxOpenFor, b.OpenFor)
	if b.FlapWindow <= 0 {
		b.FlapWindow = DefaultFlapWindow
	}
	if b.Jitter == 0 || math.IsNaN(b.Jitter) {
		b.Jitter = DefaultJitter
	}
	if b.HalfOpenProbes <= 0 {
		b.HalfOpenProbes = DefaultHalfOpenProbes
	}
	if b.ProbeTimeout <= 0 {
		b.ProbeTimeout = DefaultProbeTimeout
	}
	return b
}

// trips reports whether a closed circuit with this failure streak and
// window should open.
func (b *Breaker) trips(streak, n, errs int) bool {
	if b.ConsecutiveFailures > 0 && streak >= b.ConsecutiveFailures {
		return true
	}
	return b.ErrorRate > 0 && n >= b.MinRequests && float64(errs) >= b.ErrorRate*float64(n)
}

// State is a circuit's state.
type State uint8

// The states of a circuit.
const (
	Closed   State = iota // requests flow; outcomes are counted
	Open                  // no requests until the opening has passed
	HalfOpen              // up to HalfOpenProbes probe requests at once
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes s as its String, so it reads well in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the text MarshalText writes, so a decoded Status
// (from the admin API) round-trips.
func (s *State) UnmarshalText(b []byte) error {
	for _, st := range []State{Closed, Open, HalfOpen} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("health: unknown state %q", b)
}

// opening is how long one opening of an outage with interval d lasts: a
// length drawn uniformly, by u in [0, 1], from d×(1-Jitter) to
// d×(1+Jitter) or MaxOpenFor, whichever is shorter, and at least 1 ns. d
// is first kept within [OpenFor, MaxOpenFor], in case the configuration
// changed since the outage began. The range is cut at MaxOpenFor rather
// than the draw, so that openings at the cap do not all last exactly
// MaxOpenFor, in lockstep.
func (b *Breaker) opening(d time.Duration, u float64) time.Duration {
	d = min(max(d, b.OpenFor), b.MaxOpenFor)
	if b.Jitter > 0 {
		lo := float64(d) * (1 - b.Jitter)
		hi := min(float64(d)*(1+b.Jitter), float64(b.MaxOpenFor))
		d = time.Duration(lo + u*(hi-lo))
	}
	return max(d, 1)
}

// breaker is one deployment's circuit. Its methods run under the
// deployment's lock.
//
// An outage runs from an opening out of Closed to the next close. Its
// interval, flaps and failedProbes describe it; interval and flaps
// outlive the close, so that the next outage can build on them if it is
// a flap (see Breaker.FlapWindow).
type breaker struct {
	state    State
	gen      uint64 // bumped on every state change; stale permits see it
	openedAt time.Time
	openFor  time.Duration // of the current or last opening, jitter included
	probes   []probe       // outstanding probe permits (half-open)
	ticket   uint64        // last probe ticket handed out
	win      window

	interval     time.Duration // of the current or last outage, before jitter
	flaps        int           // back-off step of the current or last outage
	failedProbes int           // in the current outage
	outages      int           // openings out of Closed, ever
	closedAt     time.Time     // when the last outage ended; zero if none did
}

type probe struct {
	ticket uint64
	at     time.Time
}

// advance makes the lazy transitions: open → half-open once the opening
// has passed, and forgetting probes older than ProbeTimeout.
func (b *breaker) advance(now time.Time, c *Breaker) {
	switch b.state {
	case Open:
		if !now.Before(b.openedAt.Add(b.openFor)) {
			b.state = HalfOpen
			b.gen++
			b.probes = b.probes[:0]
		}
	case HalfOpen:
		live := b.probes[:0]
		for _, p := range b.probes {
			if now.Sub(p.at) < c.ProbeTimeout {
				live = append(live, p)
			}
		}
		b.probes = live
	}
}

// admits reports whether the circuit lets a request through now.
func (b *breaker) admits(c *Breaker) bool {
	switch b.state {
	case Closed:
		return true
	case HalfOpen:
		return len(b.probes) < c.HalfOpenProbes
	}
	return false
}

// failure counts a failure; streak already includes it. rnd draws the
// jitter of an opening, from [0, 1].
func (b *breaker) failure(now time.Time, c *Breaker, streak int, rnd func() float64) {
	switch b.state {
	case Closed:
		n, errs := b.win.add(now, c.Window, true)
		if c.trips(streak, n, errs) {
			b.startOutage(now, c, rnd)
		}
	case HalfOpen:
		// The deployment is still down: the same outage, the same
		// interval, so it is probed again one interval from now.
		b.failedProbes++
		b.open(now, c.opening(b.interval, rnd()))
	}
}

// startOutage opens a closed circuit. The outage's interval is OpenFor,
// unless the circuit closed less than FlapWindow ago: then it is a flap,
// and the interval is twice the previous outage's, up to MaxOpenFor.
func (b *breaker) startOutage(now time.Time, c *Breaker, rnd func() float64) {
	if !b.closedAt.IsZero() && now.Sub(b.closedAt) < c.FlapWindow {
		b.flaps++
		b.interval = min(2*max(b.interval, c.OpenFor), c.MaxOpenFor)
	} else {
		b.flaps = 0
		b.interval = c.OpenFor
	}
	b.outages++
	b.failedProbes = 0
	b.open(now, c.opening(b.interval, rnd()))
}

func (b *breaker) success(now time.Time, c *Breaker) {
	switch b.state {
	case Closed:
		b.win.add(now, c.Window, false)
	case HalfOpen:
		b.state = Closed
		b.gen++
		b.closedAt = now
		b.openedAt = time.Time{}
		b.openFor = 0
		b.failedProbes = 0
		b.probes = b.probes[:0]
		// The errors that opened the circuit must not reopen it.
		b.win.reset()
	}
}

func (b *breaker) open(now time.Time, d time.Duration) {
	b.state = Open
	b.gen++
	b.openedAt = now
	b.openFor = d
	b.probes = b.probes[:0]
}

// openLeft is how long the circuit stays open (0 unless open).
func (b *breaker) openLeft(now time.Time) time.Duration {
	if b.state != Open {
		return 0
	}
	return max(b.openedAt.Add(b.openFor).Sub(now), 0)
}

// nextProbe is when the circuit next admits a probe; see
// Status.NextProbeAt.
func (b *breaker) nextProbe(now time.Time, c *Breaker) time.Time {
	switch {
	case b.state == Open:
		return b.openedAt.Add(b.openFor)
	case b.state == HalfOpen && b.admits(c):
		return now
	}
	return time.Time{}
}

// addProbe takes a probe slot and returns its ticket.
func (b *breaker) addProbe(now time.Time) uint64 {
	b.ticket++
	b.probes = append(b.probes, probe{ticket: b.ticket, at: now})
	return b.ticket
}

// current reports whether a permit still belongs to the circuit's state,
// and gives its probe slot back if it holds one.
func (b *breaker) current(gen, ticket uint64) bool {
	if gen != b.gen {
		return false
	}
	if ticket == 0 {
		return true
	}
	for i, p := range b.probes {
		if p.ticket == ticket {
			b.probes = append(b.probes[:i], b.probes[i+1:]...)
			return true
		}
	}
	return false // timed out
}

// A Permit admits one request to a deployment; see Tracker.Acquire. Report
// its outcome with Success or Failure, or give it back with Release if the
// request never went out. Only the first of these calls counts, so a
// deferred Release is safe. The zero Permit does nothing. Use a Permit from
// one goroutine, and do not copy it once used.
type Permit struct {
	t      *Tracker
	d      *deployment
	gen    uint64
	ticket uint64 // non-zero for a half-open probe
	done   bool
}

// Acquire asks to send a request to name now. It reports false when
// Available would: name is cooling down, its circuit is open, or it is
// half-open and every probe slot is taken. In a half-open circuit the
// permit is a probe (Permit.Probe) and holds a slot until it is reported,
// released, or ProbeTimeout passes.
func (t *Tracker) Acquire(name string) (Permit, bool) {
	d := t.get(name)
	now := t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c := t.conf(d)
	d.brk.advance(now, c)
	if now.Before(d.coolUntil) || !d.brk.admits(c) {
		return Permit{}, false
	}
	p := Permit{t: t, d: d, gen: d.brk.gen}
	if d.brk.state == HalfOpen {
		p.ticket = d.brk.addProbe(now)
	}
	return p, true
}

// Probe reports whether p was admitted by a half-open circuit: its
// Success closes the circuit and its Failure re-opens it.
func (p *Permit) Probe() bool { return p.ticket != 0 }

// Success reports that the request succeeded; see Tracker.Success.
func (p *Permit) Success() { p.report(false, 0) }

// Failure reports that the request failed and cools the deployment down
// for cooldown; see Tracker.Failure. If the circuit changed state since
// Acquire, only the cooldown applies.
func (p *Permit) Failure(cooldown time.Duration) { p.report(true, cooldown) }

// Release gives p back without an outcome: the request was never sent. A
// probe's slot is freed; nothing is counted.
func (p *Permit) Release() {
	if p.d == nil || p.done {
		return
	}
	p.done = true
	if p.ticket == 0 {
		return
	}
	d := p.d
	now := p.t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.brk.advance(now, p.t.conf(d))
	d.brk.current(p.gen, p.ticket)
}

func (p *Permit) report(failed bool, cooldown time.Duration) {
	if p.d == nil || p.done {
		return
	}
	p.done = true
	d := p.d
	now := p.t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c := p.t.conf(d)
	d.brk.advance(now, c)
	switch {
	case !d.brk.current(p.gen, p.ticket):
		if failed {
			d.coolFor(now, cooldown)
		}
	case failed:
		d.failure(now, c, cooldown, p.t.random)
	default:
		d.success(now, c)
	}
}
