package health

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Tracker holds the health of every deployment it has heard of. It is safe
// for concurrent use. The zero value is not usable; call NewTracker.
type Tracker struct {
	now      func() time.Time
	def      atomic.Pointer[Breaker] // with defaults filled in
	halfLife atomic.Int64            // TTFT EWMA half-life, ns
	rnd      source                  // jitter of circuit openings

	mu    sync.RWMutex
	state map[string]*deployment
}

// deployment is one deployment's state. Everything but lat is guarded by
// mu; lat has its own lock so latency samples and breaker outcomes do not
// wait for each other.
type deployment struct {
	mu        sync.Mutex
	cfg       *Breaker // nil: the tracker's default
	coolUntil time.Time
	failures  int // consecutive, across states
	brk       breaker

	lat atomic.Pointer[latency] // nil until the first sample
}

// DefaultHalfLife is the TTFT EWMA half-life of a new Tracker.
const DefaultHalfLife = 30 * time.Second

// NewTracker returns a Tracker with the default Breaker and a TTFT
// half-life of DefaultHalfLife. now defaults to time.Now.
func NewTracker(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	t := &Tracker{now: now, state: make(map[string]*deployment)}
	b := Breaker{}.withDefaults()
	t.def.Store(&b)
	t.halfLife.Store(int64(DefaultHalfLife))
	return t
}

// SetDefaultBreaker sets the breaker of every deployment that has none of
// its own (see SetBreaker). Zero fields take their defaults.
func (t *Tracker) SetDefaultBreaker(b Breaker) {
	b = b.withDefaults()
	t.def.Store(&b)
}

// SetBreaker gives name a breaker of its own. Zero fields take their
// defaults. It applies from the next call on; a circuit that is open stays
// open for as long as it was told.
func (t *Tracker) SetBreaker(name string, b Breaker) {
	b = b.withDefaults()
	d := t.get(name)
	d.mu.Lock()
	d.cfg = &b
	d.mu.Unlock()
}

// SetTTFTHalfLife sets the half-life of the TTFT EWMA for every deployment
// (d <= 0: DefaultHalfLife). Samples already taken are reweighted by it
// from their next update on.
func (t *Tracker) SetTTFTHalfLife(d time.Duration) {
	if d <= 0 {
		d = DefaultHalfLife
	}
	t.halfLife.Store(int64(d))
}

// SetRand sets the random source of the jitter of circuit openings (see
// Breaker.Jitter): f returns a number in [0, 1), like rand.Float64; values
// outside [0, 1] are clamped. nil means math/rand/v2's Float64. The
// Tracker serializes its calls to f, so f need not be safe for concurrent
// use: rand.New(rand.NewPCG(seed, seed)).Float64 gives a repeatable run.
func (t *Tracker) SetRand(f func() float64) {
	t.rnd.mu.Lock()
	t.rnd.f = f
	t.rnd.mu.Unlock()
}

// random draws from the Tracker's random source.
func (t *Tracker) random() float64 {
	return t.rnd.draw()
}

// source is a random source behind a lock; see Tracker.SetRand.
type source struct {
	mu sync.Mutex
	f  func() float64 // nil: rand.Float64
}

func (s *source) draw() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return rand.Float64()
	}
	u := s.f()
	if !(u >= 0) { // negative or NaN
		return 0
	}
	return min(u, 1)
}

// Available reports whether name may get traffic now: out of cooldown and
// its circuit closed, or half-open with a probe slot free. A deployment
// the Tracker has not heard of is available.
func (t *Tracker) Available(name string) bool {
	d := t.lookup(name)
	if d == nil {
		return true
	}
	now := t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	c := t.conf(d)
	d.brk.advance(now, c)
	return !now.Before(d.coolUntil) && d.brk.admits(c)
}

// CooldownLeft returns how long name stays in cooldown (0 if it is not).
// It does not include the time an open circuit has left; see Snapshot.
func (t *Tracker) CooldownLeft(name string) time.Duration {
	d := t.lookup(name)
	if d == nil {
		return 0
	}
	now := t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	return max(d.coolUntil.Sub(now), 0)
}

// Failure records a failed request to name without a Permit and cools name
// down for cooldown (a longer cooldown already set is kept). It counts in
// the breaker like Permit.Failure.
func (t *Tracker) Failure(name string, cooldown time.Duration) {
	d := t.get(name)
	now := t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failure(now, t.conf(d), cooldown, t.random)
}

// Success records a successful request to name without a Permit: the
// failure streak ends, any cooldown is lifted, and the breaker counts it
// like Permit.Success.
func (t *Tracker) Success(name string) {
	d := t.get(name)
	now := t.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.success(now, t.conf(d))
}

// Failures returns the consecutive failures of name: failures since its
// last success, whatever the circuit's state.
func (t *Tracker) Failures(name string) int {
	d := t.lookup(name)
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failures
}

// failure records a failure that belongs to the breaker's current state;
// rnd jitters the opening it may cause.
func (d *deployment) failure(now time.Time, c *Breaker, cooldown time.Duration, rnd func() float64) {
	d.brk.advance(now, c)
	d.failures++
	d.coolFor(now, cooldown)
	d.brk.failure(now, c, d.failures, rnd)
}

// success records a success that belongs to the breaker's current state.
func (d *deployment) success(now time.Time, c *Breaker) {
	d.brk.advance(now, c)
	d.failures = 0
	d.coolUntil = time.Time{}
	d.brk.success(now, c)
}

func (d *deployment) coolFor(now time.Time, cooldown time.Duration) {
	if until := now.Add(cooldown); until.After(d.coolUntil) {
		d.coolUntil = until
	}
}

// conf is d's breaker configuration. d.mu must be held.
func (t *Tracker) conf(d *deployment) *Breaker {
	if d.cfg != nil {
		return d.cfg
	}
	return t.def.Load()
}

// lookup returns name's state, or nil if the Tracker has not heard of it.
func (t *Tracker) lookup(name string) *deployment {
	t.mu.RLock()
	d := t.state[name]
	t.mu.RUnlock()
	return d
}

// get returns name's state, creating it if needed.
func (t *Tracker) get(name string) *deployment {
	if d := t.lookup(name); d != nil {
		return d
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.state[name]
	if !ok {
		d = &deployment{}
		t.state[name] = d
	}
	return d
}
