package ratelimit

import "time"

// The bucket arithmetic below is shared, line for line, by Memory and by
// the Lua scripts in lua.go; change one and you must change the other (the
// contract suite runs on both). The one exception is bucketSet.held, which
// only Resilient's local copies of shared sets set, and Lua does not have.
//
// Levels are integers in units of 1/60000 token: a bucket whose limit is L
// tokens per minute refills exactly L units per millisecond, so time is
// counted in whole milliseconds and no rounding ever happens. A fixed
// window's level is its used count in whole tokens. Every value stays
// below 2^53 (hence MaxWindow), so Redis's Lua (whose numbers are float64)
// computes the same results as Go; TestMemoryRedisAgree checks it.

const (
	// unit is the number of level units in one token (milliseconds per minute).
	unit = 60000
	// maxElapsed caps the refill interval: two minutes take any bucket
	// from its floor (-capacity) to full, and the cap keeps products exact.
	maxElapsed = 120000
	// MaxLimit is the largest per-minute limit a bucket accepts.
	MaxLimit = 10_000_000_000
	// MaxCost is the largest value of any Cost field.
	MaxCost = 1 << 50
	// MaxWindow is the longest fixed window (see Limits): with it, a
	// limit times a window in ms stays below 2^53.
	MaxWindow = 10 * time.Minute
	// minute is one minute in ms: a window of w ms allows limit*w/minute.
	minute = 60000
)

// Dimensions, in the order of bucketSet.b and of the Lua scripts' fields.
const (
	dimRPM = iota
	dimTPM
	dimITPM
	dimOTPM
	numDims
)

// dimName is the name ExceedsError uses for dimension d.
func dimName(d int) string {
	switch d {
	case dimRPM:
		return "rpm"
	case dimTPM:
		return "tpm"
	case dimITPM:
		return "itpm"
	default:
		return "otpm"
	}
}

// vec holds one value per dimension.
type vec [numDims]int64

func limitVec(l Limits) vec { return vec{l.RPM, l.TPM, l.ITPM, l.OTPM} }

func costVec(c Cost) vec { return vec{c.Requests, c.Input + c.Output, c.Input, c.Output} }

// winVec is l's fixed windows in ms by dimension (0: a continuous bucket).
func winVec(l Limits) vec {
	return vec{l.RequestsWindow.Milliseconds(), l.TokensWindow.Milliseconds(), 0, 0}
}

// bucket is one dimension of a bucketSet. limit == 0: unlimited, no bucket.
//
// A dimension is a continuous bucket (win == 0) or a fixed-window counter
// (win > 0, in ms). For a bucket, level is in units, between -capacity
// and capacity. For a window, level is the whole tokens used in the
// window that contains the set's last time (bucketSet.last), between 0
// and twice the allowance (an overcharge from Settle); a window starts at
// a multiple of win ms (Unix ms), and when time moves into a later window
// the count starts again from 0.
type bucket struct {
	limit   int64 // configured per-minute limit
	learned int64 // lower limit reported by the provider; 0: none
	level   int64 // bucket: units; window: tokens used in the current window
	win     int64 // fixed window in ms; 0: continuous bucket
}

// eff is the effective per-minute limit: the configured one, or the lower
// one the provider reported.
func (b *bucket) eff() int64 {
	if b.learned > 0 && b.learned < b.limit {
		return b.learned
	}
	return b.limit
}

// allow is the allowance of a window of w ms for a per-minute limit l:
// l*w/minute rounded down, and at least 1 (as the simulator's RPM/6).
func allow(l, w int64) int64 { return max(1, floorDiv(l*w, minute)) }

// quota is the most one reservation may take: the effective per-minute
// limit of a bucket, or the allowance per window of a window.
func (b *bucket) quota() int64 {
	if b.win > 0 {
		return allow(b.eff(), b.win)
	}
	return b.eff()
}

// rescale changes the dimension's limits and window, keeping the amount
// used: a bucket's capacity - level, a window's count (whole tokens,
// rounded up from a bucket's units), clamped to the new range.
func (b *bucket) rescale(limit, learned, win int64) {
	oldWin, used := b.win, int64(0)
	if oldWin == 0 {
		used = b.eff()*unit - b.level
	}
	b.limit, b.learned, b.win = limit, learned, win
	switch {
	case win == 0:
		c := b.eff() * unit
		if oldWin > 0 {
			used = min(b.level, 2*b.eff()) * unit
		}
		b.level = clamp(c-used, -c, c)
	case oldWin == 0:
		b.level = clamp(ceilDiv(used, unit), 0, 2*b.quota())
	default:
		b.level = clamp(b.level, 0, 2*b.quota())
	}
}

// winLeft is the time in ms from now to the end of its window of w ms.
func winLeft(now, w int64) int64 { return w - (now - floorDiv(now, w)*w) }

// bucketSet is one key's buckets. Times are milliseconds on the store's clock.
type bucketSet struct {
	last    int64 // time of the last refill
	blocked int64 // reservations are refused before this time
	// held: buckets earn no refill before this time (0: no hold). Only
	// Resilient's local copies of shared sets have it (see Resilient and
	// Memory.put); elsewhere it is 0, and Lua has no such field.
	held int64
	b    [numDims]bucket
}

// newBucketSet returns full buckets (and empty windows) for lim and win
// at time now.
func newBucketSet(lim, win vec, now int64) bucketSet {
	s := bucketSet{last: now}
	s.sync(lim, win)
	return s
}

// prepare brings s to time now and to the configured limits and windows.
func (s *bucketSet) prepare(lim, win vec, now int64) {
	s.advance(now)
	s.sync(lim, win)
}

// advance refills every bucket for the time since the last refill, and
// forgets the count of a window that has ended. A clock that went
// backwards refills and forgets nothing and restarts from now (as
// x/time/rate): a window's count then stays with the earlier window.
func (s *bucketSet) advance(now int64) {
	el := now - s.last
	if el <= 0 {
		s.last = now
		return
	}
	el = s.refillTime(now, min(el, maxElapsed))
	for i := range s.b {
		b := &s.b[i]
		switch {
		case b.limit == 0:
		case b.win > 0:
			if floorDiv(now, b.win)*b.win > s.last {
				b.level = 0
			}
		default:
			e := b.eff()
			b.level = min(b.level+el*e, e*unit)
		}
	}
	s.last = now
}

// refillTime is how much of the el ms before now earn refill: all of
// them, but none before held (0: no hold).
func (s *bucketSet) refillTime(now, el int64) int64 {
	if s.held == 0 {
		return el
	}
	return min(el, max(now-s.held, 0))
}

// holdLeft is the time in ms from now until buckets earn refill again.
func (s *bucketSet) holdLeft(now int64) int64 {
	if s.held == 0 {
		return 0
	}
	return max(s.held-now, 0)
}

// sync applies configured limits and windows that changed since the last
// call (a config reload): a new dimension starts full (an empty window),
// a removed one is dropped, a changed one keeps the amount used. A window
// without a limit is ignored.
func (s *bucketSet) sync(lim, win vec) {
	for i, l := range lim {
		b := &s.b[i]
		w := win[i]
		if l == 0 {
			w = 0
		}
		switch {
		case l == b.limit && w == b.win:
		case l == 0:
			*b = bucket{}
		case b.limit == 0:
			*b = bucket{limit: l, win: w}
			if w == 0 {
				b.level = l * unit
			}
		default:
			b.rescale(l, b.learned, w)
		}
	}
}

// exceeds returns the first dimension whose capacity (a window's
// allowance) is smaller than cost, or -1.
func (s *bucketSet) exceeds(cost vec) int {
	for i := range s.b {
		if s.b[i].limit > 0 && cost[i] > s.b[i].quota() {
			return i
		}
	}
	return -1
}

// exceedsError is the ExceedsError for dimension d of s and cost.
func (s *bucketSet) exceedsError(d int, cost vec) error {
	return exceedsError(d, s.b[d].quota(), cost[d], s.b[d].win)
}

// wait is the time in ms until cost fits in every dimension and the block
// has ended; 0 means it fits now. Every limited bucket must hold at least
// its cost, so a negative level delays even a zero cost; a window whose
// count plus cost is above its allowance waits for the window's end
// (when the count starts again from 0).
func (s *bucketSet) wait(cost vec, now int64) int64 {
	w := max(s.blocked-now, 0)
	for i := range s.b {
		b := &s.b[i]
		switch {
		case b.limit == 0:
		case b.win > 0:
			if b.level+cost[i] > allow(b.eff(), b.win) {
				w = max(w, winLeft(now, b.win))
			}
		default:
			if need := cost[i] * unit; b.level < need {
				w = max(w, s.holdLeft(now)+ceilDiv(need-b.level, b.eff()))
			}
		}
	}
	return w
}

// take charges a granted cost (wait returned 0) to every limited dimension.
func (s *bucketSet) take(cost vec) {
	for i := range s.b {
		b := &s.b[i]
		switch {
		case b.limit == 0:
		case b.win > 0:
			b.level += cost[i]
		default:
			b.level -= cost[i] * unit
		}
	}
}

// settle charges delta tokens (a negative delta refunds) for a reservation
// granted at time at (ms) with limits lim and windows win, to the
// dimensions that were limited then and still are, with the same window.
// A window dimension is corrected only if the reservation's window is the
// current one (s.last's, after advance): a correction for a window that
// has ended is dropped. Bucket levels stay within ±capacity, window counts
// within [0, 2×allowance].
func (s *bucketSet) settle(lim, win vec, at int64, delta vec) {
	for i := range s.b {
		b := &s.b[i]
		if lim[i] == 0 || b.limit == 0 || win[i] != b.win {
			continue
		}
		if b.win > 0 {
			if floorDiv(at, b.win) != floorDiv(s.last, b.win) {
				continue
			}
			a := allow(b.eff(), b.win)
			d := clamp(delta[i], -2*a, 2*a)
			b.level = clamp(b.level+d, 0, 2*a)
			continue
		}
		e := b.eff()
		d := clamp(delta[i], -2*e, 2*e)
		b.level = clamp(b.level-d*unit, -e*unit, e*unit)
	}
}

// learn applies what a provider reported: a limit below the configured
// one becomes the effective limit (any other reported limit clears it;
// for a window, "below" means a smaller allowance per window), a
// remaining below a bucket's level becomes the level, and a window's
// count becomes at least allowance - remaining.
func (s *bucketSet) learn(limit, remaining vec) {
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 {
			continue
		}
		if l := limit[i]; l > 0 {
			learned := int64(0)
			if b.win > 0 {
				if allow(l, b.win) < allow(b.limit, b.win) {
					learned = l
				}
			} else if l < b.limit {
				learned = l
			}
			if learned != b.learned {
				b.rescale(b.limit, learned, b.win)
			}
		}
		r := remaining[i]
		switch {
		case r < 0:
		case b.win > 0:
			if a := allow(b.eff(), b.win); r < a {
				b.level = max(b.level, a-r)
			}
		case r < b.eff():
			b.level = min(b.level, r*unit)
		}
	}
}

// block empties every bucket (a negative level stays) and fills every
// window's count to its allowance (a larger count stays), and refuses
// reservations until now+d ms.
func (s *bucketSet) block(now, d int64) {
	for i := range s.b {
		b := &s.b[i]
		switch {
		case b.limit == 0:
		case b.win > 0:
			b.level = max(b.level, allow(b.eff(), b.win))
		default:
			b.level = min(b.level, 0)
		}
	}
	if d > 0 {
		s.blocked = max(s.blocked, now+d)
	}
}

// state reports the levels at now: for a bucket, its capacity, whole
// tokens and time until full; for a window, its allowance, what is left
// of it and the time until the window ends.
func (s *bucketSet) state(now int64) State {
	var lv [numDims]Level
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 {
			continue
		}
		e := b.eff()
		if b.win > 0 {
			a := allow(e, b.win)
			lv[i] = Level{Limit: a, Available: a - b.level, Reset: ms(winLeft(now, b.win))}
			continue
		}
		reset := ceilDiv(e*unit-b.level, e)
		if reset > 0 {
			reset += s.holdLeft(now)
		}
		lv[i] = Level{Limit: e, Available: floorDiv(b.level, unit), Reset: ms(reset)}
	}
	return State{
		Requests: lv[dimRPM], Tokens: lv[dimTPM], InputTokens: lv[dimITPM], OutputTokens: lv[dimOTPM],
		BlockedFor: ms(max(s.blocked-now, 0)),
	}
}

// idle reports whether s at now is indistinguishable from a new set:
// full buckets, empty windows, unblocked, nothing learned. Memory forgets
// idle sets, as Redis lets their keys expire.
func (s *bucketSet) idle(now int64) bool {
	if s.blocked > now {
		return false
	}
	el := s.refillTime(now, min(max(now-s.last, 0), maxElapsed))
	for i := range s.b {
		b := &s.b[i]
		switch {
		case b.learned != 0:
			return false
		case b.limit == 0:
		case b.win > 0:
			if b.level > 0 && floorDiv(now, b.win)*b.win <= s.last {
				return false
			}
		case b.level+el*b.eff() < b.limit*unit:
			return false
		}
	}
	return true
}

func clamp(x, lo, hi int64) int64 { return min(max(x, lo), hi) }

// floorDiv is a/b rounded towards -inf (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv is a/b rounded towards +inf (b > 0).
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// ms converts milliseconds to a Duration.
func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// toMs converts d to milliseconds, rounding up so a block never ends early.
func toMs(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return ceilDiv(int64(d), int64(time.Millisecond))
}
