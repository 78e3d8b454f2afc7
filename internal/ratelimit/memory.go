package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// memShards is the number of independently locked parts of a Memory.
const memShards = 32

// minSweep is the number of keys a shard holds before it first forgets
// idle ones.
const minSweep = 1024

// Memory is a Store for one process: each key's buckets live in a map
// guarded by one of memShards mutexes, chosen by the key's hash. Calls
// never block on anything but those mutexes, allocate nothing once a
// key exists, and start no goroutines.
//
// Idle keys (full, unblocked, nothing learned) are forgotten when a
// shard grows, the way Redis lets idle keys expire; a forgotten key
// behaves exactly like a new one.
//
// Memory is safe for concurrent use.
type Memory struct {
	now    func() time.Time
	epoch  time.Time // the clock's first reading; times are Unix ms
	base   int64     // epoch in Unix ms, counted on from the monotonic clock
	seed   maphash.Seed
	shards [memShards]memShard
}

type memShard struct {
	mu      sync.Mutex
	sets    map[string]*bucketSet
	sweepAt int
	_       [40]byte // keeps shards on separate cache lines
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory reading time from now (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, seed: maphash.MakeSeed()}
	m.epoch = now()
	m.base = m.epoch.UnixMilli()
	for i := range m.shards {
		m.shards[i].sets = make(map[string]*bucketSet)
		m.shards[i].sweepAt = minSweep
	}
	return m
}

// shard locks and returns key's shard and the current time in Unix ms,
// measured on the monotonic clock from the epoch so that wall-clock
// steps do not count. The clock is read under the lock so each shard
// sees time move forward.
func (m *Memory) shard(key string) (*memShard, int64) {
	sh := &m.shards[maphash.String(m.seed, key)%memShards]
	sh.mu.Lock()
	return sh, m.base + m.now().Sub(m.epoch).Milliseconds()
}

// get returns key's set brought to now, lim and win, creating it if
// needed. The caller holds sh.mu.
func (sh *memShard) get(key string, lim, win vec, now int64) *bucketSet {
	if s := sh.sets[key]; s != nil {
		s.prepare(lim, win, now)
		return s
	}
	if len(sh.sets) >= sh.sweepAt {
		sh.sweep(now)
	}
	s := new(bucketSet)
	*s = newBucketSet(lim, win, now)
	sh.sets[key] = s
	return s
}

// sweep forgets idle sets; it runs when the shard has doubled since the
// last sweep, so its cost per new key is constant.
func (sh *memShard) sweep(now int64) {
	for k, s := range sh.sets {
		if s.idle(now) {
			delete(sh.sets, k)
		}
	}
	sh.sweepAt = max(minSweep, 2*len(sh.sets))
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, key string, lim Limits, cost Cost) (Reservation, error) {
	if err := validate(lim, cost); err != nil {
		return Reservation{}, err
	}
	lv, cv := limitVec(lim), costVec(cost)
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	if lim.IsZero() && sh.sets[key] == nil {
		return Reservation{OK: true, Key: key, Limits: lim, Cost: cost, at: now}, nil
	}
	s := sh.get(key, lv, winVec(lim), now)
	r := Reservation{Key: key, Limits: lim, Cost: cost}
	if d := s.exceeds(cv); d >= 0 {
		return r, s.exceedsError(d, cv)
	}
	if w := s.wait(cv, now); w > 0 {
		r.Wait = ms(w)
		return r, nil
	}
	s.take(cv)
	r.OK, r.at = true, now
	return r, nil
}

// Settle implements Store. A key forgotten since the reservation is
// recreated full (windows unused) from r.Limits before the difference is
// applied.
func (m *Memory) Settle(_ context.Context, r Reservation, actual Cost) error {
	if !r.OK || r.Limits.IsZero() {
		return nil
	}
	if err := validate(r.Limits, actual); err != nil {
		return err
	}
	if actual == r.Cost {
		return nil
	}
	a, c := costVec(actual), costVec(r.Cost)
	delta := vec{a[0] - c[0], a[1] - c[1], a[2] - c[2], a[3] - c[3]}
	lv, wv := limitVec(r.Limits), winVec(r.Limits)
	sh, now := m.shard(r.Key)
	defer sh.mu.Unlock()
	s := sh.sets[r.Key]
	if s == nil {
		s = sh.get(r.Key, lv, wv, now)
	} else {
		s.advance(now)
	}
	s.settle(lv, wv, r.at, delta)
	return nil
}

// Cancel implements Store.
func (m *Memory) Cancel(ctx context.Context, r Reservation) error {
	return m.Settle(ctx, r, Cost{})
}

// Learn implements Store.
func (m *Memory) Learn(_ context.Context, key string, lim Limits, obs Observed) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	limit, remaining := obs.vecs()
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	sh.get(key, limitVec(lim), winVec(lim), now).learn(limit, remaining)
	return nil
}

// Block implements Store.
func (m *Memory) Block(_ context.Context, key string, lim Limits, d time.Duration) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	sh.get(key, limitVec(lim), winVec(lim), now).block(now, toMs(d))
	return nil
}

// State implements Store. It changes nothing: an unknown key reports
// full buckets.
func (m *Memory) State(_ context.Context, key string, lim Limits) (State, error) {
	if err := validate(lim, Cost{}); err != nil {
		return State{}, err
	}
	lv, wv := limitVec(lim), winVec(lim)
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	// A copy, so that State changes nothing (as in Redis).
	var s bucketSet
	if p := sh.sets[key]; p != nil {
		s = *p
		s.prepare(lv, wv, now)
	} else {
		s = newBucketSet(lv, wv, now)
	}
	return s.state(now), nil
}

// The methods below serve Resilient, whose local Memory holds each
// key's share of the shared buckets.

// peek returns a copy of key's set brought to now and lim, and whether
// there is one that is not idle (an idle set is as good as none).
func (m *Memory) peek(key string, lim Limits) (bucketSet, bool) {
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	p := sh.sets[key]
	if p == nil {
		return bucketSet{}, false
	}
	s := *p
	s.prepare(limitVec(lim), winVec(lim), now)
	if s.idle(now) {
		return bucketSet{}, false
	}
	return s, true
}

// put makes s key's set, its buckets to earn no refill for hold ms.
// s's times are on another clock, which read s.last just now: they are
// moved onto this Memory's clock (a window's count then belongs to this
// clock's current window).
func (m *Memory) put(key string, s bucketSet, hold int64) {
	sh, now := m.shard(key)
	defer sh.mu.Unlock()
	if s.blocked > s.last {
		s.blocked += now - s.last
	} else {
		s.blocked = 0
	}
	s.last, s.held = now, now+hold
	if p := sh.sets[key]; p != nil {
		*p = s
		return
	}
	if len(sh.sets) >= sh.sweepAt {
		sh.sweep(now)
	}
	p := new(bucketSet)
	*p = s
	sh.sets[key] = p
}

// release ends every set's hold on refill: from now on they refill. A
// set still held was put from another store's view; since then, the
// others sharing that store may have spent what its buckets would have
// refilled (which the hold withholds) and what its windows had left. So
// each window of a held set that is still current counts, on top, its
// allowance spent at the window's average rate since the view.
func (m *Memory) release() {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		now := m.base + m.now().Sub(m.epoch).Milliseconds()
		for _, s := range sh.sets {
			if s.holdLeft(now) > 0 {
				s.spendWindows(now)
				s.held = now
			}
		}
		sh.mu.Unlock()
	}
}

// spendWindows adds to each window of s that is still current at now its
// allowance prorated over the time since s.last, at most up to the
// allowance.
func (s *bucketSet) spendWindows(now int64) {
	el := now - s.last
	for i := range s.b {
		b := &s.b[i]
		if b.limit == 0 || b.win == 0 || el <= 0 || floorDiv(now, b.win) != floorDiv(s.last, b.win) {
			continue
		}
		a := b.quota()
		b.level = max(b.level, min(b.level+ceilDiv(a*min(el, b.win), b.win), a))
	}
}

// busy returns the keys whose sets are not idle, and the time in ms
// until all of them would be idle if left alone, at most limit.
func (m *Memory) busy(limit int64) (keys []string, idleIn int64) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		now := m.base + m.now().Sub(m.epoch).Milliseconds()
		for k, s := range sh.sets {
			if !s.idle(now) {
				keys = append(keys, k)
				idleIn = max(idleIn, s.idleIn(now, limit))
			}
		}
		sh.mu.Unlock()
	}
	return keys, idleIn
}

// idleIn is the time in ms from now until s is idle if left alone (its
// block over, its buckets full, its windows ended), at most limit; a
// learned limit never goes away by itself.
func (s *bucketSet) idleIn(now, limit int64) int64 {
	c := *s
	c.advance(now)
	d := max(c.blocked-now, 0)
	for i := range c.b {
		b := &c.b[i]
		switch {
		case b.learned != 0:
			return limit
		case b.limit == 0:
		case b.win > 0:
			if b.level > 0 {
				d = max(d, winLeft(now, b.win))
			}
		case b.level < b.limit*unit:
			d = max(d, c.holdLeft(now)+ceilDiv(b.limit*unit-b.level, b.limit))
		}
	}
	return min(d, limit)
}
