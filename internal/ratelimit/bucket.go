package ratelimit

import "time"

// The bucket arithmetic below is shared, line for line, by Memory and by
// the Lua scripts in lua.go; change one and you must change the other (the
// contract suite runs on both).
//
// Levels are integers in units of 1/60000 token: a bucket whose limit is L
// tokens per minute refills exactly L units per millisecond, so time is
// counted in whole milliseconds and no rounding ever happens. Every value
// stays below 2^53, so Redis's Lua (whose numbers are float64) computes
// the same results as Go.

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

// bucket is one dimension of a bucketSet. limit == 0: unlimited, no bucket.
type bucket struct {
	limit   int64 // configured per-minute limit
	learned int64 // lower limit reported by the provider; 0: none
	level   int64 // units; between -capacity and capacity
}

// eff is the effective per-minute limit: the configured one, or the lower
// one the provider reported.
func (b *bucket) eff() int64 {
	if b.learned > 0 && b.learned < b.limit {
		return b.learned
	}
	return b.limit
}

// rescale changes the bucket's limits, keeping the amount used
// (capacity - level), clamped to the new capacity.
func (b *bucket) rescale(limit, learned int64) {
	used := b.eff()*unit - b.level
	b.limit, b.learned = limit, learned
	c := b.eff() * unit
	b.level = clamp(c-used, -c, c)
}

// bucketSet is one key's buckets. Times are milliseconds on the store's clock.
type bucketSet struct {
	last    int64 // time of the last refill
	blocked int64 // reservations are refused before this time
	b       [numDims]bucket
}

// newBucketSet returns full buckets for lim at time now.
func newBucketSet(lim vec, now int64) bucketSet {
	s := bucketSet{last: now}
	s.sync(lim)
	return s
}

// prepare brings s to time now and to the configured limits.
func (s *bucketSet) prepare(lim vec, now int64) {
	s.advance(now)
	s.sync(lim)
}

// advance refills every bucket for the time since the last refill. A clock
// that went backwards refills nothing and restarts from now (as x/time/rate).
func (s *bucketSet) advance(now int64) {
	el := now - s.last
	if el <= 0 {
		s.last = now
		return
	}
	el = min(el, maxElapsed)
	for i := range s.b {
		b := &s.b[i]
		if b.limit > 0 {
			e := b.eff()
			b.level = min(b.level+el*e, e*unit)
		}
	}
	s.last = now
}

// sync applies configured limits that changed since the last call (a
// config reload): a new dimension starts full, a removed one is dropped,
// a changed one keeps the amount used.
func (s *bucketSet) sync(lim vec) {
	for i, l := range lim {
		b := &s.b[i]
		switch {
		case l == b.limit:
		case l == 0:
			*b = bucket{}
		case b.limit == 0:
			*b = bucket{limit: l, level: l * unit}
		default:
			b.rescale(l, b.learned)
		}
	}
}

// exceeds returns the first dimension whose capacity is smaller than
// cost, or -1.
func (s *bucketSet) exceeds(cost vec) int {
	for i := range s.b {
		if s.b[i].limit > 0 && cost[i] > s.b[i].eff() {
			return i
		}
	}
	return -1
}

// wait is the time in ms until cost fits in every bucket and the block has
// ended; 0 means it fits now. Every limited bucket must hold at least its
// cost, so a negative level delays even a zero cost.
func (s *bucketSet) wait(cost vec, now int64) int64 {
	w := max(s.blocked-now, 0)
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 {
			continue
		}
		if need := cost[i] * unit; b.level < need {
			w = max(w, ceilDiv(need-b.level, b.eff()))
		}
	}
	return w
}

// charge takes delta tokens from the dimensions in charged that still have
// a bucket (a negative delta refunds). Levels stay within ±capacity.
func (s *bucketSet) charge(charged, delta vec) {
	for i := range s.b {
		b := &s.b[i]
		if charged[i] == 0 || b.limit == 0 {
			continue
		}
		e := b.eff()
		d := clamp(delta[i], -2*e, 2*e)
		b.level = clamp(b.level-d*unit, -e*unit, e*unit)
	}
}

// learn applies what a provider reported: a limit below the configured
// one becomes the effective limit (any other reported limit clears it),
// and a remaining below the level becomes the level.
func (s *bucketSet) learn(limit, remaining vec) {
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 {
			continue
		}
		if l := limit[i]; l > 0 {
			learned := int64(0)
			if l < b.limit {
				learned = l
			}
			if learned != b.learned {
				b.rescale(b.limit, learned)
			}
		}
		if r := remaining[i]; r >= 0 && r < b.eff() {
			b.level = min(b.level, r*unit)
		}
	}
}

// block empties every bucket (a negative level stays) and refuses
// reservations until now+d ms.
func (s *bucketSet) block(now, d int64) {
	for i := range s.b {
		if s.b[i].limit > 0 {
			s.b[i].level = min(s.b[i].level, 0)
		}
	}
	if d > 0 {
		s.blocked = max(s.blocked, now+d)
	}
}

// state reports the levels at now.
func (s *bucketSet) state(now int64) State {
	var lv [numDims]Level
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 {
			continue
		}
		e := b.eff()
		lv[i] = Level{
			Limit:     e,
			Available: floorDiv(b.level, unit),
			Reset:     ms(ceilDiv(e*unit-b.level, e)),
		}
	}
	return State{
		Requests: lv[dimRPM], Tokens: lv[dimTPM], InputTokens: lv[dimITPM], OutputTokens: lv[dimOTPM],
		BlockedFor: ms(max(s.blocked-now, 0)),
	}
}

// idle reports whether s at now is indistinguishable from a new set:
// full, unblocked, nothing learned. Memory forgets idle sets, as Redis
// lets their keys expire.
func (s *bucketSet) idle(now int64) bool {
	if s.blocked > now {
		return false
	}
	el := min(max(now-s.last, 0), maxElapsed)
	for i := range s.b {
		b := &s.b[i]
		if b.learned != 0 || (b.limit > 0 && b.level+el*b.eff() < b.limit*unit) {
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
