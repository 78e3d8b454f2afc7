package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/router"
)

// Admission to a route's queue (DESIGN.md principle 3: wait a little
// before failing, but only when waiting can help). A request that finds no
// deployment with headroom asks the route's router.Queue to take it,
// saying when capacity for it alone is back (from the limiter's buckets)
// and how much of the route's capacity it takes. The queue predicts its
// start from that and the requests ahead of it; a request predicted to
// start beyond max_wait or its own deadline, or beyond queue_target while
// the queue holds a standing delay, is not queued: the next fallback
// route tries, else the client gets 429 at once with the predicted wait as
// Retry-After. router.Queue documents the model.

// Why a route's queue turned a request away: the reason label of
// llmux_queue_shed_total.
const (
	shedFull     = "full"     // the queue held ratelimit.queue_size requests
	shedMaxWait  = "max_wait" // predicted start beyond the route's max_wait
	shedDeadline = "deadline" // predicted start beyond the request's own deadline
	shedTarget   = "target"   // a standing delay above queue_target, and a predicted wait above it
	shedExpired  = "expired"  // waited until max_wait or the deadline without capacity
)

// enqueue asks route's queue to take c, which found no headroom. wait is
// the time until capacity for c alone is back as tryPlan found it, or
// negative when c arrives behind other waiters and tryPlan did not run:
// the buckets are read instead. A request turned away is counted, and its
// predicted wait becomes the Retry-After of the 429 it gets if no fallback
// serves it; enqueue then returns nil.
func (g *Gateway) enqueue(ctx context.Context, c *call, route string, wait time.Duration, st *callState) *router.Ticket {
	rc := g.cfgRoute(route)
	deadline, own := g.queueDeadline(ctx, rc.MaxWait)
	n := g.need(ctx, c, route)
	if wait < 0 {
		wait = n.wait
	}
	a := router.Admission{Priority: g.priority(c.key), Deadline: deadline, Wait: wait, Work: n.work, Target: rc.QueueTarget}
	t, predicted, err := g.queues[route].Admit(a, g.now)
	if err == nil {
		return t
	}
	reason := shedFull
	switch {
	case errors.Is(err, router.ErrTooLate) && own:
		reason = shedDeadline
	case errors.Is(err, router.ErrTooLate):
		reason = shedMaxWait
	case errors.Is(err, router.ErrStandingDelay):
		reason = shedTarget
	}
	g.metrics.shed.WithLabelValues(route, reason).Inc()
	st.skipped, st.wait = 0, 0
	st.noteWait(predicted)
	return nil
}

// queueDeadline is when c must have started, on the gateway's clock: after
// the route's max_wait, or sooner when the request's context ends sooner
// (own). Context deadlines are real time; the clock may run faster.
func (g *Gateway) queueDeadline(ctx context.Context, maxWait time.Duration) (deadline time.Time, own bool) {
	now := g.now()
	if d, ok := ctx.Deadline(); ok {
		if left := time.Duration(float64(time.Until(d)) / g.timeScale); left < maxWait {
			return now.Add(left), true
		}
	}
	return now.Add(maxWait), false
}

// await waits for the ticket's turn, then wait more for capacity (cut
// short when capacity is freed), adding the time to st.queued and to the
// x-llmux-queue-ms header.
func (g *Gateway) await(ctx context.Context, w http.ResponseWriter, t *router.Ticket, wait time.Duration, st *callState) error {
	start := g.now()
	err := t.Turn(ctx, wait, g.now)
	st.queued += g.now().Sub(start)
	w.Header().Set(headerQueued, strconv.FormatInt(st.queued.Milliseconds(), 10))
	return err
}

// dequeued ends a wait that failed: a client that left ends the call; a
// waiter that reached its deadline without capacity (counted as expired)
// lets the next fallback route try.
func (g *Gateway) dequeued(ctx context.Context, route string, err error) (outcome, bool) {
	if errors.Is(err, router.ErrDeadline) {
		g.metrics.shed.WithLabelValues(route, shedExpired).Inc()
	}
	return g.queueExit(ctx, err)
}

// need is what a request asks of a route's capacity. wait is the time
// until the buckets of one of the deployments that can serve it have room
// for it alone. work is the time the route's deployments, refilling
// together, take to refill its cost: 1 / Σ 1/per over the deployments,
// where per is the deployment's refill time for the cost in its tightest
// bucket; times the replicas sharing the limits (each replica's queue gets
// about its share). Both are 0 when a deployment is unlimited.
//
// The estimate is the reservation's (prompt + max output), as the
// limiter charges it; Anthropic deployments are settled to the real usage
// afterwards, so for them work errs long.
type need struct{ wait, work time.Duration }

// need reads c's need on route from the candidates' buckets. It plans the
// route to know the candidates, which takes a round-robin turn like any
// Plan.
func (g *Gateway) need(ctx context.Context, c *call, route string) need {
	plan, err := g.router.Plan(g.planRequest(ctx, c, route))
	if err != nil {
		return need{}
	}
	rate := 0.0 // requests like c per second, over the candidates
	wait := time.Duration(-1)
	for _, dep := range plan.Candidates {
		w, per, ok := g.fit(ctx, c, dep)
		switch {
		case !ok:
			continue
		case per <= 0:
			return need{} // unlimited: no waiting
		}
		rate += 1 / per.Seconds()
		if wait < 0 || w < wait {
			wait = w
		}
	}
	if rate == 0 {
		return need{}
	}
	replicas := float64(max(g.cfg.RateLimit.Replicas, 1))
	return need{wait: wait, work: time.Duration(replicas / rate * float64(time.Second))}
}

// fit reads dep's buckets for c: the time until c's cost fits there, and
// the time dep's refill takes per such cost (0: dep is unlimited). ok is
// false when dep cannot take c: its circuit is open, c has no estimate for
// it, the cost exceeds a limit, or the limiter cannot be read.
func (g *Gateway) fit(ctx context.Context, c *call, dep *config.Deployment) (wait, per time.Duration, ok bool) {
	lim := g.depLimits(dep)
	if lim.IsZero() {
		return 0, 0, true
	}
	if g.health.Snapshot(dep.Name).State == health.Open {
		return 0, 0, false
	}
	cost, err := g.cost(ctx, c, dep)
	if err != nil {
		return 0, 0, false
	}
	s, err := g.limiter.State(ctx, depKey(dep.Name), lim)
	if err != nil {
		return 0, 0, false
	}
	wait = s.BlockedFor
	for _, b := range []struct {
		level  ratelimit.Level
		cost   int64
		window time.Duration
	}{
		{s.Requests, cost.Requests, lim.RequestsWindow},
		{s.Tokens, cost.Tokens(), lim.TokensWindow},
		{s.InputTokens, cost.Input, 0},
		{s.OutputTokens, cost.Output, 0},
	} {
		w, p, ok := refill(b.level, b.cost, b.window)
		if !ok {
			return 0, 0, false
		}
		wait, per = max(wait, w), max(per, p)
	}
	return wait, per, true
}

// refill is, for one bucket (or one fixed window, when window > 0), the
// time until cost fits and the time its refill takes per cost, as the
// limiter counts: a bucket refills Limit per minute continuously; a window
// allows Limit per window and starts again from 0 when it ends (in Reset).
// A bucket that is not limited (Limit 0) never waits; a cost above Limit
// never fits (ok false).
func refill(l ratelimit.Level, cost int64, window time.Duration) (wait, per time.Duration, ok bool) {
	if l.Limit <= 0 {
		return 0, 0, true
	}
	if cost > l.Limit {
		return 0, 0, false
	}
	period := time.Minute
	if window > 0 {
		period = window
	}
	per = time.Duration(float64(period) * float64(cost) / float64(l.Limit))
	switch {
	case l.Available >= cost:
	case window > 0:
		wait = l.Reset
	default:
		wait = time.Duration(float64(period) * float64(cost-l.Available) / float64(l.Limit))
	}
	return wait, per, true
}
