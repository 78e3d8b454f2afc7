package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// probeEvery is how often a degraded Resilient tries its primary again.
const probeEvery = time.Second

// staleFor is how long after the primary reported a key's set its local
// share earns no refill, unless the switch to local limiting comes first
// (see Resilient).
const staleFor = time.Minute

// reseedMax is the longest time after a recovery that Resilient still
// re-seeds the primary's keys from its local shares (see endDegraded).
const reseedMax = MaxWindow

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
// The local buckets follow the shared ones, so that neither switch is a
// burst: a full share on every replica at once is a full bucket's worth
// of requests on a provider bucket that the load may have emptied, and
// so is a full bucket in a Redis that restarted empty.
//
//   - While the primary is healthy, each Reserve's reply also carries the
//     key's buckets as the reservation left them (Redis returns them in
//     the same round trip), and the key's local buckets become this
//     replica's share of them: levels divided by the number of replicas
//     and rounded down, window counts rounded up, learned limits divided
//     like limits, a block kept. Learn and Block taken by the primary are
//     applied locally too. So at the switch a key's local buckets are its
//     share of the last state seen.
//   - A share earns no refill for the time between the moment its state
//     was seen and the switch (up to a minute of it): the other replicas
//     may have taken that refill meanwhile (under load they do, and a
//     replica that sees a key every few seconds would otherwise start
//     with a few seconds of refill that the provider no longer has). From
//     the switch on it refills at the share's rate. A fixed window has no
//     refill to withhold, so its count instead grows by the share's
//     allowance prorated over that time (the others spending at the
//     window's average rate), up to the allowance.
//   - A key this replica has never reserved through the primary (or not
//     since its buckets refilled and were forgotten) starts with a full
//     share, as before. That is the model's own assumption: while every
//     replica keeps to its share, the provider's bucket refills at least
//     at the rate this replica's share would use, so the share is there
//     (a replica started during an outage, in particular, finds its part
//     unused). Starting such keys empty would refuse, for up to a minute,
//     keys that are most likely idle, client keys included.
//   - When a probe succeeds the primary may have come back empty (a
//     restarted Redis without persistence). Each key whose local state
//     is not idle (a full bucket, an ended window) is then re-seeded in
//     the primary from it, before that key's first primary call after the
//     recovery, until its local state would have gone idle anyway (at
//     most MaxWindow). Seeding is one atomic script that writes only a
//     key that does not exist: it never overwrites the state of a Redis
//     that kept its keys, nor what another replica seeded or built first.
//     The probe is itself such a seeding when its key has local state.
//   - The seed is what this replica's share has left, as what the shared
//     bucket has left (a window: its allowance less what the share has
//     left), with learned limits multiplied back and the block kept. The
//     provider holds at least the sum of what all shares have left, of
//     which only this replica's is known; seeding it times the number of
//     replicas would assume the others hold as much, which over-counts
//     whenever this share is the fuller one (under load every share swings
//     between empty and one request). The cost is capacity: the other
//     replicas' remainders are not in the seed, which refills within a
//     minute. It also covers the second or so until the other replicas'
//     own probes succeed, during which they still spend and refill their
//     shares locally.
//
// A primary without these abilities (not a Redis) is used as before:
// local shares start full and are kept across outages, and nothing is
// re-seeded.
//
// A reservation is settled where it was granted: local ones in the
// Memory. Settling a primary reservation while the primary is unreachable
// is dropped (its charge stays in Redis and refills, or the key expires).
// While degraded, an ExceedsError reports the local share as Limit, and
// State reports the local share's buckets.
//
// Calls to an unreachable primary should fail fast: configure its client
// with short timeouts and few retries (with go-redis: DialTimeout and
// ReadTimeout of a few hundred ms, DialerRetries 1, MaxRetries 1), or
// every probe holds one request for the client's whole retry budget.
//
// Resilient is safe for concurrent use.
type Resilient struct {
	primary  Store
	levels   levelStore // the primary, if it is one; else nil
	local    *Memory
	replicas int64
	log      *slog.Logger
	now      func() time.Time

	degraded  atomic.Bool
	lastProbe atomic.Int64 // UnixNano of the last switch or probe
	pending   pending      // keys to re-seed after a recovery
}

var _ Store = (*Resilient)(nil)

// levelStore is what Resilient needs of a primary to keep its local
// shares in step with the shared buckets. Redis has it.
type levelStore interface {
	// reserveSet is Reserve that also returns the key's set as the
	// reservation left it, its times on the primary's clock (ok: there is
	// one).
	reserveSet(ctx context.Context, key string, lim Limits, cost Cost) (r Reservation, set bucketSet, ok bool, err error)
	// seedSet creates key's set from set unless the key has one,
	// atomically, and reports whether it wrote.
	seedSet(ctx context.Context, key string, set bucketSet) (bool, error)
}

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
	levels, _ := primary.(levelStore)
	return &Resilient{primary: primary, levels: levels, local: NewMemory(now), replicas: int64(max(replicas, 1)), log: log, now: now}
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
	primary, probe, err := s.route(ctx, key, lim)
	if err != nil {
		return Reservation{}, err
	}
	if primary {
		r, err := s.reservePrimary(ctx, key, lim, cost)
		if !s.failed(err, probe) {
			return r, err
		}
	}
	r, err := s.local.Reserve(ctx, key, s.share(lim), cost)
	r.local = true
	return r, err
}

// reservePrimary reserves in the primary and makes this replica's share
// of the set the primary reports the key's local set.
func (s *Resilient) reservePrimary(ctx context.Context, key string, lim Limits, cost Cost) (Reservation, error) {
	if s.levels == nil {
		return s.primary.Reserve(ctx, key, lim, cost)
	}
	r, set, ok, err := s.levels.reserveSet(ctx, key, lim, cost)
	if ok && !lim.IsZero() {
		// A reply that arrives after the switch is the freshest state
		// there is: no hold. (One that raced the switch may keep its hold;
		// that key then starts refilling up to staleFor late.)
		hold := staleFor
		if s.degraded.Load() {
			hold = 0
		}
		s.local.put(key, s.shareSet(set), hold.Milliseconds())
	}
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
	primary, probe, err := s.route(ctx, r.Key, r.Limits)
	if err != nil || !primary {
		return err
	}
	if err := s.primary.Settle(ctx, r, actual); !s.failed(err, probe) {
		return err
	}
	return nil
}

// Cancel implements Store.
func (s *Resilient) Cancel(ctx context.Context, r Reservation) error {
	return s.Settle(ctx, r, Cost{})
}

// Learn implements Store. Locally, reported limits and remaining values
// are divided by the number of replicas, like the limits. What the
// primary takes is applied locally too, so that local limiting starts
// from it.
func (s *Resilient) Learn(ctx context.Context, key string, lim Limits, obs Observed) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	primary, probe, err := s.route(ctx, key, lim)
	if err != nil {
		return err
	}
	if primary {
		if err := s.primary.Learn(ctx, key, lim, obs); !s.failed(err, probe) && err != nil {
			return err
		}
	}
	return s.local.Learn(ctx, key, s.share(lim), s.shareObserved(obs))
}

// Block implements Store. A block the primary takes is applied locally
// too.
func (s *Resilient) Block(ctx context.Context, key string, lim Limits, d time.Duration) error {
	if err := validate(lim, Cost{}); err != nil {
		return err
	}
	primary, probe, err := s.route(ctx, key, lim)
	if err != nil {
		return err
	}
	if primary {
		if err := s.primary.Block(ctx, key, lim, d); !s.failed(err, probe) && err != nil {
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
	primary, probe, err := s.route(ctx, key, lim)
	if err != nil {
		return State{}, err
	}
	if primary {
		st, err := s.primary.State(ctx, key, lim)
		if !s.failed(err, probe) {
			return st, err
		}
	}
	return s.local.State(ctx, key, s.share(lim))
}

// route reports whether a call for key goes to the primary, and whether
// it is the probe of a degraded Resilient (at most one per probeEvery)
// whose outcome decides the recovery.
//
// A key waiting to be re-seeded after a recovery is seeded first. The
// probe is the seeding of its key when that key has local state, and
// the call itself otherwise. A seeding that finds the primary
// unreachable sends the call to the local store; another error is the
// call's.
func (s *Resilient) route(ctx context.Context, key string, lim Limits) (primary, probe bool, err error) {
	if !s.degraded.Load() {
		if !s.pending.has(key, s.now) {
			return true, false, nil
		}
		_, err := s.seed(ctx, key, lim)
		switch {
		case err == nil:
			s.pending.done(key)
			return true, false, nil
		case s.failed(err, false):
			return false, false, nil
		default:
			return false, false, err
		}
	}
	now, last := s.now().UnixNano(), s.lastProbe.Load()
	if now-last < int64(probeEvery) || !s.lastProbe.CompareAndSwap(last, now) {
		return false, false, nil
	}
	tried, err := s.seed(ctx, key, lim)
	switch {
	case !tried:
		return true, true, nil
	case s.failed(err, true):
		return false, false, nil
	case err != nil:
		return false, false, err
	}
	s.pending.done(key)
	return true, false, nil
}

// seed re-seeds key in the primary from its local share, when the
// primary can be seeded and the key has local state that is not full;
// tried reports whether the primary was called.
func (s *Resilient) seed(ctx context.Context, key string, lim Limits) (tried bool, err error) {
	if s.levels == nil {
		return false, nil
	}
	local, ok := s.local.peek(key, s.share(lim))
	if !ok {
		return false, nil
	}
	_, err = s.levels.seedSet(ctx, key, s.sharedSet(local, lim))
	return true, err
}

// failed records the outcome of a primary call and reports whether it
// must be redone locally. Only a probe's success ends degraded mode, so
// slow calls from before an outage cannot flip it back and forth; a probe
// cut short by its caller's context decides nothing.
func (s *Resilient) failed(err error, probe bool) bool {
	if errors.Is(err, ErrUnavailable) {
		s.lastProbe.Store(s.now().UnixNano())
		if s.degraded.CompareAndSwap(false, true) {
			s.local.release()
			s.log.Warn(fmt.Sprintf("redis unreachable; limiting locally at 1/%d of each limit", s.replicas), "err", err)
		}
		return true
	}
	if probe && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		s.endDegraded()
	}
	return false
}

// endDegraded ends degraded mode, first listing the keys to re-seed (before
// the switch, so that no call reaches the primary unseeded): those with
// local state that is not idle, until all of them would be idle anyway
// (full, unblocked, windows ended), at most reseedMax; after that, a key
// the primary creates afresh is as good as a seeded one.
func (s *Resilient) endDegraded() {
	if !s.degraded.Load() {
		return
	}
	n := 0
	if s.levels != nil {
		keys, idleIn := s.local.busy(reseedMax.Milliseconds())
		n = s.pending.start(keys, s.now().Add(ms(idleIn)).UnixNano())
	}
	if s.degraded.CompareAndSwap(true, false) {
		s.log.Info("redis reachable again; limiting through redis", "reseed_keys", n)
	}
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

// shareSet is this replica's share of a set the primary reported:
// limits and learned limits divided as share divides limits, bucket
// levels divided by the number of replicas rounded down and window
// counts rounded up (so the shares together never hold more than the
// shared set), clamped to the share's range; the block and the times
// stay.
func (s *Resilient) shareSet(f bucketSet) bucketSet {
	for i := range f.b {
		b := &f.b[i]
		if b.limit == 0 {
			continue
		}
		b.limit, b.learned = s.part(b.limit), s.part(b.learned)
		if b.win > 0 {
			b.level = clamp(ceilDiv(b.level, s.replicas), 0, 2*b.quota())
			continue
		}
		c := b.eff() * unit
		b.level = clamp(floorDiv(b.level, s.replicas), -c, c)
	}
	return f
}

// sharedSet is the shared set to seed from local set f (a share of
// lim, brought to now): lim's limits, learned limits multiplied by the
// number of replicas, and what this share has left as what the shared
// set has left (a bucket's level; a window's allowance less its count).
// That is the most the provider can be sure to hold: every replica kept
// to its share, so the provider holds at least the sum of what the
// shares have left, of which only this replica's is known (assuming the
// others hold as much would over-count whenever this one is the fuller).
func (s *Resilient) sharedSet(f bucketSet, lim Limits) bucketSet {
	lv := limitVec(lim)
	for i := range f.b {
		b := &f.b[i]
		if b.limit == 0 {
			continue
		}
		left := b.level
		if b.win > 0 {
			left = b.quota() - b.level
		}
		b.limit, b.learned = lv[i], b.learned*s.replicas
		if b.learned >= b.limit {
			b.learned = 0
		}
		if b.win > 0 {
			b.level = clamp(b.quota()-left, 0, 2*b.quota())
			continue
		}
		c := b.eff() * unit
		b.level = clamp(left, -c, c)
	}
	return f
}

// pending is the keys Resilient re-seeds in the primary, each before its
// next primary call, until a deadline.
type pending struct {
	n     atomic.Int64 // len(keys), read without the lock
	mu    sync.Mutex
	keys  map[string]struct{}
	until int64 // UnixNano; the keys are dropped after it
}

// start replaces the keys, to be re-seeded until until, and returns
// their number.
func (p *pending) start(keys []string, until int64) int {
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys, p.until = m, until
	p.n.Store(int64(len(m)))
	return len(m)
}

// has reports whether key is to be re-seeded now (read only when some
// key is).
func (p *pending) has(key string, now func() time.Time) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now().UnixNano() > p.until {
		p.keys = nil
		p.n.Store(0)
		return false
	}
	_, ok := p.keys[key]
	return ok
}

// done removes key.
func (p *pending) done(key string) {
	if p.n.Load() == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, key)
	p.n.Store(int64(len(p.keys)))
}
