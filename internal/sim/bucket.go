package sim

import (
	"math"
	"time"
)

// bucket is a token bucket that holds at most limit tokens and refills
// continuously at limit tokens per minute, as OpenAI's and Anthropic's
// limits behave. It starts full. level may go below zero when a charge is
// settled after the fact (Anthropic output tokens): the debt is repaid by
// the refill before anything else is admitted.
type bucket struct {
	limit float64
	level float64
	last  time.Time
}

// newBucket returns a full bucket, or nil for limit 0 (unlimited).
func newBucket(limit int, now time.Time) *bucket {
	if limit <= 0 {
		return nil
	}
	return &bucket{limit: float64(limit), level: float64(limit), last: now}
}

// refill brings the level up to date. A clock that goes backwards (an
// injected one) refills nothing.
func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last); dt > 0 {
		b.level = math.Min(b.limit, b.level+b.limit*dt.Minutes())
		b.last = now
	}
}

// wait is how long until n tokens are available.
func (b *bucket) wait(n float64) time.Duration {
	if b.level >= n {
		return 0
	}
	return ceilMS(time.Duration((n - b.level) / b.limit * float64(time.Minute)))
}

// untilFull is how long until the bucket is full again: the providers'
// "reset" value.
func (b *bucket) untilFull() time.Duration {
	return ceilMS(time.Duration((b.limit - b.level) / b.limit * float64(time.Minute)))
}

// remaining is the whole number of tokens available now, never negative.
func (b *bucket) remaining() int { return max(0, int(math.Floor(b.level))) }

// used is the limit minus what remains, as the 429 messages report it.
func (b *bucket) used() int { return int(b.limit) - b.remaining() }

// window is a fixed-window counter: at most limit units per window of the
// given size, windows aligned to the clock, as Azure counts.
type window struct {
	limit int
	size  time.Duration
	start time.Time
	used  int
}

// newWindow returns an empty window, or nil for limit 0 (unlimited).
func newWindow(limit int, size time.Duration) *window {
	if limit <= 0 {
		return nil
	}
	return &window{limit: limit, size: size}
}

// roll starts a new window when now has left the current one.
func (w *window) roll(now time.Time) {
	if start := now.Truncate(w.size); !start.Equal(w.start) {
		w.start, w.used = start, 0
	}
}

// resetIn is the time until the current window ends.
func (w *window) resetIn(now time.Time) time.Duration {
	return w.start.Add(w.size).Sub(now)
}

// remaining is what is left in the current window, never negative.
func (w *window) remaining() int { return max(0, w.limit-w.used) }

// ceilMS rounds d up to a whole millisecond, the precision the providers'
// reset headers and "try again in" hints use.
func ceilMS(d time.Duration) time.Duration {
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d
}

// ceilSeconds rounds d up to whole seconds, at least 1 when d > 0.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
