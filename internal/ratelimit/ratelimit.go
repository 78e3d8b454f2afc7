package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits are one bucket set's per-minute limits. Zero means unlimited in
// that dimension. OpenAI-style accounts use RPM and TPM; Anthropic uses
// RPM, ITPM and OTPM.
//
// RequestsWindow and TokensWindow make the RPM and TPM dimensions fixed
// windows instead of continuous buckets (zero: a bucket). A window of w
// allows limit × w / 1m per window (rounded down, at least 1): RPM 120
// with a 10 s window allows 20 requests per 10 s, TPM with a 1 m window
// allows TPM tokens per minute. Windows are aligned to the store's clock
// (they start at multiples of w in Unix ms, like time.Truncate), and the
// count starts again from 0 in each window; this is how Azure OpenAI
// counts (see the package documentation). A window must be a whole
// number of milliseconds, at most MaxWindow.
type Limits struct {
	RPM  int64
	TPM  int64
	ITPM int64
	OTPM int64

	RequestsWindow time.Duration
	TokensWindow   time.Duration
}

// IsZero reports whether no dimension is limited (windows without limits
// limit nothing).
func (l Limits) IsZero() bool { return l.RPM == 0 && l.TPM == 0 && l.ITPM == 0 && l.OTPM == 0 }

// Cost is what one request is charged: one request, its input tokens and
// its output tokens. TPM buckets are charged Input+Output, ITPM Input, OTPM
// Output.
type Cost struct {
	Requests int64
	Input    int64
	Output   int64
}

// Tokens is the TPM charge of c.
func (c Cost) Tokens() int64 { return c.Input + c.Output }

// Reservation is the result of Reserve. When OK is false nothing was
// charged and Wait says how long until the cost would fit (in whole
// milliseconds). A granted reservation must be settled or cancelled once,
// on the Store that granted it.
type Reservation struct {
	OK   bool
	Wait time.Duration
	// Key, Limits and Cost identify what was charged, for Settle and Cancel.
	Key    string
	Limits Limits
	Cost   Cost

	// local marks a reservation Resilient granted from its in-process
	// fallback, so that it is settled there too.
	local bool
	// at is the granting store's time (Unix ms) at the grant: the windows
	// the cost was counted in, for Settle and Cancel.
	at int64
}

// Level is one bucket's state: its effective capacity (the per-minute
// limit, or a lower one learned from the provider), the whole tokens
// available now (negative after an overcharge), and the time until it is
// full again (ms precision).
//
// For a fixed-window dimension, Limit is the (effective) allowance per
// window, Available what is left of it in the current window (allowance
// - used; negative after an overcharge) and Reset the time until the
// current window ends, used or not.
type Level struct {
	Limit     int64
	Available int64
	Reset     time.Duration
}

// State is a bucket set's levels (zero Level for unlimited dimensions),
// and the time until a block from Block ends.
type State struct {
	Requests     Level
	Tokens       Level
	InputTokens  Level
	OutputTokens Level
	BlockedFor   time.Duration
}

// Observed is what a provider's response headers said about one bucket
// set: the remaining capacity per dimension (any negative value: not
// reported — note that the zero value reports 0 remaining everywhere) and
// the per-minute limit the provider enforces (0 or less: not reported).
//
// Limits are always per minute, also for fixed-window dimensions: a
// provider that reports a window's allowance (Azure's request limit
// header is the allowance of a 10-second window, RPM/6) must be scaled
// to a minute (× 6) by the caller. Remaining values are what is left now:
// for a fixed-window dimension, what is left in the current window.
type Observed struct {
	RequestsRemaining, TokensRemaining, InputRemaining, OutputRemaining int64
	RequestsLimit, TokensLimit, InputLimit, OutputLimit                 int64
}

// vecs returns o's limits and remaining values by dimension.
func (o Observed) vecs() (limit, remaining vec) {
	limit = vec{o.RequestsLimit, o.TokensLimit, o.InputLimit, o.OutputLimit}
	remaining = vec{o.RequestsRemaining, o.TokensRemaining, o.InputRemaining, o.OutputRemaining}
	return limit, remaining
}

// ErrExceedsLimit is returned (wrapped) by Reserve when a cost is larger
// than a bucket's whole capacity: waiting can never make it fit.
var ErrExceedsLimit = errors.New("ratelimit: cost exceeds the per-minute limit")

// ErrUnavailable is returned (wrapped, with the cause) when a shared
// store cannot be reached: a network error, a closed client, or a Redis
// that is loading, read-only or down. Resilient falls back on it.
var ErrUnavailable = errors.New("ratelimit: store unavailable")

// ExceedsError says which limit a cost exceeds. Limit is the effective
// limit: a lower limit learned from the provider (see Learn), or the
// local share while Resilient is degraded. For a fixed-window dimension
// it is the allowance per Window; Window is 0 for a per-minute bucket.
type ExceedsError struct {
	Dimension string // "rpm", "tpm", "itpm", "otpm"
	Limit     int64
	Cost      int64
	Window    time.Duration
}

func exceedsError(dim int, limit, cost, window int64) error {
	return &ExceedsError{Dimension: dimName(dim), Limit: limit, Cost: cost, Window: ms(window)}
}

// Error implements error.
func (e *ExceedsError) Error() string {
	per := "minute"
	if e.Window > 0 {
		per = e.Window.String() + " window"
	}
	return fmt.Sprintf("ratelimit: request needs %d of %s but the limit is %d per %s", e.Cost, e.Dimension, e.Limit, per)
}

// Unwrap returns ErrExceedsLimit.
func (e *ExceedsError) Unwrap() error { return ErrExceedsLimit }

// validate checks that every limit is in [0, MaxLimit], every window 0
// or a whole number of milliseconds up to MaxWindow, and every cost field
// in [0, MaxCost].
func validate(lim Limits, c Cost) error {
	// As unsigned numbers, negative values are above every maximum.
	if uint64(lim.RPM) > MaxLimit || uint64(lim.TPM) > MaxLimit || uint64(lim.ITPM) > MaxLimit || uint64(lim.OTPM) > MaxLimit {
		return fmt.Errorf("ratelimit: invalid limits %+v: each must be between 0 and %d", lim, int64(MaxLimit))
	}
	if w, v := lim.RequestsWindow, lim.TokensWindow; w|v != 0 &&
		(uint64(w) > uint64(MaxWindow) || uint64(v) > uint64(MaxWindow) || w%time.Millisecond != 0 || v%time.Millisecond != 0) {
		return fmt.Errorf("ratelimit: invalid limits %+v: a window must be 0 or whole milliseconds up to %s", lim, MaxWindow)
	}
	if uint64(c.Requests) > MaxCost || uint64(c.Input) > MaxCost || uint64(c.Output) > MaxCost {
		return fmt.Errorf("ratelimit: invalid cost %+v: each part must be between 0 and %d", c, int64(MaxCost))
	}
	return nil
}

// Store holds bucket sets by key. Implementations: Memory (one process),
// Redis (shared by replicas) and Resilient (Redis with a local fallback);
// one contract suite (contract_test.go) holds them to the same behaviour.
//
// Every method takes the key's configured limits; when they differ from
// the last call's (a config reload) the buckets are rescaled keeping the
// amount used, a newly limited dimension starts full, and a dimension
// whose limit became 0 is dropped. A dimension whose window changed (a
// bucket becoming a window or back, or another window size) keeps the
// amount used too, counted in the current window. Limits must be in [0, MaxLimit] and
// costs in [0, MaxCost]; anything else is an error.
type Store interface {
	// Reserve charges cost against every limited bucket of key if all have
	// room, atomically; otherwise it charges nothing and returns the wait:
	// the longest, over the buckets, until the deficit has refilled, and at
	// least until a Block ends. A bucket with a negative level delays every
	// request, even one that costs it nothing. A fixed window has room
	// when used + cost <= allowance; if not, its wait is the time until
	// the window ends. A cost larger than a bucket's whole (effective)
	// capacity or a window's allowance returns an *ExceedsError: waiting
	// would never help.
	Reserve(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error)
	// Settle corrects a granted reservation with the actual cost: refunds
	// what was over-charged (never above capacity), charges what was
	// under-charged (a bucket may go negative, down to -capacity, delaying
	// later requests). Refused reservations, and dimensions that were not
	// limited when reserved (or had another window), are left alone. A
	// fixed-window dimension is corrected only while the window the
	// reservation was counted in is still the current one (its used count
	// stays in [0, 2×allowance]); a correction for a past window is dropped.
	Settle(ctx context.Context, r Reservation, actual Cost) error
	// Cancel refunds a granted reservation in full (the request was never
	// sent, or was rejected before the provider counted it).
	Cancel(ctx context.Context, r Reservation) error
	// Learn folds in what the provider reported, for limited dimensions
	// only. A remaining value (>= 0) lowers the level to it, never raises
	// it; for a fixed window, the used count of the current window becomes
	// max(used, allowance - remaining). A reported limit (> 0) below the
	// configured one becomes the effective capacity and refill rate (for a
	// window: the effective allowance, if it is smaller), keeping the
	// amount used, until a later Learn reports a limit at or above the
	// configured one; this follows Azure's temporary limit adjustments.
	// Limits must be per minute, also for windows (see Observed).
	Learn(ctx context.Context, key string, lim Limits, obs Observed) error
	// Block empties key's buckets (a negative level stays), uses up the
	// current window of every fixed-window dimension (used = allowance, or
	// more if already more), and refuses reservations until d from now, or
	// longer if an earlier block ends later (an upstream 429 with
	// retry-after d). Buckets refill, and windows start again, during the
	// block. Keys without limits are blocked too.
	Block(ctx context.Context, key string, lim Limits, d time.Duration) error
	// State reports key's bucket levels, changing nothing. An unknown key
	// reports full buckets and unused windows.
	State(ctx context.Context, key string, lim Limits) (State, error)
}
