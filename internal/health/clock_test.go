package health

import (
	"math/rand/v2"
	"sync"
	"time"
)

// clock is a settable time source for NewTracker, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at a multiple of 10 s, so TTFT slots begin at t0.
func newClock() *clock { return &clock{t: time.Unix(1_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noJitter is a random source for Tracker.SetRand that makes every
// opening last exactly its interval: 0.5 is the middle of the jitter
// range, a factor of 1.
func noJitter() float64 { return 0.5 }

// seeded returns a repeatable random source for Tracker.SetRand.
func seeded(seed uint64) func() float64 {
	return rand.New(rand.NewPCG(seed, seed)).Float64
}

// newTracker returns a Tracker on c whose openings are not jittered, so
// a test can step to their exact ends.
func newTracker(c *clock) *Tracker {
	tr := NewTracker(c.Now)
	tr.SetRand(noJitter)
	return tr
}
