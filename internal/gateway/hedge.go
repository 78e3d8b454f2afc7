package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/ratelimit"
)

// Hedging (DESIGN.md principle 4): when a candidate's first token has not
// come after a delay — the deployment's p95 time to first token, or a
// fixed delay — the same request goes to a second deployment too, and
// whichever first produces its first token wins. The other is cancelled.
// A budget caps the extra upstream requests at a fraction of the route's
// requests over a sliding minute.
//
// The budget goes first where a hedge is needed most. A hedge off a
// deployment in trouble — its last outcome was a failure (a 5xx, a reset,
// a first-token timeout), or another of the route's requests to it is
// late too — is a rescue: that deployment's first token may not come
// before the first-token timeout. Any other hedge is routine: one late
// first token from a deployment that is otherwise answering is the p95
// tail, and mostly comes soon after. Routine hedges may use only
// routineShare of the budget. Hedging at p95 spends about 5% of requests
// on them, so without that limit a healthy stretch keeps a 10% budget
// about full, and when a deployment browns out the burst of its late
// requests finds it empty: each refused request waits out the first-token
// timeout (issue 12). And a refused hedge is asked for again every
// hedgeRecheck while the first attempt still waits: the budget frees as
// requests arrive and the window slides, and a deployment that gets into
// trouble meanwhile turns the hedges its requests wait for into rescues.

// hedgePolicy is a route's hedging.
type hedgePolicy struct {
	// after is the fixed delay; with useP95 it is the fallback when the
	// deployment has too few samples.
	after  time.Duration
	useP95 bool
	budget *hedgeBudget
	// late counts, by deployment, the route's first attempts past their
	// hedge delay without a first token.
	late lateCount
}

// minP95Samples is how many TTFT samples make a deployment's p95 usable.
const minP95Samples = 20

// routineShare is the part of the budget that routine hedges may use;
// rescues may use all of it.
const routineShare = 0.5

// hedgeRecheck is how long, on the gateway's clock, a late request whose
// hedge was refused (no budget, no candidate) waits before asking again.
const hedgeRecheck = 250 * time.Millisecond

// delay is how long to wait for dep's first token before hedging. A
// deployment in trouble waits at most after, even with p95: its samples
// then include the trouble's own (first-token timeouts, lost races),
// which would put the hedge later just when it is needed sooner — at
// worst at the first-token timeout, which leaves no hedge at all.
func (h *hedgePolicy) delay(g *Gateway, dep *config.Deployment, trouble bool) time.Duration {
	if !h.useP95 {
		return h.after
	}
	l := g.health.TTFT(dep.Name)
	switch {
	case l.Samples < minP95Samples || l.P95 <= 0:
		return h.after
	case trouble:
		return min(l.P95, h.after)
	}
	return l.P95
}

// troubled reports whether the deployment name is in trouble: its last
// outcome was a failure, or more of the route's requests to it are late
// now than self, the caller's own among them.
func (h *hedgePolicy) troubled(g *Gateway, name string, self int) bool {
	return g.health.Failures(name) > 0 || h.late.get(name) > self
}

// lateCount counts late attempts by deployment. The zero value is ready.
type lateCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *lateCount) add(name string, d int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = make(map[string]int)
	}
	if l.n[name] += d; l.n[name] <= 0 {
		delete(l.n, name)
	}
}

func (l *lateCount) get(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[name]
}

// hedgeBudget counts a route's requests and hedges over a sliding window
// of ten slots, and allows a hedge while hedges stay within the fraction
// (routine ones within routineShare of it).
type hedgeBudget struct {
	fraction float64
	slot     time.Duration
	now      func() time.Time

	mu       sync.Mutex
	start    [10]int64 // slot start, unix ns
	requests [10]int64
	hedges   [10]int64
}

func newHedgeBudget(fraction float64, window time.Duration, now func() time.Time) *hedgeBudget {
	return &hedgeBudget{fraction: fraction, slot: window / 10, now: now}
}

// cur returns the index of the current slot, clearing it if stale.
func (b *hedgeBudget) cur() int {
	t := b.now().UnixNano()
	s := t - t%int64(b.slot)
	i := int(s/int64(b.slot)) % len(b.start)
	if b.start[i] != s {
		b.start[i], b.requests[i], b.hedges[i] = s, 0, 0
	}
	return i
}

func (b *hedgeBudget) sums() (req, hed int64) {
	oldest := b.now().UnixNano() - int64(b.slot)*int64(len(b.start))
	for i := range b.start {
		if b.start[i] > oldest {
			req += b.requests[i]
			hed += b.hedges[i]
		}
	}
	return req, hed
}

// request counts a request that may be hedged.
func (b *hedgeBudget) request() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests[b.cur()]++
}

// allows reports whether one more hedge fits the budget now: a rescue
// may use all of it, a routine hedge routineShare.
func (b *hedgeBudget) allows(rescue bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fits(rescue)
}

// take claims a hedge if the budget allows one (see allows).
func (b *hedgeBudget) take(rescue bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.cur()
	if !b.fits(rescue) {
		return false
	}
	b.hedges[i]++
	return true
}

func (b *hedgeBudget) fits(rescue bool) bool {
	req, hed := b.sums()
	limit := b.fraction * float64(req)
	if !rescue {
		limit *= routineShare
	}
	return float64(hed+1) <= limit
}

// raced is one runner's result in a race.
type raced struct {
	idx int
	s   *started
	r   attemptResult
	up  *upstream
}

// race runs candidate up (already reserved and admitted by its circuit)
// and, if its first token is late, a hedge on the next candidate of rest
// that can take it (see hedgeCandidate). The first runner to reach its
// first token wins and is completed; the other is cancelled. Failures
// before the first token are recorded in st, except the last, which is
// returned as the attempt's failure.
func (g *Gateway) race(ctx context.Context, w http.ResponseWriter, c *call, up *upstream, res ratelimit.Reservation,
	st *callState, rest []*config.Deployment) attemptResult {
	h := g.hedges[c.serving]
	name := up.dep.Name
	results := make(chan raced, 2)
	var runners []*runner
	run := func(u *upstream, r ratelimit.Reservation, n int, permit *health.Permit) {
		rctx, cancel := context.WithCancel(ctx)
		idx := len(runners)
		runners = append(runners, &runner{name: u.dep.Name, started: g.now(), cancel: cancel, permit: permit})
		go func() {
			s, ar := g.start(rctx, c, u, r, n)
			results <- raced{idx: idx, s: s, r: ar, up: u}
		}()
	}
	run(up, res, st.attempts, nil) // the caller holds the first attempt's permit
	timer := time.NewTimer(g.real(h.delay(g, up.dep, h.troubled(g, name, 0))))
	defer timer.Stop()
	late := false // the first attempt is counted in h.late
	notLate := func() {
		if late {
			late = false
			h.late.add(name, -1)
		}
	}
	defer notLate()
	pending := 1
	var fails []attemptFailure
	for pending > 0 {
		select {
		case <-timer.C:
			if !late {
				late = true
				h.late.add(name, 1)
			}
			t, ok := g.hedge(ctx, c, st, h, name, rest)
			if !ok {
				timer.Reset(g.real(hedgeRecheck))
				continue
			}
			st.attempts++
			st.routeAttempts++
			g.metrics.hedges.WithLabelValues(c.serving).Inc()
			run(t.up, t.res, st.attempts, t.permit)
			pending++
		case x := <-results:
			pending--
			if x.s == nil && !x.r.done {
				if x.idx == 0 {
					notLate()
				}
				runners[x.idx].failed = true
				runners[x.idx].end()
				fails = append(fails, x.r.failure)
				continue
			}
			g.slowLosers(h, runners, x.idx, x.s != nil)
			notLate() // decided: the first attempt won or is cancelled
			g.dropOthers(results, runners, x.idx, pending)
			defer runners[x.idx].end()
			if x.s == nil {
				return g.written(w, c, x.up, x.r, st)
			}
			return g.complete(ctx, w, c, x.s)
		}
	}
	st.failures = append(st.failures, fails[:len(fails)-1]...)
	return attemptResult{failure: fails[len(fails)-1]}
}

// runner is one deployment racing in a hedge. Only the goroutine that
// receives its result touches its permit.
type runner struct {
	name    string
	started time.Time
	cancel  context.CancelFunc
	// permit is the hedge's admission by the deployment's circuit (a
	// probe slot if it is half-open); nil for the first attempt, whose
	// permit its caller holds.
	permit *health.Permit
	// failed: it ended without a first token, its failure recorded.
	failed bool
}

// end cancels the runner and gives its permit back; its outcome, if it
// had one, went to the health tracker by name.
func (r *runner) end() {
	r.cancel()
	if r.permit != nil {
		r.permit.Release()
	}
}

// slowLosers handles every runner still waiting when the winner got its
// first token. It records the time the runner had waited without one: a
// lower bound of its time to first token, so the latency strategy sees a
// slow deployment as slow rather than as unsampled (its attempts are
// cancelled, never timed). And a loser on a deployment in trouble counts
// as a failure: without that, a browned-out deployment whose late
// attempts all lose races would never extend its failure streak — its
// circuit would stay closed, or, half-open, leave its probe unanswered
// and admit the next — and it would keep drawing requests that need
// rescue hedges. A loser on a deployment otherwise answering is the p95
// tail and counts for nothing. The first runner is late (counted in
// h.late); a hedge is not.
func (g *Gateway) slowLosers(h *hedgePolicy, runners []*runner, winner int, won bool) {
	if !won {
		return
	}
	for i, r := range runners {
		if i == winner || r.failed {
			continue
		}
		g.health.ObserveTTFT(r.name, g.now().Sub(r.started))
		self := 0
		if i == 0 {
			self = 1
		}
		if h.troubled(g, r.name, self) {
			g.health.Failure(r.name, 0)
		}
	}
}

// dropOthers cancels every runner but the winner and releases what they
// started, in the background: each returns promptly once cancelled.
func (g *Gateway) dropOthers(results <-chan raced, runners []*runner, winner, pending int) {
	for i, r := range runners {
		if i != winner {
			r.cancel()
		}
	}
	if pending == 0 {
		return
	}
	go func() {
		for ; pending > 0; pending-- {
			y := <-results
			if y.s != nil {
				g.abandon(y.s)
			}
			runners[y.idx].end()
		}
	}()
}

// hedgeTarget is a hedge's deployment, reserved and admitted.
type hedgeTarget struct {
	up     *upstream
	res    ratelimit.Reservation
	permit *health.Permit
}

// hedge finds and claims a hedge for a request whose attempt on the
// deployment first is late: a rescue if first is in trouble, else
// routine.
func (g *Gateway) hedge(ctx context.Context, c *call, st *callState, h *hedgePolicy, first string, rest []*config.Deployment) (hedgeTarget, bool) {
	rescue := h.troubled(g, first, 1)
	if !h.budget.allows(rescue) {
		return hedgeTarget{}, false
	}
	t, ok := g.hedgeCandidate(ctx, c, st, h, rest)
	if !ok {
		return hedgeTarget{}, false
	}
	if !h.budget.take(rescue) { // another request took the last of it meanwhile
		g.cancel(t.res)
		t.permit.Release()
		st.used[t.up.dep.Name] = false
		return hedgeTarget{}, false
	}
	return t, true
}

// hedgeCandidate reserves the first deployment of rest not yet used whose
// circuit admits a request now and that has headroom, preferring one not
// in trouble: a hedge there is likely to be as late as the attempt it
// should beat. It asks the circuit through Acquire, so a half-open
// deployment gives the hedge a probe slot, held until the hedge ends;
// unlike a plan's attempt (breakerAdmits), a hedge does not go to a
// deployment that is cooling down: it is optional. For the same reason a
// candidate without headroom is skipped without a note in st.
func (g *Gateway) hedgeCandidate(ctx context.Context, c *call, st *callState, h *hedgePolicy, rest []*config.Deployment) (hedgeTarget, bool) {
	try := func(dep *config.Deployment) (hedgeTarget, bool) {
		p, ok := g.health.Acquire(dep.Name)
		if !ok {
			return hedgeTarget{}, false
		}
		res, ok := g.reserve(ctx, c, dep, &callState{})
		if !ok {
			p.Release()
			return hedgeTarget{}, false
		}
		st.used[dep.Name] = true
		return hedgeTarget{up: g.upstreams[dep.Name], res: res, permit: &p}, true
	}
	var later []*config.Deployment
	for _, dep := range rest {
		switch {
		case st.used[dep.Name]:
		case h.troubled(g, dep.Name, 0):
			later = append(later, dep)
		default:
			if t, ok := try(dep); ok {
				return t, true
			}
		}
	}
	for _, dep := range later {
		if t, ok := try(dep); ok {
			return t, true
		}
	}
	return hedgeTarget{}, false
}

// real converts a duration on the gateway's clock to real time (they
// differ only in simulations; see Options.TimeScale).
func (g *Gateway) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * g.timeScale)
}
