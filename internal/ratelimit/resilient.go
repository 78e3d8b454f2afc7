package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// probeEvery is how often a degraded Resilient tries its primary again.
const probeEvery = time.Second

// Resilient is a Store that uses a shared primary (Redis) and, while the
// primary is unreachable, an in-process Memory where every limit is
// divided by the number of replicas: each replica keeps to its share, so
// together they stay under the account's limits without talking to each
// other. Requests keep flowing during the outage.
//
// A primary call that fails with ErrUnavailable switches Resilient to
// degraded mode (one warning in the log) and is served locally. While
// degraded, at most one call per second goes to the primary as a probe;
// when a probe succeeds, Resilient returns to the primary (one info line).
// Other errors (ExceedsError, a cancelled context) are returned as they
// are.
//
// A reservation is settled where it was granted: local ones in the
// Memory. Settling a primary reservation while the primary is unreachable
// is dropped (its charge stays in Redis and refills, or the key expires).
// While degraded, an ExceedsError reports the local share as Limit, and
// State reports the local share's buckets. Local buckets start full at
// the first outage and are kept across outages.
//
// Calls to an unreachable primary should fail fast: configure its client
// with short timeouts and few retries (with go-redis: DialTimeout and
// ReadTimeout of a few hundred ms, DialerRetries 1, MaxRetries 1), or
// every probe holds one request for the client's whole retry budget.
//
// Resilient is safe for concurrent use.
type Resilient struct {
	primary  Store
	local    *Memory
	replicas int64
	log      *slog.Logger
	now      func() time.Time

	degraded  atomic.Bool
	lastProbe atomic.Int64 // UnixNano of the last switch or probe
}

var _ Store = (*Resilient)(nil)

// NewResilient returns a Resilient using primary, falling back to local
// shares of 1/replicas (replicas < 1 counts as 1). log receives the
// switch and recovery lines (nil: discarded); now is the clock for the
// probe interval and the local buckets (nil: time.Now).
func NewResilient(primary Store, replicas int, log *slog.Logger, now func() time.Time) *Resilient {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Resilient{primary: primary, local: NewMemory(now), replicas: int64(max(replicas, 1)), log: log, now: now}
}

// Degraded reports whether Resilient is limiting locally because the
// primary is unreachable (for a metric).
func (s *Resilient) Degraded() bool { return s.degraded.Load() }

// Reserve implements Store. A reservation granted locally is marked so
// that Settle and Cancel go to the local store too.
func (s *Resilient) Reserve(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error) {
	if err := validate(lim, cost); err != nil {
		return Reservation{}, err
	}
	if primary, probe := s.route(); primary {
		r, err := s.primary.Reserve(ctx, key, lim, cost)
		if !s.failed(err, probe) {
			return r, err
		}
	}
	r, err := s.local.Reserve(ctx, key, s.share(lim), cost)
	r.local = true
	return r, err
}

// Settle implements Store.
func (s *Resilient) Settle(ctx context.Context, r Reservation, actual Cost) error {
	if !r.OK || r.Limits.IsZero() {
		return nil
	}
	if r.local {
		return s.local.Settle(ctx, r, actual)
	}
	if err := validate(r.Limits, actual); err != nil {
		return err
	}
	if primary, probe := s.route(); primary {
		if err := s.primary.Settle(ctx, r, actual); !s.failed(err, probe) {
			return err
		}
	}
	return nil
}

// Cancel implements Store.
func (s *Resilient) Cancel(ctx context.Context, r Reservation) error {
	return s.Settle(ctx, r, Cost{})
}

// Learn implements Store. Locally, reported limits and remaining values
// are divided by the number of replicas, like the limits.
func (s *Resilient) Learn(ctx context.Context, key string, lim Limits, obs Observed) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	if primary, probe := s.route(); primary {
		if err := s.primary.Learn(ctx, key, lim, obs); !s.failed(err, probe) {
			return err
		}
	}
	return s.local.Learn(ctx, key, s.share(lim), s.shareObserved(obs))
}

// Block implements Store.
func (s *Resilient) Block(ctx context.Context, key string, lim Limits, d time.Duration) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	if primary, probe := s.route(); primary {
		if err := s.primary.Block(ctx, key, lim, d); !s.failed(err, probe) {
			return err
		}
	}
	return s.local.Block(ctx, key, s.share(lim), d)
}

// State implements Store.
func (s *Resilient) State(ctx context.Context, key string, lim Limits) (State, error) {
	if err := validate(lim, Cost{}); err != nil {
		return State{}, err
	}
	if primary, probe := s.route(); primary {
		st, err := s.primary.State(ctx, key, lim)
		if !s.failed(err, probe) {
			return st, err
		}
	}
	return s.local.State(ctx, key, s.share(lim))
}

// route reports whether a call goes to the primary, and whether it is
// the probe of a degraded Resilient (at most one per probeEvery).
func (s *Resilient) route() (primary, probe bool) {
	if !s.degraded.Load() {
		return true, false
	}
	now, last := s.now().UnixNano(), s.lastProbe.Load()
	if now-last < int64(probeEvery) || !s.lastProbe.CompareAndSwap(last, now) {
		return false, false
	}
	return true, true
}

// failed records the outcome of a primary call and reports whether it
// must be redone locally. Only a probe's success ends degraded mode, so
// slow calls from before an outage cannot flip it back and forth.
func (s *Resilient) failed(err error, probe bool) bool {
	if errors.Is(err, ErrUnavailable) {
		s.lastProbe.Store(s.now().UnixNano())
		if s.degraded.CompareAndSwap(false, true) {
			s.log.Warn(fmt.Sprintf("redis unreachable; limiting locally at 1/%d of each limit", s.replicas), "err", err)
		}
		return true
	}
	if probe && s.degraded.CompareAndSwap(true, false) {
		s.log.Info("redis reachable again; limiting through redis")
	}
	return false
}

// share is this replica's part of lim: each limit divided by the number
// of replicas, and at least 1 (0 would mean unlimited); windows stay.
func (s *Resilient) share(lim Limits) Limits {
	return Limits{RPM: s.part(lim.RPM), TPM: s.part(lim.TPM), ITPM: s.part(lim.ITPM), OTPM: s.part(lim.OTPM),
		RequestsWindow: lim.RequestsWindow, TokensWindow: lim.TokensWindow}
}

func (s *Resilient) part(v int64) int64 {
	if v <= 0 {
		return v
	}
	return max(v/s.replicas, 1)
}

// shareObserved divides what a provider reported like share divides limits.
func (s *Resilient) shareObserved(o Observed) Observed {
	rem := func(v int64) int64 {
		if v < 0 {
			return v
		}
		return v / s.replicas
	}
	return Observed{
		RequestsRemaining: rem(o.RequestsRemaining), TokensRemaining: rem(o.TokensRemaining),
		InputRemaining: rem(o.InputRemaining), OutputRemaining: rem(o.OutputRemaining),
		RequestsLimit: s.part(o.RequestsLimit), TokensLimit: s.part(o.TokensLimit),
		InputLimit: s.part(o.InputLimit), OutputLimit: s.part(o.OutputLimit),
	}
}
