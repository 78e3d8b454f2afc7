package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The contract cases for fixed-window dimensions. Every store starts at
// newFakeClock's 03:04:05 UTC, so a 1-minute window has 55 s left and a
// 10-second window 5 s; toMinute moves the clock to 03:05:00, where both
// start.

// toMinute advances a fresh store's clock to the next whole minute.
func toMinute(advance func(time.Duration)) { advance(55 * time.Second) }

var (
	tpm600w = Limits{TPM: 600, TokensWindow: time.Minute}
	azure   = Limits{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
)

// obsNone is an Observed that reports nothing.
var obsNone = Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1}

func testWindowAllowance(t *testing.T, c *checker, advance func(time.Duration)) {
	toMinute(advance)
	for range 6 {
		c.grant("a", tpm600w, Cost{Input: 60, Output: 40})
	}
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Minute)
	// A bucket would have refilled 300 tokens in 30 s; a window has not.
	advance(30 * time.Second)
	c.refuse("a", tpm600w, Cost{Input: 1}, 30*time.Second)
	c.available("a", tpm600w, 0)
	advance(29999 * time.Millisecond)
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Millisecond)
	c.available("a", tpm600w, 0)

	// The whole allowance at once is fine (cost == allowance).
	c.grant("b", tpm600w, Cost{Input: 600})
	c.refuse("b", tpm600w, Cost{Input: 1}, time.Millisecond)
	// A zero cost fits a window that is exactly used up.
	c.grant("b", tpm600w, Cost{})
}

func testWindowBoundary(t *testing.T, c *checker, advance func(time.Duration)) {
	// 03:04:05: the window started at 03:04:00 and ends in 55 s, however
	// recently the key was first seen.
	c.grant("a", tpm600w, Cost{Input: 600})
	c.refuse("a", tpm600w, Cost{Input: 1}, 55*time.Second)
	advance(55 * time.Second) // 03:05:00: a new window, counted from 0
	c.available("a", tpm600w, 600)
	c.grant("a", tpm600w, Cost{Input: 600})
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Minute)
	// Two full allowances within 55 s — the most Azure itself allows
	// across a boundary — and never more within one window.
	advance(59 * time.Second)
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Second)
	// Usage in windows that have ended is forgotten, however long ago.
	advance(10 * time.Minute)
	c.available("a", tpm600w, 600)
	if st := c.state("a", tpm600w); st.Tokens.Reset != time.Second {
		t.Fatalf("Reset = %s, want 1s (03:15:59 to 03:16:00)", st.Tokens.Reset)
	}
	for range 3 {
		c.grant("a", tpm600w, Cost{Input: 200})
	}
	c.refuse("a", tpm600w, Cost{Input: 1}, time.Second)
}

func testWindowRequests(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 120, RequestsWindow: 10 * time.Second}
	for range 20 { // 120/6
		c.grant("a", lim, oneReq)
	}
	c.refuse("a", lim, oneReq, 5*time.Second) // 03:04:05 to 03:04:10
	advance(5 * time.Second)
	for range 20 {
		c.grant("a", lim, oneReq)
	}
	c.refuse("a", lim, oneReq, 10*time.Second)
	advance(9999 * time.Millisecond)
	c.refuse("a", lim, oneReq, time.Millisecond)
	advance(time.Millisecond)
	c.grant("a", lim, oneReq)
	c.available("a", lim, 19)

	// The allowance is rounded down, and at least 1 (as the simulator's
	// max(1, RPM/6)).
	for rpm, want := range map[int64]int64{100: 16, 6: 1, 5: 1, 1: 1, 600: 100} {
		l := Limits{RPM: rpm, RequestsWindow: 10 * time.Second}
		if st := c.state("b", l); st.Requests.Limit != want || st.Requests.Available != want {
			t.Fatalf("RPM %d in 10 s windows: %+v, want %d per window", rpm, st.Requests, want)
		}
	}
	l := Limits{RPM: 5, RequestsWindow: 10 * time.Second}
	c.grant("c", l, oneReq)
	c.refuse("c", l, oneReq, 10*time.Second) // 03:04:20 to 03:04:30
}

func testWindowExceeds(t *testing.T, c *checker, _ func(time.Duration)) {
	c.exceeds("a", azure, Cost{Requests: 1, Input: 6001}, ExceedsError{Dimension: "tpm", Limit: 6000, Cost: 6001, Window: time.Minute})
	c.exceeds("a", azure, Cost{Requests: 21}, ExceedsError{Dimension: "rpm", Limit: 20, Cost: 21, Window: 10 * time.Second})
	half := Limits{TPM: 600, TokensWindow: 30 * time.Second}
	c.exceeds("a", half, Cost{Input: 301}, ExceedsError{Dimension: "tpm", Limit: 300, Cost: 301, Window: 30 * time.Second})
	c.available("a", azure, 20, 6000) // nothing charged
	// A cost within the allowance waits instead, even when the window is used up.
	c.grant("a", azure, Cost{Requests: 1, Input: 6000})
	c.refuse("a", azure, Cost{Requests: 1, Input: 6000}, 55*time.Second)
	_, err := c.s.Reserve(ctx, "a", azure, Cost{Requests: 1, Input: 6001})
	if err == nil || err.Error() != "ratelimit: request needs 6001 of tpm but the limit is 6000 per 1m0s window" {
		t.Fatalf("err = %v", err)
	}
}

func testWindowSettle(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{TPM: 1000, TokensWindow: time.Minute}
	toMinute(advance)

	// In the current window: refund and overcharge.
	r := c.grant("a", lim, Cost{Input: 400, Output: 100})
	advance(10 * time.Second)
	c.ok(c.s.Settle(ctx, r, Cost{Input: 150, Output: 50}))
	c.available("a", lim, 800)
	r = c.grant("a", lim, Cost{Input: 800})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 1100, Output: 200}))
	c.available("a", lim, -500)
	// An overcharged window delays even a free request, until it ends.
	c.refuse("a", lim, Cost{}, 50*time.Second)
	advance(50 * time.Second)
	c.available("a", lim, 1000)

	// The used count stays within [0, 2×allowance].
	r = c.grant("b", lim, Cost{Input: 1})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 50000}))
	c.available("b", lim, -1000)

	// Cancel in the current window refunds in full.
	r = c.grant("c", lim, Cost{Input: 300})
	c.grant("c", lim, Cost{Input: 700})
	c.ok(c.s.Cancel(ctx, r))
	c.available("c", lim, 300)
	c.grant("c", lim, Cost{Input: 300})

	// A reservation from a past window corrects nothing: neither a refund
	// nor an overcharge reaches the current window.
	r = c.grant("d", lim, Cost{Input: 600})
	r2 := c.grant("d", lim, Cost{Input: 100})
	advance(time.Minute) // next window
	c.grant("d", lim, Cost{Input: 700})
	c.ok(c.s.Cancel(ctx, r))
	c.available("d", lim, 300)
	c.ok(c.s.Settle(ctx, r2, Cost{Input: 900}))
	c.available("d", lim, 300)

	// The boundary is exact: 1 ms before the end is still the same window.
	r = c.grant("e", lim, Cost{Input: 500})
	advance(59999 * time.Millisecond)
	c.ok(c.s.Cancel(ctx, r))
	c.available("e", lim, 1000)
	r = c.grant("e", lim, Cost{Input: 500})
	advance(time.Millisecond)
	c.grant("e", lim, Cost{Input: 1000})
	c.ok(c.s.Cancel(ctx, r))
	c.available("e", lim, 0)

	// Settling a refused reservation does nothing.
	c.ok(c.s.Settle(ctx, Reservation{Key: "e", Limits: lim, Cost: Cost{Input: 900}}, Cost{}))
	c.available("e", lim, 0)
}

func testWindowLearn(t *testing.T, c *checker, advance func(time.Duration)) {
	toMinute(advance) // both windows start at 03:05:00
	obs := func(reqs, toks int64) Observed {
		o := obsNone
		o.RequestsRemaining, o.TokensRemaining = reqs, toks
		return o
	}
	c.ok(c.s.Learn(ctx, "a", azure, obs(5, 4000))) // used 15 and 2000
	c.available("a", azure, 5, 4000)
	c.ok(c.s.Learn(ctx, "a", azure, obs(10, 5000))) // never lowers the used count
	c.available("a", azure, 5, 4000)
	c.ok(c.s.Learn(ctx, "a", azure, obs(50, 9000))) // more than the allowance: nothing
	c.available("a", azure, 5, 4000)
	c.ok(c.s.Learn(ctx, "a", azure, obs(-1, 3000))) // -1: not reported
	c.available("a", azure, 5, 3000)
	c.grant("a", azure, Cost{Requests: 5, Input: 3000})
	c.refuse("a", azure, oneReq, 10*time.Second)
	// Requests come back with the next 10-second window; tokens do not.
	advance(10 * time.Second)
	c.available("a", azure, 20, 0)
	c.ok(c.s.Learn(ctx, "a", azure, obs(0, -1)))
	c.refuse("a", azure, oneReq, 10*time.Second)
	advance(10 * time.Second)
	c.grant("a", azure, oneReq)
	// A remaining learned in a window is forgotten with it.
	advance(40 * time.Second)
	c.available("a", azure, 20, 6000)

	// Dimensions without a limit learn nothing.
	c.ok(c.s.Learn(ctx, "b", tpm600w, Observed{RequestsRemaining: 0, TokensRemaining: -1, InputRemaining: 0, OutputRemaining: 0}))
	c.available("b", tpm600w, 600)
}

func testWindowLearnLimit(t *testing.T, c *checker, advance func(time.Duration)) {
	toMinute(advance)
	obs := func(reqLimit, tokLimit int64) Observed {
		o := obsNone
		o.RequestsLimit, o.TokensLimit = reqLimit, tokLimit
		return o
	}
	c.grant("a", azure, Cost{Requests: 1, Input: 1000})
	c.ok(c.s.Learn(ctx, "a", azure, obs(0, 3000))) // keeps the 1000 used
	st := c.state("a", azure)
	if st.Tokens.Limit != 3000 || st.Tokens.Available != 2000 {
		t.Fatalf("after learning TPM 3000: %+v", st.Tokens)
	}
	c.exceeds("a", azure, Cost{Input: 3001}, ExceedsError{Dimension: "tpm", Limit: 3000, Cost: 3001, Window: time.Minute})
	c.grant("a", azure, Cost{Input: 2000})
	c.refuse("a", azure, Cost{Input: 1}, time.Minute)
	advance(time.Minute) // a new window of the learned allowance
	c.available("a", azure, 20, 3000)
	c.ok(c.s.Learn(ctx, "a", azure, obs(0, 9000))) // the configured limit is the ceiling
	c.available("a", azure, 20, 6000)

	// Reported limits are per minute, for windows too: 20 per 10 s is
	// 120 per minute, the configured RPM; 60 per minute is 10 per window.
	c.ok(c.s.Learn(ctx, "a", azure, obs(120, 0)))
	c.available("a", azure, 20, 6000)
	c.ok(c.s.Learn(ctx, "a", azure, obs(60, 0)))
	if st := c.state("a", azure); st.Requests.Limit != 10 || st.Requests.Available != 10 {
		t.Fatalf("after learning RPM 60: %+v", st.Requests)
	}
	c.ok(c.s.Learn(ctx, "a", azure, obs(120, 0)))
	c.available("a", azure, 20, 6000)

	// A reported limit counts as lower only if its allowance per window
	// is: RPM 100 allows 16 per 10 s, and so does 96 (= 16 × 6, what the
	// provider's per-window header converts back to).
	lim := Limits{RPM: 100, RequestsWindow: 10 * time.Second}
	c.ok(c.s.Learn(ctx, "b", lim, obs(96, 0)))
	c.available("b", lim, 16)
	c.ok(c.s.Learn(ctx, "b", lim, obs(90, 0)))
	if st := c.state("b", lim); st.Requests.Limit != 15 {
		t.Fatalf("after learning RPM 90: %+v", st.Requests)
	}
	c.ok(c.s.Learn(ctx, "b", lim, obs(96, 0)))
	c.available("b", lim, 16)
}

func testWindowBlock(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 60, TPM: 600, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	c.ok(c.s.Block(ctx, "a", lim, 3*time.Second))
	st := c.state("a", lim)
	if st.Requests.Available != 0 || st.Tokens.Available != 0 || st.BlockedFor != 3*time.Second {
		t.Fatalf("after Block: %+v", st)
	}
	// The wait is the longest of the block and the windows the cost needs.
	c.refuse("a", lim, oneReq, 5*time.Second)
	c.refuse("a", lim, Cost{Requests: 1, Input: 1}, 55*time.Second)
	c.refuse("a", lim, Cost{}, 3*time.Second)
	advance(5 * time.Second) // a new request window, the block is over
	for range 10 {
		c.grant("a", lim, oneReq)
	}
	c.refuse("a", lim, oneReq, 10*time.Second)

	// A block longer than a window: windows restart during the block.
	c.ok(c.s.Block(ctx, "b", lim, 30*time.Second))
	c.refuse("b", lim, oneReq, 30*time.Second)
	advance(30 * time.Second)
	c.available("b", lim, 10, 0)
	c.grant("b", lim, oneReq)
	advance(20 * time.Second) // 03:05:00
	c.grant("b", lim, Cost{Requests: 1, Input: 600})

	// Block never lowers a count above the allowance.
	r := c.grant("c", lim, Cost{Input: 100})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 900}))
	c.ok(c.s.Block(ctx, "c", lim, time.Millisecond))
	c.available("c", lim, 0, -300)
}

func testWindowMixed(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 60, TPM: 600, TokensWindow: time.Minute} // RPM stays a bucket
	toMinute(advance)
	c.grant("a", lim, Cost{Requests: 1, Input: 500})
	c.refuse("a", lim, Cost{Requests: 1, Input: 200}, time.Minute)
	st := c.state("a", lim)
	want := State{
		Requests: Level{Limit: 60, Available: 59, Reset: time.Second},
		Tokens:   Level{Limit: 600, Available: 100, Reset: time.Minute},
	}
	if st != want {
		t.Fatalf("State = %+v, want %+v", st, want)
	}
	c.grant("a", lim, Cost{Requests: 59})
	c.refuse("a", lim, oneReq, time.Second) // the bucket's refill
	advance(time.Second)
	r := c.grant("a", lim, Cost{Requests: 1, Input: 100})
	c.available("a", lim, 0, 0)
	// All or nothing: the full window charges no request.
	advance(2 * time.Second)
	c.refuse("a", lim, Cost{Requests: 1, Input: 1}, 57*time.Second)
	c.available("a", lim, 2, 0)

	// The bucket part of a reservation from a past window is refunded;
	// the window part is dropped.
	advance(57 * time.Second) // 03:06:00: 59 requests back, a new token window
	c.grant("a", lim, Cost{Requests: 1, Input: 300})
	c.ok(c.s.Cancel(ctx, r))
	c.available("a", lim, 59, 300)
}

func testWindowState(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 120, TPM: 6000, ITPM: 800, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	want := State{
		Requests:    Level{Limit: 20, Available: 20, Reset: 5 * time.Second},
		Tokens:      Level{Limit: 6000, Available: 6000, Reset: 55 * time.Second},
		InputTokens: Level{Limit: 800, Available: 800},
	}
	if st := c.state("a", lim); st != want {
		t.Fatalf("fresh State = %+v, want %+v", st, want)
	}
	c.grant("a", lim, Cost{Requests: 4, Input: 200, Output: 100})
	advance(1500 * time.Millisecond)
	want = State{
		Requests:    Level{Limit: 20, Available: 16, Reset: 3500 * time.Millisecond},
		Tokens:      Level{Limit: 6000, Available: 5700, Reset: 53500 * time.Millisecond},
		InputTokens: Level{Limit: 800, Available: 620, Reset: 13500 * time.Millisecond},
	}
	if st := c.state("a", lim); st != want {
		t.Fatalf("State = %+v, want %+v", st, want)
	}
	// State changes nothing, not even for a key it has never seen.
	c.available("a", lim, 16, 5700, 620)
}

func testWindowRescale(t *testing.T, c *checker, advance func(time.Duration)) {
	toMinute(advance)
	bucket := Limits{TPM: 600}
	c.grant("a", bucket, Cost{Input: 200})
	c.available("a", tpm600w, 400) // a bucket becoming a window keeps the 200 used
	c.grant("a", tpm600w, Cost{})  // (now stored as a window)
	c.available("a", tpm600w, 400)
	c.available("a", bucket, 400) // and back
	half := Limits{TPM: 600, TokensWindow: 30 * time.Second}
	c.available("a", half, 100) // another size: 300 per window, 200 used
	c.available("a", Limits{TPM: 1200, TokensWindow: time.Minute}, 1000)
	// A window without a limit limits nothing.
	if st := c.state("a", Limits{RPM: 60, TokensWindow: time.Minute}); st.Tokens != (Level{}) || st.Requests.Available != 60 {
		t.Fatalf("State with an unlimited window = %+v", st)
	}
	if !(Limits{RequestsWindow: time.Second, TokensWindow: time.Minute}).IsZero() {
		t.Fatal("windows without limits are not zero limits")
	}
	// An overcharged window becomes a bucket at its floor.
	r := c.grant("b", tpm600w, Cost{Input: 100})
	c.ok(c.s.Settle(ctx, r, Cost{Input: 2000}))
	c.available("b", tpm600w, -600)
	c.available("b", bucket, -600)
}

func testWindowNoDrift(t *testing.T, c *checker, advance func(time.Duration)) {
	lim := Limits{RPM: 7, TPM: 997, ITPM: 991, OTPM: 13, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	cost := Cost{Requests: 1, Input: 331, Output: 7}
	for range 500 { // across window boundaries
		r := c.grant("a", lim, cost)
		advance(3 * time.Millisecond)
		c.ok(c.s.Cancel(ctx, r))
	}
	c.available("a", lim, 1, 997, 991, 13)
}

func testWindowConcurrent(t *testing.T, c *checker, advance func(time.Duration)) {
	toMinute(advance)
	const workers = 100
	lim := Limits{RPM: 6 * 37, TPM: 10000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			r, err := c.s.Reserve(ctx, "a", lim, Cost{Requests: 1, Input: 5, Output: 5})
			if err != nil {
				t.Error(err)
			}
			if r.OK {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 37 {
		t.Fatalf("%d of %d concurrent reservations granted, want exactly 37", n, workers)
	}
	c.available("a", lim, 0, 10000-370)
}

func testWindowInvalid(t *testing.T, c *checker, _ func(time.Duration)) {
	for _, lim := range []Limits{
		{RPM: 60, RequestsWindow: -time.Second},
		{TPM: 60, TokensWindow: MaxWindow + time.Millisecond},
		{TPM: 60, TokensWindow: 1500 * time.Microsecond},
	} {
		if _, err := c.s.Reserve(ctx, "a", lim, oneReq); err == nil {
			t.Fatalf("Reserve accepted %+v", lim)
		}
		if _, err := c.s.State(ctx, "a", lim); err == nil {
			t.Fatalf("State accepted %+v", lim)
		}
	}
	lim := Limits{TPM: MaxLimit, TokensWindow: MaxWindow} // the largest allowance
	c.grant("a", lim, Cost{Input: MaxLimit * 10})
	c.available("a", lim, 0)
	c.exceeds("a", lim, Cost{Input: MaxLimit*10 + 1}, ExceedsError{Dimension: "tpm", Limit: MaxLimit * 10, Cost: MaxLimit*10 + 1, Window: MaxWindow})
}
