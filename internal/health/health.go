// Package health tracks whether each deployment should get traffic.
//
// A Tracker holds, per deployment, a cooldown deadline: after a rate limit
// or a failure the caller puts the deployment in cooldown for a while, and
// Available reports false until the deadline passes. A success clears the
// consecutive-failure count. The circuit breaker, half-open probes and
// time-to-first-token statistics of DESIGN.md principle 4 grow here.
//
// Time is injected (Now) so tests never sleep.
package health

import (
	"sync"
	"time"
)

// Tracker is safe for concurrent use. The zero value is not usable; call
// NewTracker.
type Tracker struct {
	now func() time.Time

	mu    sync.Mutex
	state map[string]*deployment
}

type deployment struct {
	coolUntil time.Time
	failures  int // consecutive
}

// NewTracker returns a Tracker. now defaults to time.Now.
func NewTracker(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, state: make(map[string]*deployment)}
}

// Available reports whether name is out of cooldown.
func (t *Tracker) Available(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.state[name]
	return !ok || !t.now().Before(d.coolUntil)
}

// CooldownLeft returns how long name stays in cooldown (0 if available).
func (t *Tracker) CooldownLeft(name string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.state[name]
	if !ok {
		return 0
	}
	if left := d.coolUntil.Sub(t.now()); left > 0 {
		return left
	}
	return 0
}

// Failure records a failure and cools name down for d (a longer existing
// cooldown is kept).
func (t *Tracker) Failure(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.get(name)
	s.failures++
	if until := t.now().Add(d); until.After(s.coolUntil) {
		s.coolUntil = until
	}
}

// Success records a success: the failure streak ends and any cooldown is
// lifted.
func (t *Tracker) Success(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.state[name]; ok {
		s.failures = 0
		s.coolUntil = time.Time{}
	}
}

// Failures returns the consecutive failures of name.
func (t *Tracker) Failures(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.state[name]; ok {
		return s.failures
	}
	return 0
}

func (t *Tracker) get(name string) *deployment {
	s, ok := t.state[name]
	if !ok {
		s = &deployment{}
		t.state[name] = s
	}
	return s
}
