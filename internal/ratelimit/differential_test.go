package ratelimit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestMemoryRedisAgree runs one random sequence of operations — with
// windows and buckets, config changes, overcharges, learned limits,
// blocks and clock steps across window boundaries — on Memory and on
// Redis with one clock, and requires identical results: the Lua scripts
// and bucket.go must stay the same arithmetic.
func TestMemoryRedisAgree(t *testing.T) {
	srv := startRedis(t)
	clock := newFakeClock()
	red := NewRedis(srv.Client(nil), "diff:")
	red.Now = clock.Now
	stores := [2]Store{NewMemory(clock.Now), red}
	rng := rand.New(rand.NewPCG(1, 2))

	limits := []Limits{
		{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute},
		{RPM: 120, TPM: 6000},
		{RPM: 100, TPM: 6000, RequestsWindow: 10 * time.Second},
		{RPM: 60, TPM: 3000, TokensWindow: 30 * time.Second},
		{RPM: 7, TPM: 997, ITPM: 991, OTPM: 13, RequestsWindow: 7 * time.Second, TokensWindow: time.Minute},
		{RPM: 50, ITPM: 2000, OTPM: 400},
		{TPM: 6000, TokensWindow: time.Minute},
	}
	keys := []string{"a", "b", "c"}
	pending := [2][]Reservation{}
	n := 4000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		key := keys[rng.IntN(len(keys))]
		lim := limits[rng.IntN(len(limits))]
		if rng.IntN(4) > 0 { // mostly one config per key, sometimes another (a reload)
			lim = limits[int(key[0]-'a')*2%len(limits)]
		}
		cost := Cost{Requests: int64(rng.IntN(3)), Input: int64(rng.IntN(2500)), Output: int64(rng.IntN(500))}
		var got [2]string
		switch op := rng.IntN(10); {
		case op < 4:
			for j, s := range stores {
				r, err := s.Reserve(ctx, key, lim, cost)
				got[j] = describe(r, err)
				if r.OK {
					pending[j] = append(pending[j], r)
				}
			}
		case op < 6 && len(pending[0]) > 0 && len(pending[0]) == len(pending[1]):
			k := rng.IntN(len(pending[0]))
			actual := Cost{Requests: int64(rng.IntN(2)), Input: int64(rng.IntN(4000)), Output: int64(rng.IntN(800))}
			if rng.IntN(3) == 0 {
				actual = Cost{}
			}
			for j, s := range stores {
				got[j] = describe(Reservation{}, s.Settle(ctx, pending[j][k], actual))
				pending[j] = append(pending[j][:k], pending[j][k+1:]...)
			}
		case op < 7:
			obs := Observed{
				RequestsRemaining: int64(rng.IntN(40)) - 5, TokensRemaining: int64(rng.IntN(8000)) - 500,
				InputRemaining: int64(rng.IntN(3000)) - 500, OutputRemaining: int64(rng.IntN(600)) - 100,
			}
			if rng.IntN(3) == 0 {
				obs.RequestsLimit, obs.TokensLimit = int64(rng.IntN(150)), int64(rng.IntN(8000))
			}
			for j, s := range stores {
				got[j] = describe(Reservation{}, s.Learn(ctx, key, lim, obs))
			}
		case op < 8 && rng.IntN(4) == 0:
			d := time.Duration(rng.IntN(20000)) * time.Millisecond
			for j, s := range stores {
				got[j] = describe(Reservation{}, s.Block(ctx, key, lim, d))
			}
		case op < 9:
			for j, s := range stores {
				st, err := s.State(ctx, key, lim)
				got[j] = describe(Reservation{}, err) + " " + fmtState(st)
			}
		default:
			steps := []time.Duration{time.Millisecond, 250 * time.Millisecond, 3 * time.Second, 9999 * time.Millisecond, 50 * time.Second, 3 * time.Minute}
			clock.Advance(steps[rng.IntN(len(steps))])
			continue
		}
		if got[0] != got[1] {
			t.Fatalf("op %d on %s with %+v: Memory %s, Redis %s", i, key, lim, got[0], got[1])
		}
	}
}

func describe(r Reservation, err error) string {
	var ee *ExceedsError
	switch {
	case errors.As(err, &ee):
		return "exceeds " + ee.Error()
	case err != nil:
		return "error " + err.Error()
	}
	return fmtAny(struct {
		OK   bool
		Wait time.Duration
		At   int64
	}{r.OK, r.Wait, r.at})
}

func fmtState(st State) string { return fmtAny(st) }

func fmtAny(v any) string { return fmt.Sprintf("%+v", v) }
