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
