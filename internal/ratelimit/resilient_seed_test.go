package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// redisRig is gateway replicas, each a Resilient with its own client,
// sharing one real redis-server on one fake clock.
type redisRig struct {
	t     *testing.T
	srv   *redistest.Server
	clock *fakeClock
	view  *Redis // reads the shared buckets directly
	reps  []*Resilient
}

func newRedisRig(t *testing.T, replicas int) *redisRig {
	g := &redisRig{t: t, srv: startRedis(t), clock: newFakeClock()}
	g.view = NewRedis(g.srv.Client(nil), "rig:")
	g.view.Now = g.clock.Now
	for range replicas {
		// Fail fast, and do not run out of dials in a long outage: after
		// PoolSize failed dials go-redis waits for a background dial on
		// real time.
		red := NewRedis(g.srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1,
			DialTimeout: 200 * time.Millisecond, PoolSize: 1000}), "rig:")
		red.Now = g.clock.Now
		g.reps = append(g.reps, NewResilient(red, replicas, nil, g.clock.Now))
	}
	return g
}

// shared is the requests available in key's shared bucket.
func (g *redisRig) shared(key string, lim Limits) int64 {
	g.t.Helper()
	st, err := g.view.State(ctx, key, lim)
	if err != nil {
		g.t.Fatal(err)
	}
	return st.Requests.Available
}

// waitRecovery advances the clock a second at a time and calls call (on
// rep, a probe once a second) until rep is no longer degraded, and
// returns the seconds advanced. go-redis dials on the first call after the
// restart; a call that finds a connection from before it fails, and the
// next probe dials.
func (g *redisRig) waitRecovery(rep *Resilient, call func()) int {
	g.t.Helper()
	for k := 1; k <= 10; k++ {
		g.clock.Advance(time.Second)
		call()
		if !rep.Degraded() {
			return k
		}
	}
	g.t.Fatal("still degraded 10 probes after Redis came back")
	return 0
}

// count reserves one request on s until it is refused (at most most
// times) and returns the number granted.
func count(t *testing.T, s Store, key string, lim Limits, most int) int {
	t.Helper()
	for n := range most {
		r, err := s.Reserve(ctx, key, lim, oneReq)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK {
			return n
		}
	}
	return most
}

func TestResilientSwitchStartsFromLastSeen(t *testing.T) {
	g := newRedisRig(t, 3)
	lim := Limits{RPM: 300} // a share of 100
	// The replicas in turn take the shared bucket down to 30 of 300; each
	// last sees 32, 31 and 30 left.
	for i := range 270 {
		(&checker{t: t, s: g.reps[i%3]}).grant("dep", lim, oneReq)
	}
	if n := g.shared("dep", lim); n != 30 {
		t.Fatalf("shared bucket holds %d, want 30", n)
	}
	// Redis goes 30 s later: the shared bucket has refilled by 150 since,
	// but the replicas cannot know whether the others took it.
	g.clock.Advance(30 * time.Second)
	g.srv.Stop()
	// Each replica's share of what it last saw: 32/3, 31/3, 30/3, so 10
	// whole requests each (30 together, what the shared bucket held), not
	// the full share of 100, nor that plus 30 s of refill (50).
	for i, s := range g.reps {
		if n := count(t, s, "dep", lim, 200); n != 10 || !s.Degraded() {
			t.Errorf("replica %d: granted %d locally (degraded %v), want 10", i, n, s.Degraded())
		}
	}
	// From the switch on each refills at its share's rate, 100/min: 20 in
	// 12 s (plus the 2/3 and 1/3 left over, which make no whole request).
	g.clock.Advance(12 * time.Second)
	if st := (&checker{t: t, s: g.reps[2]}).state("dep", lim); st.Requests != (Level{Limit: 100, Available: 20, Reset: 48 * time.Second}) {
		t.Errorf("State after 12 s: %+v; want 20 of 100, full in 48 s", st.Requests)
	}
	for i, s := range g.reps {
		if n := count(t, s, "dep", lim, 200); n != 20 {
			t.Errorf("replica %d: granted %d after 12 s, want 20", i, n)
		}
	}
}

func TestResilientSwitchSpendsWindows(t *testing.T) {
	g := newRedisRig(t, 2)
	c := &checker{t: t, s: g.reps[0]}
	lim := Limits{RPM: 600, TPM: 6000, TokensWindow: time.Minute} // the window ends at 03:05:00
	c.grant("dep", lim, Cost{Requests: 1, Input: 1000})           // the share: 500 of 3000 used
	// Redis goes 30 s later. A window does not refill, and the other
	// replica may have spent since: the share counts its allowance spent
	// at the average rate over those 30 s, 1500, on top.
	g.clock.Advance(30 * time.Second)
	g.srv.Stop()
	c.grant("dep", lim, Cost{Requests: 1, Input: 1000})
	c.refuse("dep", lim, Cost{Requests: 1, Input: 1}, 25*time.Second)
	g.clock.Advance(25 * time.Second) // a new window: the share's whole allowance
	c.grant("dep", lim, Cost{Requests: 1, Input: 3000})
}

func TestResilientReseedsEmptyRedis(t *testing.T) {
	g := newRedisRig(t, 2)
	a, b := g.reps[0], g.reps[1]
	ca, cb := &checker{t: t, s: a}, &checker{t: t, s: b}
	lim := Limits{RPM: 60} // a share of 30
	for range 40 {
		ca.grant("dep", lim, oneReq) // a last sees 20 left: its share is 10
	}
	cb.grant("dep", lim, oneReq) // b sees 19: 9.5
	g.srv.Stop()
	for range 4 {
		ca.grant("dep", lim, oneReq) // a: 6 left
	}
	if n := count(t, b, "dep", lim, 100); n != 9 { // b: 0.5 left
		t.Fatalf("b granted %d locally, want 9", n)
	}

	g.srv.Start() // empty: no persistence
	ka := g.waitRecovery(a, func() { ca.state("dep", lim) })
	// a's probe seeded the key with what a's share had left: 6, refilled
	// at 30/min (a half a second) since the switch; a full bucket would
	// hold 60. In units of 1/60000:
	seeded := 6*unit + int64(ka)*500*30
	if got, want := g.shared("dep", lim), seeded/unit; got != want {
		t.Fatalf("after a's recovery (%d s) the shared bucket holds %d, want %d seeded from a's share", ka, got, want)
	}
	// b finds the key seeded by a and leaves it alone (it would have
	// seeded less: 0.5 and its refill); the bucket refilled at 60/min
	// meanwhile, and b's probe reserved 1.
	var r Reservation
	kb := g.waitRecovery(b, func() { r = cb.grant("dep", lim, oneReq) })
	if got, want := g.shared("dep", lim), (seeded+int64(kb)*unit-unit)/unit; r.local || got != want {
		t.Fatalf("after b's recovery (%d s): reservation %+v, the shared bucket holds %d, want %d", kb, r, got, want)
	}
}

func TestResilientNeverSeenKey(t *testing.T) {
	g := newRedisRig(t, 3)
	s := g.reps[0]
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 300}
	g.srv.Stop()
	// A key this replica never reserved through Redis starts with its full
	// share (see Resilient).
	if n := count(t, s, "new", lim, 200); n != 100 {
		t.Fatalf("granted %d on a key never seen, want the full share of 100", n)
	}
	g.srv.Start()
	// The probe is a call on a key without local state: nothing to seed.
	k := g.waitRecovery(s, func() { c.state("idle", lim) })
	if got := g.shared("idle", lim); got != 300 {
		t.Fatalf("a key without local state holds %d, want a full 300", got)
	}
	// The drained key is seeded before its first call with what its share
	// has left: refilled at 100/min for k s.
	if got, want := g.shared("new", lim), int64(300); got != want {
		t.Fatalf("before its first call after recovery the drained key holds %d, want %d", got, want)
	}
	c.state("new", lim)
	if got, want := g.shared("new", lim), int64(100*k/60); got != want {
		t.Fatalf("after recovery (%d s) the drained key holds %d, want %d", k, got, want)
	}
}

func TestResilientReseedsWindowsAndBlocks(t *testing.T) {
	g := newRedisRig(t, 2)
	s := g.reps[0]
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 600, TPM: 6000, TokensWindow: time.Minute} // the window ends at 03:05:00
	c.grant("dep", lim, Cost{Requests: 1, Input: 100})            // local share: 50 of 3000 used
	g.srv.Stop()
	c.grant("dep", lim, Cost{Requests: 1, Input: 100}) // local: 150 used
	c.ok(s.Block(ctx, "blocked", lim, 5*time.Minute))
	c.ok(s.Block(ctx, "later", lim, 4*time.Minute))
	g.srv.Start()
	k := g.waitRecovery(s, func() { c.state("other", lim) })

	// What the share's window has left, 3000 - 150, is what Redis's
	// window has left.
	c.grant("dep", lim, Cost{Requests: 1})
	if st, err := g.view.State(ctx, "dep", lim); err != nil || st.Tokens.Available != 2850 {
		t.Fatalf("seeded window: %+v, %v; want 2850 of 6000 left", st.Tokens, err)
	}
	// Keys stay to be seeded as long as their local state would take to
	// go idle: here the block's 5 minutes.
	g.clock.Advance(3 * time.Minute)
	c.refuse("blocked", lim, oneReq, 2*time.Minute-time.Duration(k)*time.Second)
	if st, err := g.view.State(ctx, "blocked", lim); err != nil || st.BlockedFor != 2*time.Minute-time.Duration(k)*time.Second {
		t.Fatalf("seeded block: %+v, %v", st, err)
	}
	if n := s.pending.n.Load(); n != 1 { // "later", not called yet
		t.Fatalf("%d keys to re-seed 3 minutes after the recovery, want 1", n)
	}
	g.clock.Advance(2 * time.Minute)
	c.state("other", lim)
	if n := s.pending.n.Load(); n != 0 {
		t.Fatalf("%d keys to re-seed after every local state went idle, want 0", n)
	}
}

func TestResilientConcurrentRecovery(t *testing.T) {
	g := newRedisRig(t, 2)
	s := g.reps[0]
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 100} // a share of 50
	for range 80 {
		c.grant("dep", lim, oneReq) // seen: 20 left, a share of 10
	}
	g.srv.Stop()
	for range 5 {
		c.grant("dep", lim, oneReq) // 5 left locally
	}
	g.srv.Start()
	// Rounds of concurrent calls, a second apart, until one probe has
	// succeeded and one more round has run through Redis. Every call that
	// reaches Redis finds the key seeded with what the share has left
	// (5 and its refill of 50/min), refilling at 100/min, never a new,
	// full bucket (which would grant the 40 calls of a round at once).
	var granted atomic.Int64
	secs := 0
	for round := 0; round < 10; round++ {
		recovered := !s.Degraded()
		g.clock.Advance(time.Second)
		secs++
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				r, err := s.Reserve(ctx, "dep", lim, oneReq)
				if err != nil {
					t.Error(err)
				}
				if r.OK {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if recovered {
			break
		}
	}
	if s.Degraded() {
		t.Fatal("still degraded after 10 rounds")
	}
	if n, most := granted.Load(), int64(5+5+(200*secs+59)/60); n > most {
		t.Fatalf("granted %d in %d s after Redis came back empty, want at most %d", n, secs, most)
	}
}

func TestResilientCancelledProbeDecidesNothing(t *testing.T) {
	primary, s, clock, _ := newFlaky(t)
	c := &checker{t: t, s: s}
	primary.down.Store(true)
	c.grant("dep", rpm60, oneReq)
	primary.down.Store(false)
	clock.Advance(time.Second)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Reserve(cancelled, "dep", rpm60, oneReq); !errors.Is(err, context.Canceled) || !s.Degraded() {
		t.Fatalf("a probe with a cancelled context: %v, degraded %v; want context.Canceled, still degraded", err, s.Degraded())
	}
}

func TestResilientLearnAndBlockCarryOver(t *testing.T) {
	primary, s, _, _ := newFlaky(t)
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 60, TPM: 6000}
	c.ok(s.Block(ctx, "blocked", lim, 30*time.Second))
	c.ok(s.Learn(ctx, "learned", lim, Observed{RequestsRemaining: -1, TokensRemaining: 0, InputRemaining: -1, OutputRemaining: -1}))
	primary.down.Store(true)
	// Taken by the primary before the outage, applied locally too.
	c.refuse("blocked", lim, oneReq, 30*time.Second)
	c.refuse("learned", lim, Cost{Requests: 1, Input: 1}, 20*time.Millisecond) // 1 token at the share's 3000/min
}

func TestResilientShareSet(t *testing.T) {
	s := NewResilient(NewMemory(nil), 3, nil, nil)
	bkt := func(limit, learned, level int64) bucket { return bucket{limit: limit, learned: learned, level: level} }
	win := func(limit, level, w int64) bucket { return bucket{limit: limit, level: level, win: w} }
	for _, tc := range []struct {
		name          string
		shared, share bucket // the primary's set and this replica's share of it
		seed          bucket // what the share seeds
	}{
		{"bucket rounds down", bkt(300, 0, 32*unit), bkt(100, 0, 32*unit/3), bkt(300, 0, 32*unit/3)},
		{"full bucket", bkt(300, 0, 300*unit), bkt(100, 0, 100*unit), bkt(300, 0, 100*unit)},
		{"limit not divisible: clamped to the share", bkt(100, 0, 100*unit), bkt(33, 0, 33*unit), bkt(100, 0, 33*unit)},
		{"overcharged bucket rounds down", bkt(300, 0, -31*unit+1), bkt(100, 0, -31*unit/3), bkt(300, 0, -31*unit/3)},
		{"learned limit", bkt(300, 150, 90*unit), bkt(100, 50, 30*unit), bkt(300, 150, 30*unit)},
		{"window count rounds up", win(600, 100, 60000), win(200, 34, 60000), win(600, 434, 60000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var shared bucketSet
			shared.b[dimTPM] = tc.shared
			share := s.shareSet(shared)
			if got := share.b[dimTPM]; got != tc.share {
				t.Fatalf("share of %+v = %+v, want %+v", tc.shared, got, tc.share)
			}
			if got := s.sharedSet(share, Limits{TPM: tc.shared.limit}).b[dimTPM]; got != tc.seed {
				t.Fatalf("seed from %+v = %+v, want %+v", tc.share, got, tc.seed)
			}
		})
	}
}

// opaqueStore hides a primary's levels from Resilient, which then limits
// as before it followed them: local shares start full, nothing is
// re-seeded.
type opaqueStore struct{ Store }

// TestResilientRedisLoss replays issue 12 on one fake clock: three
// replicas share an account's limits in a real Redis at 1.5× its
// capacity (3 requests a second against 120 RPM), and the provider is a
// Memory holding the account's own buckets: it charges what the gateway
// charges at admission and refuses (a 429) what does not fit. After 150 s
// (the shared bucket has been empty for half a minute) Redis is killed
// for 160 s and restarted empty, then the run goes on for 90 s. Following
// the shared buckets there is no 429; without (opaqueStore), the switch
// and the recovery are bursts, which shows the run can fail.
func TestResilientRedisLoss(t *testing.T) {
	for _, follow := range []bool{true, false} {
		g := newRedisRig(t, 3)
		if !follow {
			for i, s := range g.reps {
				g.reps[i] = NewResilient(opaqueStore{s.primary}, 3, nil, g.clock.Now)
			}
		}
		before, loss, recovery := redisLoss(t, g)
		t.Logf("following the shared buckets %v: provider 429s before the loss %d, during it %d, after the restart %d",
			follow, before, loss, recovery)
		if before != 0 || follow && loss+recovery != 0 {
			t.Errorf("%d provider 429s before the loss, %d during it and %d after, want none", before, loss, recovery)
		}
		if !follow && (loss == 0 || recovery == 0) {
			t.Errorf("without following: %d 429s during the loss and %d after; the run no longer shows the bursts", loss, recovery)
		}
	}
}

// redisLoss runs the scenario of TestResilientRedisLoss on g and returns
// the provider's 429s before the loss, during it and after the restart.
func redisLoss(t *testing.T, g *redisRig) (before, loss, recovery int) {
	lim := Limits{RPM: 120, TPM: 200_000}
	cost := Cost{Requests: 1, Input: 500, Output: 500} // charged at admission, as OpenAI does
	provider := NewMemory(g.clock.Now)
	const step = time.Second / 3
	killAt, restartAt, end := 150*time.Second, 310*time.Second, 400*time.Second
	for i, at := 0, time.Duration(0); at < end; i, at = i+1, at+step {
		g.clock.Advance(step)
		switch {
		case at >= killAt && at-step < killAt:
			g.srv.Stop()
		case at >= restartAt && at-step < restartAt:
			g.srv.Start()
		}
		rep := g.reps[i%len(g.reps)]
		r, err := rep.Reserve(ctx, "acct", lim, cost)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK {
			continue // shed by the gateway
		}
		p, err := provider.Reserve(ctx, "acct", lim, cost)
		if err != nil {
			t.Fatal(err)
		}
		if p.OK {
			continue
		}
		switch {
		case at < killAt:
			before++
		case at < restartAt:
			loss++
		default:
			recovery++
		}
		if err := rep.Block(ctx, "acct", lim, p.Wait); err != nil {
			t.Fatal(err)
		}
	}
	return before, loss, recovery
}
