package health

import (
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
