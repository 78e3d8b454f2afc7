package health

import "time"

// windowSlots is how many slots an error-rate window has: outcomes leave
// it in steps of a tenth of Breaker.Window.
const windowSlots = 10

// window counts outcomes over a sliding span of time, as a ring of slots
// indexed by unix time / width. Slots in (head-windowSlots, head] are
// live; sum is their total, kept up to date as slots fall out.
type window struct {
	width int64 // ns per slot; 0 until the first outcome
	head  int64
	slots [windowSlots]tally
	sum   tally
}

type tally struct{ n, errs int }

// add counts one outcome at now in a window spanning span, and returns the
// window's totals. A changed span starts the window afresh.
func (w *window) add(now time.Time, span time.Duration, failed bool) (n, errs int) {
	width := max(int64(span/windowSlots), 1)
	idx := floorDiv(now.UnixNano(), width)
	if width != w.width {
		*w = window{width: width, head: idx}
	}
	w.roll(idx)
	if idx > w.head-windowSlots { // else: older than the window
		s := &w.slots[ringSlot(idx, windowSlots)]
		s.n++
		w.sum.n++
		if failed {
			s.errs++
			w.sum.errs++
		}
	}
	return w.sum.n, w.sum.errs
}

// counts returns the totals of the window at now.
func (w *window) counts(now time.Time) (n, errs int) {
	if w.width == 0 {
		return 0, 0
	}
	w.roll(floorDiv(now.UnixNano(), w.width))
	return w.sum.n, w.sum.errs
}

// reset empties the window.
func (w *window) reset() {
	w.slots = [windowSlots]tally{}
	w.sum = tally{}
}

// roll moves the head to idx, emptying the slots that fall out.
func (w *window) roll(idx int64) {
	if idx <= w.head {
		return
	}
	if idx-w.head >= windowSlots {
		w.reset()
	} else {
		for i := w.head + 1; i <= idx; i++ {
			s := &w.slots[ringSlot(i, windowSlots)]
			w.sum.n -= s.n
			w.sum.errs -= s.errs
			*s = tally{}
		}
	}
	w.head = idx
}

// floorDiv is a/b rounded down (b > 0), so clocks before 1970 work too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ringSlot maps a slot index to a position in a ring of n.
func ringSlot(idx int64, n int) int {
	return int((idx%int64(n) + int64(n)) % int64(n))
}
