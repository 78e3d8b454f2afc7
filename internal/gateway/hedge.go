package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/ratelimit"
)

// Hedging (DESIGN.md principle 4): when a candidate's first token has not
// come after a delay — the deployment's p95 time to first token, or a
// fixed delay — the same request goes to a second deployment too, and
// whichever first produces its first token wins. The other is cancelled.
// A budget caps the extra upstream requests at a fraction of the route's
// requests over a sliding minute.

// hedgePolicy is a route's hedging.
type hedgePolicy struct {
	// after is the fixed delay; with useP95 it is the fallback when the
	// deployment has too few samples.
	after  time.Duration
	useP95 bool
	budget *hedgeBudget
}

// minP95Samples is how many TTFT samples make a deployment's p95 usable.
const minP95Samples = 20

// delay is how long to wait for dep's first token before hedging.
func (h *hedgePolicy) delay(g *Gateway, dep *config.Deployment) time.Duration {
	if h.useP95 {
		if l := g.health.TTFT(dep.Name); l.Samples >= minP95Samples && l.P95 > 0 {
			return l.P95
		}
	}
	return h.after
}

// hedgeBudget counts a route's requests and hedges over a sliding window
// of ten slots, and allows a hedge while hedges stay within the fraction.
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

// take claims a hedge if the budget allows one.
func (b *hedgeBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := b.cur()
	req, hed := b.sums()
	if float64(hed+1) > b.fraction*float64(req) {
		return false
	}
	b.hedges[i]++
	return true
}

// raced is one runner's result in a race.
type raced struct {
	idx int
	s   *started
	r   attemptResult
	up  *upstream
}

// race runs candidate up (already reserved) and, if its first token is
// late, a hedge on the next candidate of rest with headroom. The first
// runner to reach its first token wins and is completed; the other is
// cancelled. Failures before the first token are recorded in st, except
// the last, which is returned as the attempt's failure.
func (g *Gateway) race(ctx context.Context, w http.ResponseWriter, c *call, up *upstream, res ratelimit.Reservation,
	st *callState, rest []*config.Deployment) attemptResult {
	h := g.hedges[c.serving]
	results := make(chan raced, 2)
	var cancels []context.CancelFunc
	var runners []runner
	run := func(u *upstream, r ratelimit.Reservation, n int) {
		rctx, cancel := context.WithCancel(ctx)
		idx := len(cancels)
		cancels = append(cancels, cancel)
		runners = append(runners, runner{name: u.dep.Name, started: g.now()})
		go func() {
			s, ar := g.start(rctx, c, u, r, n)
			results <- raced{idx: idx, s: s, r: ar, up: u}
		}()
	}
	run(up, res, st.attempts)
	timer := time.NewTimer(g.real(h.delay(g, up.dep)))
	defer timer.Stop()
	pending, hedged := 1, false
	var fails []attemptFailure
	for pending > 0 {
		select {
		case <-timer.C:
			if hedged || !h.budget.take() {
				continue
			}
			if u, r, ok := g.hedgeCandidate(ctx, c, st, rest); ok {
				hedged = true
				st.attempts++
				st.routeAttempts++
				g.metrics.hedges.WithLabelValues(c.serving).Inc()
				run(u, r, st.attempts)
				pending++
			}
		case x := <-results:
			pending--
			if x.s == nil && !x.r.done {
				cancels[x.idx]()
				fails = append(fails, x.r.failure)
				continue
			}
			g.slowLosers(runners, x.idx, x.s != nil)
			g.dropOthers(results, cancels, x.idx, pending)
			defer cancels[x.idx]()
			if x.s == nil {
				return g.written(w, c, x.up, x.r, st)
			}
			return g.complete(ctx, w, c, x.s)
		}
	}
	st.failures = append(st.failures, fails[:len(fails)-1]...)
	return attemptResult{failure: fails[len(fails)-1]}
}

// runner is one deployment racing in a hedge.
type runner struct {
	name    string
	started time.Time
}

// slowLosers records, for every runner that lost to a winner's first
// token, the time it had waited without one: a lower bound of its time to
// first token, so the latency strategy sees a slow deployment as slow
// rather than as unsampled (its attempts are cancelled, never timed).
func (g *Gateway) slowLosers(runners []runner, winner int, won bool) {
	if !won {
		return
	}
	for i, r := range runners {
		if i != winner {
			g.health.ObserveTTFT(r.name, g.now().Sub(r.started))
		}
	}
}

// dropOthers cancels every runner but the winner and releases what they
// started, in the background: each returns promptly once cancelled.
func (g *Gateway) dropOthers(results <-chan raced, cancels []context.CancelFunc, winner, pending int) {
	for i, cancel := range cancels {
		if i != winner {
			cancel()
		}
	}
	if pending == 0 {
		return
	}
	go func() {
		for ; pending > 0; pending-- {
			if y := <-results; y.s != nil {
				g.abandon(y.s)
			}
		}
	}()
}

// hedgeCandidate reserves the first deployment of rest not yet used that
// has headroom.
func (g *Gateway) hedgeCandidate(ctx context.Context, c *call, st *callState, rest []*config.Deployment) (*upstream, ratelimit.Reservation, bool) {
	for _, dep := range rest {
		if st.used[dep.Name] || !g.health.Available(dep.Name) {
			continue
		}
		if res, ok := g.reserve(ctx, c, dep, st); ok {
			st.used[dep.Name] = true
			return g.upstreams[dep.Name], res, true
		}
	}
	return nil, ratelimit.Reservation{}, false
}

// real converts a duration on the gateway's clock to real time (they
// differ only in simulations; see Options.TimeScale).
func (g *Gateway) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * g.timeScale)
}
