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
type Limits struct {
	RPM  int64
	TPM  int64
	ITPM int64
	OTPM int64
}

// IsZero reports whether no dimension is limited.
func (l Limits) IsZero() bool { return l == Limits{} }

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
}

// Level is one bucket's state: its effective capacity (the per-minute
// limit, or a lower one learned from the provider), the whole tokens
// available now (negative after an overcharge), and the time until it is
// full again (ms precision).
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
// Limits must be per minute: Azure's request limit header counts a
// 10-second window and must not be passed as RequestsLimit.
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
// local share while Resilient is degraded.
type ExceedsError struct {
	Dimension string // "rpm", "tpm", "itpm", "otpm"
	Limit     int64
	Cost      int64
}

func exceedsError(dim int, limit, cost int64) error {
	return &ExceedsError{Dimension: dimName(dim), Limit: limit, Cost: cost}
}

// Error implements error.
func (e *ExceedsError) Error() string {
	return fmt.Sprintf("ratelimit: request needs %d of %s but the limit is %d per minute", e.Cost, e.Dimension, e.Limit)
}

// Unwrap returns ErrExceedsLimit.
func (e *ExceedsError) Unwrap() error { return ErrExceedsLimit }

// validate checks that every limit is in [0, MaxLimit] and every cost
// field in [0, MaxCost].
func validate(lim Limits, c Cost) error {
	for _, l := range limitVec(lim) {
		if l < 0 || l > MaxLimit {
			return fmt.Errorf("ratelimit: invalid limits %+v: each must be between 0 and %d", lim, int64(MaxLimit))
		}
	}
	if c.Requests < 0 || c.Input < 0 || c.Output < 0 || c.Requests > MaxCost || c.Input > MaxCost || c.Output > MaxCost {
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
// whose limit became 0 is dropped. Limits must be in [0, MaxLimit] and
// costs in [0, MaxCost]; anything else is an error.
type Store interface {
	// Reserve charges cost against every limited bucket of key if all have
	// room, atomically; otherwise it charges nothing and returns the wait:
	// the longest, over the buckets, until the deficit has refilled, and at
	// least until a Block ends. A bucket with a negative level delays every
	// request, even one that costs it nothing. A cost larger than a
	// bucket's whole (effective) capacity returns an *ExceedsError:
	// waiting would never help.
	Reserve(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error)
	// Settle corrects a granted reservation with the actual cost: refunds
	// what was over-charged (never above capacity), charges what was
	// under-charged (a bucket may go negative, down to -capacity, delaying
	// later requests). Refused reservations, and dimensions that were not
	// limited when reserved, are left alone.
	Settle(ctx context.Context, r Reservation, actual Cost) error
	// Cancel refunds a granted reservation in full (the request was never
	// sent, or was rejected before the provider counted it).
	Cancel(ctx context.Context, r Reservation) error
	// Learn folds in what the provider reported, for limited dimensions
	// only. A remaining value (>= 0) lowers the level to it, never raises
	// it. A reported limit (> 0) below the configured one becomes the
	// effective capacity and refill rate (keeping the amount used) until a
	// later Learn reports a limit at or above the configured one; this
	// follows Azure's temporary limit adjustments. Limits must be per
	// minute.
	Learn(ctx context.Context, key string, lim Limits, obs Observed) error
	// Block empties key's buckets (a negative level stays) and refuses
	// reservations until d from now, or longer if an earlier block ends
	// later (an upstream 429 with retry-after d). Buckets refill during the
	// block. Keys without limits are blocked too.
	Block(ctx context.Context, key string, lim Limits, d time.Duration) error
	// State reports key's bucket levels, changing nothing. An unknown key
	// reports full buckets.
	State(ctx context.Context, key string, lim Limits) (State, error)
}
