package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestMemoryNoDriftMillion(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	c := &checker{t: t, s: m}
	lim := Limits{RPM: 1_000_003, TPM: 9_999_991, ITPM: 7_777_777, OTPM: 333_331}
	cost := Cost{Requests: 1, Input: 1234, Output: 77}
	for i := range 1_000_000 {
		r, err := m.Reserve(ctx, "a", lim, cost)
		if err != nil || !r.OK {
			t.Fatalf("pair %d: %+v, %v", i, r, err)
		}
		if i%3 == 0 {
			clock.Advance(time.Microsecond * 337)
		}
		if err := m.Cancel(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c.available("a", lim, lim.RPM, lim.TPM, lim.ITPM, lim.OTPM)
	for i, b := range m.set("a").b {
		if b.level != b.limit*unit {
			t.Errorf("dimension %s: level %d, want exactly %d", dimName(i), b.level, b.limit*unit)
		}
	}
}

func TestMemoryClockBackwards(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	c := &checker{t: t, s: m}
	for range 60 {
		c.grant("a", rpm60, oneReq)
	}
	clock.Advance(-time.Hour) // refills nothing
	c.refuse("a", rpm60, oneReq, time.Second)
	clock.Advance(time.Second) // and time counts from the jump
	c.grant("a", rpm60, oneReq)
}

func TestMemoryForgetsIdleKeys(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	c := &checker{t: t, s: m}
	const n = memShards * minSweep * 5 / 4 // every shard passes minSweep
	for i := range n {
		c.grant(strconv.Itoa(i), rpm60, oneReq)
	}
	c.ok(m.Block(ctx, "blocked", rpm60, time.Hour))
	c.ok(m.Learn(ctx, "learned", Limits{TPM: 1000}, Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1, TokensLimit: 10}))
	clock.Advance(time.Second) // refills exactly the one request: idle now
	for i := range 2 * n {
		c.grant("new"+strconv.Itoa(i), rpm60, oneReq)
	}
	if keys := m.len(); keys > 2*n+n/2 {
		t.Fatalf("%d keys kept after %d idle ones and %d new ones", keys, n, 2*n)
	}
	if st := c.state("blocked", rpm60); st.BlockedFor == 0 {
		t.Fatal("a blocked key was forgotten")
	}
	if st := c.state("learned", Limits{TPM: 1000}); st.Tokens.Limit != 10 {
		t.Fatal("a key with a learned limit was forgotten")
	}
	// A forgotten key settles like a new one.
	r := c.grant("x", rpm60, oneReq)
	c.ok(m.Settle(ctx, r, Cost{Requests: 3}))
	c.available("x", rpm60, 57)
}

// set returns key's bucket set, or nil.
func (m *Memory) set(key string) *bucketSet {
	for i := range m.shards {
		if s := m.shards[i].sets[key]; s != nil {
			return s
		}
	}
	return nil
}

// len counts the keys m holds.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.sets)
		sh.mu.Unlock()
	}
	return n
}

func TestMemoryAllocs(t *testing.T) {
	for name, lim := range map[string]Limits{
		"buckets": {RPM: 1 << 30, TPM: 1 << 33},
		"windows": {RPM: 1 << 30, TPM: 1 << 33, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute},
	} {
		m := NewMemory(nil)
		cost := Cost{Requests: 1, Input: 1000, Output: 500}
		actual := Cost{Requests: 1, Input: 900, Output: 200}
		m.Reserve(ctx, "deployment", lim, cost)
		allocs := testing.AllocsPerRun(1000, func() {
			r, _ := m.Reserve(ctx, "deployment", lim, cost)
			m.Settle(ctx, r, actual)
		})
		if allocs != 0 {
			t.Errorf("%s: Reserve+Settle allocates %.1f times, want 0", name, allocs)
		}
	}
}

func BenchmarkMemoryReserveSettle(b *testing.B) {
	m := NewMemory(nil)
	lim := Limits{RPM: 1 << 30, TPM: 1 << 33}
	cost := Cost{Requests: 1, Input: 1000, Output: 500}
	actual := Cost{Requests: 1, Input: 900, Output: 200}
	b.ReportAllocs()
	for b.Loop() {
		r, err := m.Reserve(ctx, "deployment", lim, cost)
		if err != nil || !r.OK {
			b.Fatal(r, err)
		}
		if err := m.Settle(ctx, r, actual); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMemoryReserveSettleParallel(b *testing.B) {
	m := NewMemory(nil)
	lim := Limits{RPM: 1 << 30, TPM: 1 << 33}
	cost := Cost{Requests: 1, Input: 1000, Output: 500}
	actual := Cost{Requests: 1, Input: 900, Output: 200}
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "deployment-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r, _ := m.Reserve(ctx, keys[i%len(keys)], lim, cost)
			m.Settle(ctx, r, actual)
			i++
		}
	})
}

func TestMemoryForgetsEndedWindows(t *testing.T) {
	clock := newFakeClock() // 03:04:05
	m := NewMemory(clock.Now)
	c := &checker{t: t, s: m}
	lim := Limits{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	c.grant("a", lim, Cost{Requests: 1, Input: 10})
	s := m.set("a")
	now := func() int64 { return clock.Now().UnixMilli() }
	if s.idle(now()) {
		t.Fatal("a set with used windows is idle")
	}
	clock.Advance(5 * time.Second) // the request window ended, the token window not
	if s.idle(now()) {
		t.Fatal("a set with a used token window is idle")
	}
	clock.Advance(50 * time.Second) // both ended
	if !s.idle(now()) {
		t.Fatal("a set whose windows have all ended is not idle")
	}
	c.ok(m.Learn(ctx, "b", lim, Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1, TokensLimit: 10}))
	clock.Advance(time.Hour)
	if m.set("b").idle(now()) {
		t.Fatal("a set with a learned limit is idle")
	}
}

func TestMemoryWindowClockBackwards(t *testing.T) {
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	c := &checker{t: t, s: m}
	clock.Advance(55 * time.Second) // 03:05:00
	c.grant("a", tpm600w, Cost{Input: 600})
	clock.Advance(-time.Hour) // an earlier window: the count stays (pessimistic)
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Minute)
	clock.Advance(time.Minute) // and time counts from the jump
	c.grant("a", tpm600w, Cost{Input: 600})
}

func BenchmarkMemoryReserveSettleWindows(b *testing.B) {
	m := NewMemory(nil)
	lim := Limits{RPM: 1 << 30, TPM: 1 << 33, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	cost := Cost{Requests: 1, Input: 1000, Output: 500}
	actual := Cost{Requests: 1, Input: 900, Output: 200}
	b.ReportAllocs()
	for b.Loop() {
		r, err := m.Reserve(ctx, "deployment", lim, cost)
		if err != nil || !r.OK {
			b.Fatal(r, err)
		}
		if err := m.Settle(ctx, r, actual); err != nil {
			b.Fatal(err)
		}
	}
}
