package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// storeFactory returns a new, empty Store for t, and the function that
// moves its clock forward.
type storeFactory func(t *testing.T) (Store, func(d time.Duration))

func TestContractMemory(t *testing.T) {
	runContract(t, func(t *testing.T) (Store, func(time.Duration)) {
		c := newFakeClock()
		return NewMemory(c.Now), c.Advance
	})
}

func TestContractRedis(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	runContract(t, func(t *testing.T) (Store, func(time.Duration)) {
		c := newFakeClock()
		r := NewRedis(client, t.Name()+":")
		r.Now = c.Now
		return r, c.Advance
	})
}

// contractCase is one behaviour every Store must have.
type contractCase struct {
	name string
	run  func(t *testing.T, s *checker, advance func(time.Duration))
}

// runContract runs every contract case on a fresh store from newStore.
func runContract(t *testing.T, newStore storeFactory) {
	for _, tc := range contractCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, advance := newStore(t)
			tc.run(t, &checker{t: t, s: s}, advance)
		})
	}
}

// checker wraps a Store with assertions.
type checker struct {
	t *testing.T
	s Store
}

var ctx = context.Background()

// grant reserves and fails unless the reservation is granted.
func (c *checker) grant(key string, lim Limits, cost Cost) Reservation {
	c.t.Helper()
	r, err := c.s.Reserve(ctx, key, lim, cost)
	if err != nil || !r.OK {
		c.t.Fatalf("Reserve(%s, %+v, %+v) = %+v, %v; want granted", key, lim, cost, r, err)
	}
	return r
}

// refuse reserves and fails unless the reservation is refused with wait.
func (c *checker) refuse(key string, lim Limits, cost Cost, wait time.Duration) {
	c.t.Helper()
	r, err := c.s.Reserve(ctx, key, lim, cost)
	if err != nil || r.OK || r.Wait != wait {
		c.t.Fatalf("Reserve(%s, %+v, %+v) = %+v, %v; want refused with wait %s", key, lim, cost, r, err, wait)
	}
}

// exceeds reserves and fails unless Reserve returns an ExceedsError.
func (c *checker) exceeds(key string, lim Limits, cost Cost, want ExceedsError) {
	c.t.Helper()
	r, err := c.s.Reserve(ctx, key, lim, cost)
	var ee *ExceedsError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExceedsLimit) || *ee != want || r.OK {
		c.t.Fatalf("Reserve(%s, %+v, %+v) = %+v, %v; want %+v", key, lim, cost, r, err, want)
	}
}

func (c *checker) state(key string, lim Limits) State {
	c.t.Helper()
	st, err := c.s.State(ctx, key, lim)
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// available checks the available amount of each limited dimension, in
// the order rpm, tpm, itpm, otpm.
func (c *checker) available(key string, lim Limits, want ...int64) {
	c.t.Helper()
	st := c.state(key, lim)
	got := []int64{}
	for i, l := range []Level{st.Requests, st.Tokens, st.InputTokens, st.OutputTokens} {
		if limitVec(lim)[i] > 0 {
			got = append(got, l.Available)
		}
	}
	if len(got) != len(want) {
		c.t.Fatalf("State(%s) = %+v: %d limited dimensions, want %d", key, st, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			c.t.Fatalf("State(%s) available = %v, want %v (%+v)", key, got, want, st)
		}
	}
}

func (c *checker) ok(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

var (
	rpm60   = Limits{RPM: 60}
	tpm600  = Limits{TPM: 600}
	all4    = Limits{RPM: 10, TPM: 1000, ITPM: 800, OTPM: 400}
	oneReq  = Cost{Requests: 1}
	noLimit = Limits{}
)

func contractCases() []contractCase {
	return []contractCase{
		{"fresh bucket grants its capacity then waits", testFresh},
		{"wait is rounded up to the millisecond", testWaitRounding},
		{"refills continuously and never above capacity", testRefill},
		{"all or nothing across dimensions", testAllOrNothing},
		{"cost above capacity is an ExceedsError", testExceeds},
		{"settle refunds and overcharges", testSettle},
		{"cancel refunds in full", testCancel},
		{"reserve and cancel leave no drift", testNoDrift},
		{"learn lowers and never raises", testLearnRemaining},
		{"learn remembers a lower limit", testLearnLimit},
		{"block empties and refuses until it ends", testBlock},
		{"state reports levels and resets", testState},
		{"unlimited dimensions have no bucket", testUnlimited},
		{"keys are independent", testKeys},
		{"changed limits keep the used amount", testRescale},
		{"concurrent reservations never over-grant", testConcurrent},

		// Fixed windows (contract_window_test.go).
		{"window grants its allowance and does not refill", testWindowAllowance},
		{"window resets at its boundary, aligned to the clock", testWindowBoundary},
		{"10 s request windows allow RPM/6", testWindowRequests},
		{"window cost above the allowance is an ExceedsError", testWindowExceeds},
		{"window settle and cancel correct the current window only", testWindowSettle},
		{"window learn raises the used count", testWindowLearn},
		{"window learn remembers a lower limit", testWindowLearnLimit},
		{"window block uses up the window", testWindowBlock},
		{"window tpm with bucket rpm", testWindowMixed},
		{"window state", testWindowState},
		{"changed windows keep the used amount", testWindowRescale},
		{"window reserve and cancel leave no drift", testWindowNoDrift},
		{"concurrent window reservations never over-grant", testWindowConcurrent},
		{"invalid windows are refused", testWindowInvalid},
	}
}

func testFresh(t *testing.T, c *checker, _ func(time.Duration)) {
	for range 60 {
		c.grant("a", rpm60, oneReq)
	}
	c.refuse("a", rpm60, oneReq, time.Second)
	c.refuse("a", rpm60, Cost{Requests: 3}, 3*time.Second)

	for range 6 {
		c.grant("b", tpm600, Cost{Input: 60, Output: 40})
	}
	c.refuse("b", tpm600, Cost{Input: 20, Output: 5}, 2500*time.Millisecond)
}

func testWaitRounding(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{TPM: 7} // one token every 8571.43 ms
	c.grant("a", lim, Cost{Input: 7})
	c.refuse("a", lim, Cost{Input: 1}, 8572*time.Millisecond)
	advance(8571 * time.Millisecond)
	c.refuse("a", lim, Cost{Input: 1}, time.Millisecond)
	advance(time.Millisecond)
	c.grant("a", lim, Cost{Input: 1})
}

func testRefill(t *testing.T, c *checker, advance func(time.Duration)) {
	for range 60 {
		c.grant("a", rpm60, oneReq)
	}
	advance(500 * time.Millisecond)
	c.refuse("a", rpm60, oneReq, 500*time.Millisecond)
	advance(500 * time.Millisecond)
	c.grant("a", rpm60, oneReq)
	c.refuse("a", rpm60, oneReq, time.Second)
	advance(10 * time.Minute)
	for range 60 {
		c.grant("a", rpm60, oneReq)
	}
	c.refuse("a", rpm60, oneReq, time.Second)
}

func testAllOrNothing(t *testing.T, c *checker, _ func(time.Duration)) {
	// all4: RPM 10, TPM 1000, ITPM 800, OTPM 400. Each case drains one
	// dimension, then asks for a cost that fits every other one.
	cases := []struct {
		name         string
		drain, probe Cost
		wait         time.Duration
		after        []int64
	}{
		{"rpm", Cost{Requests: 10}, Cost{Requests: 1, Input: 1}, 6 * time.Second, []int64{0, 1000, 800, 400}},
		{"tpm", Cost{Input: 700, Output: 300}, Cost{Input: 10}, 600 * time.Millisecond, []int64{10, 0, 100, 100}},
		{"itpm", Cost{Input: 800}, Cost{Requests: 1, Input: 8, Output: 8}, 600 * time.Millisecond, []int64{10, 200, 0, 400}},
		{"otpm", Cost{Output: 400}, Cost{Requests: 1, Input: 8, Output: 8}, 1200 * time.Millisecond, []int64{10, 600, 800, 0}},
	}
	for _, tc := range cases {
		c.grant(tc.name, all4, tc.drain)
		c.refuse(tc.name, all4, tc.probe, tc.wait)
		c.available(tc.name, all4, tc.after...)
	}
	c.grant("sum", all4, Cost{Requests: 1, Input: 500, Output: 400})
	c.available("sum", all4, 9, 100, 300, 0)
}

func testExceeds(t *testing.T, c *checker, _ func(time.Duration)) {
	c.exceeds("a", all4, Cost{Requests: 11}, ExceedsError{Dimension: "rpm", Limit: 10, Cost: 11})
	c.exceeds("a", all4, Cost{Input: 600, Output: 401}, ExceedsError{Dimension: "tpm", Limit: 1000, Cost: 1001})
	c.exceeds("a", all4, Cost{Input: 801}, ExceedsError{Dimension: "itpm", Limit: 800, Cost: 801})
	c.exceeds("a", all4, Cost{Output: 401}, ExceedsError{Dimension: "otpm", Limit: 400, Cost: 401})
	c.available("a", all4, 10, 1000, 800, 400) // nothing charged
	c.grant("a", all4, Cost{Requests: 10, Input: 600, Output: 400})
	// A cost within capacity waits instead, even when blocked.
	c.ok(c.s.Block(ctx, "a", all4, time.Hour))
	c.exceeds("a", all4, Cost{Requests: 11}, ExceedsError{Dimension: "rpm", Limit: 10, Cost: 11})
}

func testSettle(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{TPM: 1000}
	r := c.grant("a", lim, Cost{Input: 400, Output: 100})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 150, Output: 50}))
	c.available("a", lim, 800)

	// Overcharge: the level goes negative and delays even a free request.
	r = c.grant("a", lim, Cost{Input: 800})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 1100, Output: 200}))
	c.available("a", lim, -500)
	c.refuse("a", lim, Cost{}, 30*time.Second)
	if st := c.state("a", lim); st.Tokens.Reset != 90*time.Second {
		t.Fatalf("Reset = %s, want 90s", st.Tokens.Reset)
	}
	// The floor is one capacity below zero.
	r = c.grant("b", lim, Cost{Input: 1})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 50000}))
	c.available("b", lim, -1000)

	// A refund never lifts a bucket above its capacity.
	r = c.grant("c", lim, Cost{Input: 300})
	advance(time.Minute)
	c.ok(c.s.Settle(ctx, r, Cost{}))
	c.available("c", lim, 1000)
	for range 1000 / 250 {
		c.grant("c", lim, Cost{Input: 250})
	}
	c.refuse("c", lim, Cost{Input: 1}, 60*time.Millisecond)

	// Settling a refused reservation does nothing.
	c.ok(c.s.Settle(ctx, Reservation{Key: "c", Limits: lim, Cost: Cost{Input: 900}}, Cost{}))
	c.available("c", lim, 0)
}

func testCancel(t *testing.T, c *checker, _ func(time.Duration)) {
	var last Reservation
	for range 60 {
		last = c.grant("a", rpm60, oneReq)
	}
	c.refuse("a", rpm60, oneReq, time.Second)
	c.ok(c.s.Cancel(ctx, last))
	c.grant("a", rpm60, oneReq)
	c.refuse("a", rpm60, oneReq, time.Second)

	r := c.grant("b", all4, Cost{Requests: 3, Input: 500, Output: 300})
	c.ok(c.s.Cancel(ctx, r))
	c.available("b", all4, 10, 1000, 800, 400)
}

func testNoDrift(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 7, TPM: 997, ITPM: 991, OTPM: 13}
	cost := Cost{Requests: 1, Input: 331, Output: 7}
	for range 500 {
		r := c.grant("a", lim, cost)
		advance(3 * time.Millisecond)
		c.ok(c.s.Cancel(ctx, r))
	}
	c.available("a", lim, 7, 997, 991, 13)
	if st := c.state("a", lim); st.Requests.Reset != 0 || st.Tokens.Reset != 0 {
		t.Fatalf("State = %+v, want full", st)
	}
}

func testLearnRemaining(t *testing.T, c *checker, _ func(time.Duration)) {
	lim := Limits{RPM: 100, TPM: 1000}
	obs := func(reqs, toks int64) Observed {
		return Observed{RequestsRemaining: reqs, TokensRemaining: toks, InputRemaining: -1, OutputRemaining: -1}
	}
	c.ok(c.s.Learn(ctx, "a", lim, obs(40, 300)))
	c.available("a", lim, 40, 300)
	c.ok(c.s.Learn(ctx, "a", lim, obs(90, 900))) // never raises
	c.available("a", lim, 40, 300)
	c.ok(c.s.Learn(ctx, "a", lim, obs(-1, 200))) // -1: not reported
	c.available("a", lim, 40, 200)
	c.ok(c.s.Learn(ctx, "a", lim, obs(0, -1)))
	c.refuse("a", lim, oneReq, 600*time.Millisecond)
	// Dimensions without a limit learn nothing.
	c.ok(c.s.Learn(ctx, "b", rpm60, Observed{RequestsRemaining: -1, TokensRemaining: 0, InputRemaining: 0, OutputRemaining: 0}))
	c.available("b", rpm60, 60)
}

func testLearnLimit(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{TPM: 1000}
	obs := func(limit int64) Observed {
		return Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1, TokensLimit: limit}
	}
	c.grant("a", lim, Cost{Input: 100})
	c.ok(c.s.Learn(ctx, "a", lim, obs(500))) // keeps the 100 used
	st := c.state("a", lim)
	if st.Tokens.Limit != 500 || st.Tokens.Available != 400 {
		t.Fatalf("after learning 500: %+v", st.Tokens)
	}
	c.exceeds("a", lim, Cost{Input: 501}, ExceedsError{Dimension: "tpm", Limit: 500, Cost: 501})
	c.grant("a", lim, Cost{Input: 400})
	c.refuse("a", lim, Cost{Input: 50}, 6*time.Second) // refills at 500/min
	advance(time.Minute)
	c.available("a", lim, 500)
	c.ok(c.s.Learn(ctx, "a", lim, obs(0))) // 0: not reported, still 500
	c.available("a", lim, 500)
	c.ok(c.s.Learn(ctx, "a", lim, obs(700)))
	c.available("a", lim, 700)
	c.ok(c.s.Learn(ctx, "a", lim, obs(5000))) // the configured limit is the ceiling
	st = c.state("a", lim)
	if st.Tokens.Limit != 1000 || st.Tokens.Available != 1000 {
		t.Fatalf("after learning 5000: %+v", st.Tokens)
	}
	c.grant("a", lim, Cost{Input: 1000})
}

func testBlock(t *testing.T, c *checker, advance func(time.Duration)) {
	c.ok(c.s.Block(ctx, "a", rpm60, 10*time.Second))
	st := c.state("a", rpm60)
	if st.Requests.Available != 0 || st.BlockedFor != 10*time.Second {
		t.Fatalf("after Block: %+v", st)
	}
	c.refuse("a", rpm60, oneReq, 10*time.Second)
	advance(5 * time.Second)
	c.refuse("a", rpm60, oneReq, 5*time.Second)
	advance(5 * time.Second)
	for range 10 { // refilled during the block
		c.grant("a", rpm60, oneReq)
	}
	c.refuse("a", rpm60, oneReq, time.Second)

	// The wait is the longer of the block and the refill.
	c.ok(c.s.Block(ctx, "b", tpm600, time.Second))
	c.refuse("b", tpm600, Cost{Input: 100}, 10*time.Second)
	// A shorter block does not shorten a longer one.
	c.ok(c.s.Block(ctx, "b", tpm600, 20*time.Second))
	c.ok(c.s.Block(ctx, "b", tpm600, time.Second))
	c.refuse("b", tpm600, Cost{}, 20*time.Second)

	// Keys without limits are blocked too; sub-millisecond blocks round up.
	c.ok(c.s.Block(ctx, "c", noLimit, 1500*time.Microsecond))
	c.refuse("c", noLimit, oneReq, 2*time.Millisecond)
	advance(2 * time.Millisecond)
	c.grant("c", noLimit, oneReq)
}

func testState(t *testing.T, c *checker, _ func(time.Duration)) {
	st := c.state("a", all4)
	want := State{
		Requests:     Level{Limit: 10, Available: 10},
		Tokens:       Level{Limit: 1000, Available: 1000},
		InputTokens:  Level{Limit: 800, Available: 800},
		OutputTokens: Level{Limit: 400, Available: 400},
	}
	if st != want {
		t.Fatalf("fresh State = %+v, want %+v", st, want)
	}
	c.grant("a", all4, Cost{Requests: 5, Input: 200, Output: 100})
	st = c.state("a", all4)
	want = State{
		Requests:     Level{Limit: 10, Available: 5, Reset: 30 * time.Second},
		Tokens:       Level{Limit: 1000, Available: 700, Reset: 18 * time.Second},
		InputTokens:  Level{Limit: 800, Available: 600, Reset: 15 * time.Second},
		OutputTokens: Level{Limit: 400, Available: 300, Reset: 15 * time.Second},
	}
	if st != want {
		t.Fatalf("State = %+v, want %+v", st, want)
	}
	if st := c.state("b", rpm60); st.Tokens != (Level{}) || st.InputTokens != (Level{}) {
		t.Fatalf("unlimited dimensions report %+v", st)
	}
	// A partial token is not available: 1 token of TPM 7 refills in 8571.43 ms.
	lim := Limits{TPM: 7}
	c.grant("c", lim, Cost{Input: 7})
	st = c.state("c", lim)
	if st.Tokens.Available != 0 || st.Tokens.Reset != time.Minute {
		t.Fatalf("drained State = %+v", st.Tokens)
	}
}

func testUnlimited(t *testing.T, c *checker, _ func(time.Duration)) {
	huge := Cost{Requests: MaxCost, Input: MaxCost, Output: MaxCost}
	for range 3 {
		c.grant("a", noLimit, huge)
	}
	c.grant("b", Limits{RPM: 1}, Cost{Requests: 1, Input: MaxCost, Output: MaxCost})
	c.refuse("b", Limits{RPM: 1}, oneReq, time.Minute)
	r := c.grant("c", noLimit, huge)
	c.ok(c.s.Settle(ctx, r, Cost{}))
	if st := c.state("c", noLimit); st != (State{}) {
		t.Fatalf("State of an unlimited key = %+v", st)
	}
	if _, err := c.s.Reserve(ctx, "d", Limits{RPM: -1}, oneReq); err == nil {
		t.Fatal("a negative limit was accepted")
	}
	if _, err := c.s.Reserve(ctx, "d", rpm60, Cost{Input: -1}); err == nil {
		t.Fatal("a negative cost was accepted")
	}
}

func testKeys(t *testing.T, c *checker, _ func(time.Duration)) {
	for range 60 {
		c.grant("a", rpm60, oneReq)
	}
	c.refuse("a", rpm60, oneReq, time.Second)
	c.ok(c.s.Block(ctx, "c", rpm60, time.Minute))
	c.grant("b", rpm60, oneReq)
	c.available("b", rpm60, 59)
}

func testRescale(t *testing.T, c *checker, _ func(time.Duration)) {
	for range 20 {
		c.grant("a", rpm60, oneReq)
	}
	c.available("a", Limits{RPM: 120}, 100)
	c.available("a", Limits{RPM: 10}, -10)
	c.refuse("a", Limits{RPM: 10}, oneReq, 66*time.Second)
	c.available("a", Limits{RPM: 60}, 40) // the used amount survives
	c.available("a", Limits{RPM: 60, TPM: 100}, 40, 100)
	c.grant("a", Limits{TPM: 100}, oneReq)               // RPM removed
	c.available("a", Limits{RPM: 60, TPM: 100}, 60, 100) // and back: new, full
}

func testConcurrent(t *testing.T, c *checker, _ func(time.Duration)) {
	const capacity, workers = 37, 100
	lim := Limits{RPM: capacity, TPM: 10 * capacity}
	var granted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			r, err := c.s.Reserve(ctx, "a", lim, Cost{Requests: 1, Input: 5, Output: 5})
			if err != nil {
				errs <- err
			}
			if r.OK {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := granted.Load(); n != capacity {
		t.Fatalf("%d of %d concurrent reservations granted, want exactly %d", n, workers, capacity)
	}
	c.available("a", lim, 0, 0)
}
