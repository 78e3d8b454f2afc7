package ratelimit

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	switchLine   = "redis unreachable; limiting locally at 1/2 of each limit"
	recoveryLine = "redis reachable again; limiting through redis"
)

// logLines counts the lines of log that contain msg.
func logLines(log *lockedBuffer, msg string) int { return strings.Count(log.String(), msg) }

func TestResilientRedisOutage(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	clock := newFakeClock()
	red := NewRedis(client, "res:")
	red.Now = clock.Now
	log := &lockedBuffer{}
	s := NewResilient(red, 2, slog.New(slog.NewTextHandler(log, nil)), clock.Now)
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 10}

	c.grant("dep", lim, oneReq)
	if st, _ := red.State(ctx, "dep", lim); s.Degraded() || st.Requests.Available != 9 {
		t.Fatalf("before the outage: degraded %v, Redis state %+v", s.Degraded(), st)
	}

	srv.Stop()
	var local []Reservation
	for range 4 { // the local share of the 9 left is 4.5
		local = append(local, c.grant("dep", lim, oneReq))
	}
	c.refuse("dep", lim, oneReq, 6*time.Second) // 0.5 left, refilling at 5/min
	if !s.Degraded() || !local[0].local {
		t.Fatalf("during the outage: degraded %v, reservation %+v", s.Degraded(), local[0])
	}
	c.ok(s.Cancel(ctx, local[3])) // settled locally
	local[3] = c.grant("dep", lim, oneReq)
	clock.Advance(time.Second) // a probe, which fails
	c.refuse("dep", lim, oneReq, 5*time.Second)
	c.ok(s.Learn(ctx, "dep", lim, Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1}))

	srv.Start() // empty
	deadline := time.Now().Add(10 * time.Second)
	k := int64(0)
	for s.Degraded() { // go-redis redials in the background, on real time
		if time.Now().After(deadline) {
			t.Fatal("still degraded 10 s after Redis came back")
		}
		clock.Advance(time.Second)
		k++
		s.State(ctx, "dep", lim)
		time.Sleep(20 * time.Millisecond)
	}
	// Redis was re-seeded with what the local share had left, 0.5 and its
	// refill of 5/min for 1+k s, not created full.
	level := unit/2 + (1+k)*5000
	if st, _ := red.State(ctx, "dep", lim); st.Requests != (Level{Limit: 10, Available: level / unit, Reset: ms(ceilDiv(10*unit-level, 10))}) {
		t.Fatalf("after recovery (%d s), Redis state %+v; want it seeded with %d units", k, st, level)
	}
	clock.Advance(6 * time.Second)
	if r := c.grant("dep", lim, oneReq); r.local {
		t.Fatalf("after recovery: reservation %+v", r)
	}
	// A reservation from the outage is still settled locally.
	localAvailable := func() int64 {
		st, err := s.local.State(ctx, "dep", s.share(lim))
		c.ok(err)
		return st.Requests.Available
	}
	before := localAvailable()
	c.ok(s.Settle(ctx, local[0], Cost{}))
	if after := localAvailable(); after != before+1 {
		t.Fatalf("settling an outage reservation moved the local level from %d to %d", before, after)
	}
	if n, m := logLines(log, switchLine), logLines(log, recoveryLine); n != 1 || m != 1 {
		t.Fatalf("log has %d switch and %d recovery lines, want one each:\n%s", n, m, log.String())
	}
}

// flakyStore is a Store that fails with ErrUnavailable while down (and
// with the context's error when it has ended), and counts the calls that
// reach it.
type flakyStore struct {
	*Memory
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakyStore) fail(ctx context.Context) error {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.down.Load() {
		return &unavailableError{op: "test", err: io.EOF}
	}
	return nil
}

func (f *flakyStore) Reserve(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error) {
	if err := f.fail(ctx); err != nil {
		return Reservation{}, err
	}
	return f.Memory.Reserve(ctx, key, lim, cost)
}

func (f *flakyStore) Settle(ctx context.Context, r Reservation, actual Cost) error {
	if err := f.fail(ctx); err != nil {
		return err
	}
	return f.Memory.Settle(ctx, r, actual)
}

func (f *flakyStore) Cancel(ctx context.Context, r Reservation) error {
	return f.Settle(ctx, r, Cost{})
}

func (f *flakyStore) Learn(ctx context.Context, key string, lim Limits, obs Observed) error {
	if err := f.fail(ctx); err != nil {
		return err
	}
	return f.Memory.Learn(ctx, key, lim, obs)
}

func (f *flakyStore) Block(ctx context.Context, key string, lim Limits, d time.Duration) error {
	if err := f.fail(ctx); err != nil {
		return err
	}
	return f.Memory.Block(ctx, key, lim, d)
}

func (f *flakyStore) State(ctx context.Context, key string, lim Limits) (State, error) {
	if err := f.fail(ctx); err != nil {
		return State{}, err
	}
	return f.Memory.State(ctx, key, lim)
}

func newFlaky(t *testing.T) (*flakyStore, *Resilient, *fakeClock, *lockedBuffer) {
	clock := newFakeClock()
	primary := &flakyStore{Memory: NewMemory(clock.Now)}
	log := &lockedBuffer{}
	return primary, NewResilient(primary, 2, slog.New(slog.NewTextHandler(log, nil)), clock.Now), clock, log
}

func TestResilientProbesOncePerSecond(t *testing.T) {
	primary, s, clock, log := newFlaky(t)
	c := &checker{t: t, s: s}
	primary.down.Store(true)
	for range 10 {
		c.grant("dep", rpm60, oneReq)
	}
	if n := primary.calls.Load(); n != 1 || !s.Degraded() {
		t.Fatalf("%d primary calls, degraded %v; want 1 call and degraded", n, s.Degraded())
	}
	clock.Advance(999 * time.Millisecond)
	c.grant("dep", rpm60, oneReq)
	clock.Advance(time.Millisecond)
	c.grant("dep", rpm60, oneReq) // the probe
	c.grant("dep", rpm60, oneReq)
	if n := primary.calls.Load(); n != 2 {
		t.Fatalf("%d primary calls, want 2", n)
	}
	primary.down.Store(false)
	c.grant("dep", rpm60, oneReq) // no probe due: still local
	if !s.Degraded() || primary.calls.Load() != 2 {
		t.Fatal("recovered without a probe")
	}
	clock.Advance(time.Second)
	r := c.grant("dep", rpm60, oneReq)
	if s.Degraded() || r.local || primary.calls.Load() != 3 {
		t.Fatalf("after a successful probe: degraded %v, reservation %+v", s.Degraded(), r)
	}
	if n, m := logLines(log, switchLine), logLines(log, recoveryLine); n != 1 || m != 1 {
		t.Fatalf("log has %d switch and %d recovery lines, want one each:\n%s", n, m, log.String())
	}
}

func TestResilientLocalShare(t *testing.T) {
	primary, s, _, _ := newFlaky(t)
	c := &checker{t: t, s: s}
	primary.down.Store(true)
	lim := Limits{RPM: 3, TPM: 1000}
	c.grant("dep", lim, Cost{Requests: 1, Input: 400})
	c.exceeds("dep", lim, Cost{Requests: 1, Input: 501}, ExceedsError{Dimension: "tpm", Limit: 500, Cost: 501})
	c.refuse("dep", lim, oneReq, 60*time.Second) // RPM 3/2 = 1
	c.available("dep", lim, 0, 100)
	c.ok(s.Learn(ctx, "dep", lim, Observed{RequestsRemaining: -1, TokensRemaining: 100, InputRemaining: -1, OutputRemaining: -1, TokensLimit: 600}))
	// Local share: limit 300, of which 400 were used: -100 available.
	if st := c.state("dep", lim); st.Tokens.Limit != 300 || st.Tokens.Available != -100 {
		t.Fatalf("after learning TPM 600 with 100 left: %+v", st.Tokens)
	}
	c.ok(s.Block(ctx, "other", lim, time.Minute))
	c.refuse("other", lim, Cost{}, time.Minute)
	// A primary reservation settled during the outage is dropped.
	c.ok(s.Settle(ctx, Reservation{OK: true, Key: "dep", Limits: lim, Cost: oneReq}, Cost{}))
}

func TestResilientOtherErrorsPassThrough(t *testing.T) {
	primary, s, _, log := newFlaky(t)
	c := &checker{t: t, s: s}
	c.exceeds("dep", rpm60, Cost{Requests: 61}, ExceedsError{Dimension: "rpm", Limit: 60, Cost: 61})
	if _, err := s.Reserve(ctx, "dep", Limits{RPM: -1}, oneReq); err == nil {
		t.Fatal("invalid limits accepted")
	}
	if s.Degraded() || primary.calls.Load() != 1 || log.String() != "" {
		t.Fatalf("degraded %v after %d calls; log %q", s.Degraded(), primary.calls.Load(), log.String())
	}
}

func TestResilientConcurrentOutage(t *testing.T) {
	primary, s, clock, log := newFlaky(t)
	primary.down.Store(true)
	var wg sync.WaitGroup
	var granted atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			if i%20 == 0 {
				clock.Advance(100 * time.Millisecond)
			}
			r, err := s.Reserve(ctx, "dep", Limits{RPM: 200}, oneReq)
			if err != nil {
				t.Error(err)
			}
			if r.OK {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := logLines(log, switchLine); n != 1 || !s.Degraded() {
		t.Fatalf("%d switch lines, degraded %v", n, s.Degraded())
	}
	// 100 of the local share, plus refill over at most 1 s of the fake clock.
	if n := granted.Load(); n < 100 || n > 102 {
		t.Fatalf("granted %d, want the local share of 100 (+ refill)", n)
	}
}

func TestResilientLocalShareKeepsWindows(t *testing.T) {
	primary, s, clock, _ := newFlaky(t)
	c := &checker{t: t, s: s}
	clock.Advance(55 * time.Second) // 03:05:00
	primary.down.Store(true)
	lim := Limits{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	for range 10 { // the local share: RPM 60, 10 per 10 s
		c.grant("dep", lim, oneReq)
	}
	c.refuse("dep", lim, oneReq, 10*time.Second)
	st := c.state("dep", lim)
	if st.Requests.Limit != 10 || st.Tokens != (Level{Limit: 3000, Available: 3000, Reset: time.Minute}) {
		t.Fatalf("local State = %+v", st)
	}
	c.exceeds("dep", lim, Cost{Input: 3001}, ExceedsError{Dimension: "tpm", Limit: 3000, Cost: 3001, Window: time.Minute})
}
