package gateway

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/failover"
	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/router"
)

// serve runs a call through its route and then the route's fallbacks.
// Each route gets its plan: candidates with headroom are tried in order;
// when none has headroom the call waits in the route's queue up to the
// route's max_wait, then degrades to the next fallback route. Only then
// does the client get 429, with a Retry-After computed from the buckets.
func (g *Gateway) serve(ctx context.Context, w http.ResponseWriter, c *call) outcome {
	keyRes, aerr := g.reserveKey(ctx, c)
	if aerr != nil {
		writeError(w, c.f, aerr)
		return outcome{status: aerr.status, reason: aerr.code}
	}
	st := &callState{used: map[string]bool{}, retried: map[string]int{}}
	client := ctx
	if d := g.cfgRoute(c.route).Deadline; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, g.real(d), errChainDeadline)
		defer cancel()
	}
	out := g.serveRoutes(ctx, w, c, st)
	if out.status == 499 && client.Err() == nil && errors.Is(context.Cause(ctx), errChainDeadline) && c.cs != nil {
		out = g.endStream(c, st, fmt.Sprintf("route %s's deadline of %s passed", quote(c.route), g.cfgRoute(c.route).Deadline))
	}
	if out.status == 499 && client.Err() == nil && errors.Is(context.Cause(ctx), errChainDeadline) && c.cs == nil {
		// The chain's deadline, not the client, ended it; nothing was
		// written yet.
		aerr := &apiError{status: http.StatusGatewayTimeout, code: "deadline_exceeded",
			message: fmt.Sprintf("No deployment answered within route %s's deadline of %s.", quote(c.route), g.cfgRoute(c.route).Deadline)}
		writeError(w, c.f, aerr)
		out.status, out.reason = aerr.status, aerr.code
	}
	g.settleKey(keyRes, out)
	return out
}

// callState is what a call accumulates across routes and attempts.
type callState struct {
	attempts int
	// routeAttempts counts the attempts on the route being tried; each
	// route (the first and every fallback) gets its own max_attempts.
	routeAttempts int
	failures      []attemptFailure
	// wait is the shortest time until some candidate would have headroom.
	wait time.Duration
	// exceeded: candidates whose limits can never fit the request.
	exceeded []*ratelimit.ExceedsError
	// skipped counts candidates that lacked headroom.
	skipped  int
	fallback string
	// noCandidate: the last route tried has no deployment that can ever
	// serve the request (context window, capability, tier).
	noCandidate *router.NoCandidateError
	// filtered is a content-filter refusal held back while the route's
	// content_filter_fallbacks try; written if none serves.
	filtered *filteredError
	// stop ends the pass over the current route's candidates.
	stop bool
	// queued is the time spent waiting in queues.
	queued time.Duration
	// used marks deployments already tried (hedges take candidates ahead
	// of the plan's order).
	used map[string]bool
	// retried counts each deployment's retries (failover rules).
	retried map[string]int
	// contextExceeded: a deployment refused the prompt as too long for its
	// window; the route's context_fallbacks get their turn.
	contextExceeded bool
	// leaveQueue gives up the call's place in its route's queue; called as
	// soon as a reservation is granted, so the next waiter can try while
	// this call talks to its upstream.
	leaveQueue func()
}

func (st *callState) noteWait(d time.Duration) {
	st.skipped++
	if st.wait == 0 || d < st.wait {
		st.wait = d
	}
}

func (g *Gateway) serveRoutes(ctx context.Context, w http.ResponseWriter, c *call, st *callState) outcome {
	routes := append([]string{c.route}, g.cfgRoute(c.route).Fallbacks...)
	for i := 0; i < len(routes); i++ {
		route := routes[i]
		c.serving = route
		if i > 0 {
			st.fallback = route
			w.Header().Set(headerFallback, route)
		}
		st.routeAttempts = 0
		out, done := g.serveRoute(ctx, w, c, route, st)
		if done {
			return out
		}
		routes = g.degrade(routes, i, route, st)
	}
	if c.cs != nil {
		why := "no candidate was left to continue it"
		if n := len(st.failures); n > 0 {
			last := st.failures[n-1]
			why = fmt.Sprintf("every candidate to continue it failed; the last (deployment %s) with: %s", last.deployment, describe(last.err))
		}
		return g.endStream(c, st, why)
	}
	if f := st.filtered; f != nil {
		return g.writeUpstreamError(w, c, f.up, f.err)
	}
	aerr := g.finalError(c, st)
	if st.attempts > 0 {
		w.Header().Set(headerAttempts, strconv.Itoa(st.attempts))
		w.Header().Set(headerAttemptLog, c.log.String())
	}
	writeError(w, c.f, aerr)
	return outcome{status: aerr.status, attempts: st.attempts, reason: aerr.code, fallback: st.fallback}
}

// endStream ends a client stream that broke mid-answer and could not be
// continued: an error event in the client's format (the upstream's own,
// when it sent one) after the part of the answer the client has.
func (g *Gateway) endStream(c *call, st *callState, why string) outcome {
	c.cs.fail("The upstream stream failed after part of the answer was sent, and " + why + ".")
	c.cs.complete(c.log.String(), st.attempts)
	return outcome{status: http.StatusOK, attempts: st.attempts, reason: "stream_error", fallback: st.fallback}
}

// degrade inserts the route's special fallbacks right after it when they
// apply: context_fallbacks when the prompt fit no deployment's window,
// content_filter_fallbacks when a content filter refused the request.
func (g *Gateway) degrade(routes []string, i int, route string, st *callState) []string {
	var extra []string
	if st.noCandidate != nil && st.noCandidate.Only(router.FilterContext) || st.contextExceeded {
		extra = append(extra, g.cfgRoute(route).ContextFallbacks...)
		st.contextExceeded = false
	}
	if st.filtered != nil && st.filtered.route == route {
		extra = append(extra, g.cfgRoute(route).ContentFilterFallbacks...)
	}
	var add []string
	for _, r := range extra {
		if !slices.Contains(routes, r) && !slices.Contains(add, r) {
			add = append(add, r)
		}
	}
	return slices.Insert(routes, i+1, add...)
}

// cfgRoute returns a route's configuration (an empty one for an unknown
// name).
func (g *Gateway) cfgRoute(name string) *config.Route {
	if r, ok := g.routeCfg[name]; ok {
		return r
	}
	return &config.Route{}
}

// serveRoute tries the route's plan, waiting in its queue while no
// candidate has headroom. A request is queued only when the queue admits
// it (admission.go: its predicted start within max_wait and its deadline,
// and within queue_target while the queue holds a standing delay); one
// turned away, or one that waited until its deadline, leaves at once.
// done is false when the route gave up and the next fallback may try.
func (g *Gateway) serveRoute(ctx context.Context, w http.ResponseWriter, c *call, route string, st *callState) (outcome, bool) {
	maxWait := g.cfgRoute(route).MaxWait
	q := g.queues[route]
	var ticket *router.Ticket
	st.leaveQueue = func() {
		if ticket != nil {
			g.metrics.queueWait.WithLabelValues(route).Observe(ticket.Leave().Seconds())
			ticket = nil
		}
	}
	defer st.leaveQueue()
	// A request arriving while others wait queues behind them.
	if q.Len() > 0 && maxWait > 0 {
		if ticket = g.enqueue(ctx, c, route, -1, st); ticket == nil {
			return outcome{}, false
		}
		if err := g.await(ctx, w, ticket, 0, st); err != nil {
			return g.dequeued(ctx, route, err)
		}
	}
	for {
		st.skipped, st.wait = 0, 0
		out, done := g.tryPlan(ctx, w, c, route, st)
		if done {
			return out, true
		}
		if st.skipped == 0 || maxWait <= 0 {
			return outcome{}, false // nothing left to wait for
		}
		if ticket == nil {
			if ticket = g.enqueue(ctx, c, route, st.wait, st); ticket == nil {
				return outcome{}, false
			}
		}
		if err := g.await(ctx, w, ticket, st.wait, st); err != nil {
			return g.dequeued(ctx, route, err)
		}
	}
}

// queueExit ends a wait: a client that left ends the call; a deadline lets
// the next fallback route try.
func (g *Gateway) queueExit(ctx context.Context, err error) (outcome, bool) {
	if ctx.Err() != nil {
		return outcome{status: 499, reason: "client_closed"}, true
	}
	return outcome{}, false
}

// tryPlan makes one pass over the route's candidates. Each candidate is
// first charged its estimate in the limiter; one without headroom is
// skipped (noting when it would have headroom).
func (g *Gateway) tryPlan(ctx context.Context, w http.ResponseWriter, c *call, route string, st *callState) (outcome, bool) {
	st.noCandidate = nil
	plan, err := g.router.Plan(g.planRequest(ctx, c, route))
	var none *router.NoCandidateError
	if errors.As(err, &none) {
		st.noCandidate = none
		return outcome{}, false
	}
	if err != nil {
		return outcome{}, false
	}

	names := make([]string, len(plan.Candidates))
	for i, d := range plan.Candidates {
		names[i] = d.Name
	}
	at := &attempter{g: g, w: w, c: c, st: st, route: route, plan: plan}
	pass := failover.Pass{
		Candidates: names, MaxAttempts: plan.MaxAttempts, Attempted: &st.routeAttempts,
		Used: st.used, Retried: st.retried, Log: &c.log, Rand: rand.Float64,
		Policy: func(name string) failover.Policy { return g.retryPolicy(route, g.upstreams[name].dep) },
		Wait: func(ctx context.Context, d time.Duration) error {
			return failover.Sleep(ctx, g.real(d))
		},
	}
	result := pass.Run(ctx, at)
	if result != failover.Served && ctx.Err() != nil {
		result = failover.Gone
	}
	switch result {
	case failover.Served:
		at.out.attempts, at.out.fallback = st.attempts, st.fallback
		return at.out, true
	case failover.Gone:
		return outcome{status: 499, attempts: st.attempts, reason: "client_closed"}, true
	case failover.Left:
		st.skipped = 0 // leave this route: a content filter or context window refused
	}
	return outcome{}, false
}

// attempter tries one route's candidates for the failover rules: it
// admits a candidate (circuit breaker, limiter), sends it (hedged when the
// route hedges) and says how the try ended.
type attempter struct {
	g     *Gateway
	w     http.ResponseWriter
	c     *call
	st    *callState
	route string
	plan  *router.Plan
	// out is the call's outcome once a try is Done.
	out outcome
}

// Try implements failover.Attempter.
func (a *attempter) Try(ctx context.Context, i int, again bool) failover.Tried {
	g, c, st := a.g, a.c, a.st
	dep := a.plan.Candidates[i]
	up := g.upstreams[dep.Name]
	permit, admitted := g.breakerAdmits(dep.Name)
	if !admitted {
		return failover.Tried{Kind: failover.Skipped}
	}
	res, ok := g.reserve(ctx, c, dep, st)
	if !ok {
		permit.Release()
		return failover.Tried{Kind: failover.Skipped}
	}
	st.leaveQueue()
	if !again {
		if err := g.backoff(ctx, a.route, st.routeAttempts); err != nil {
			g.cancel(res)
			permit.Release()
			return failover.Tried{Kind: failover.Skipped} // the pass sees the client gone next
		}
		st.routeAttempts++
	}
	st.attempts++
	st.used[dep.Name] = true
	var r attemptResult
	if h := g.hedges[c.serving]; h != nil {
		h.budget.request() // every request of the route counts toward the budget
	}
	if g.hedges[c.serving] != nil && i+1 < len(a.plan.Candidates) {
		r = g.race(ctx, a.w, c, up, res, st, a.plan.Candidates[i+1:])
	} else {
		r = g.attempt(ctx, a.w, c, up, res, st.attempts, st)
	}
	permit.Release() // the outcome itself went to the tracker by name
	switch {
	case r.done:
		a.out = r.out
		return failover.Tried{Kind: failover.Done}
	case r.reask != nil:
		// A post_call check asked for one more try of this deployment
		// with the failure appended.
		c.reask = r.reask
		st.used[dep.Name] = false
		return failover.Tried{Kind: failover.Reask}
	}
	st.failures = append(st.failures, r.failure)
	stop := st.stop
	st.stop = false
	t := failover.Tried{Kind: failover.Failed, Detail: failureDetail(r), Stop: stop, Logged: r.logged,
		Failure: failover.Failure{Kind: failureKind(r), Streaming: r.streamBroken}}
	if e := r.failure.err; e != nil {
		t.Failure.RetryAfter = e.RetryAfter
	}
	return t
}

// failureDetail names an attempt's failure for the attempt log: what
// the provider refused (context_length, content_filter,
// prefill_rejected), else its status, else the kind (transport,
// timeout), else a local error (local).
func failureDetail(r attemptResult) string {
	e := r.failure.err
	switch k := failureKind(r); {
	case e == nil && r.failure.clientErr != nil:
		return "local"
	case k == failover.ContextLength || k == failover.PrefillRejected:
		return k.String()
	case e != nil && isContentFilter(e):
		return "content_filter"
	case e != nil && e.Status != 0:
		return strconv.Itoa(e.Status)
	default:
		return k.String()
	}
}

// failureKind classifies an attempt's failure for the failover rules.
func failureKind(r attemptResult) failover.Kind {
	e := r.failure.err
	switch {
	case r.prefillRejected:
		return failover.PrefillRejected
	case e == nil:
		return failover.Client // a local error (a translation this candidate cannot do): not retried
	case e.Class == provider.ClassClient && isContextLength(e):
		return failover.ContextLength
	case e.Class == provider.ClassRateLimited:
		return failover.RateLimited
	case e.Class == provider.ClassAccount:
		return failover.Account
	case e.Class == provider.ClassClient:
		return failover.Client
	case isWatchdog(e.Err):
		return failover.Timeout
	case e.Status >= 400:
		return failover.Server
	}
	return failover.Transport
}

// retryPolicy is the route's retry settings, with the deployment's own
// retries when it sets them.
func (g *Gateway) retryPolicy(route string, dep *config.Deployment) failover.Policy {
	rc := g.cfgRoute(route)
	p := failover.Policy{Retries: failover.DefaultRetries, RetryAfterMax: failover.DefaultRetryAfterMax, Backoff: rc.RetryBackoff}
	if rc.Retries != nil {
		p.Retries = *rc.Retries
	}
	if dep.Retries != nil {
		p.Retries = *dep.Retries
	}
	if rc.RetryAfterMax != nil {
		p.RetryAfterMax = *rc.RetryAfterMax
	}
	return p
}

// reserve charges dep's buckets with c's estimate for dep.
func (g *Gateway) reserve(ctx context.Context, c *call, dep *config.Deployment, st *callState) (ratelimit.Reservation, bool) {
	lim := g.depLimits(dep)
	if lim.IsZero() {
		return ratelimit.Reservation{OK: true}, true // unlimited: nothing to charge
	}
	cost, err := g.cost(ctx, c, dep)
	if err != nil {
		st.failures = append(st.failures, attemptFailure{deployment: dep.Name, clientErr: asAPIError(err)})
		return ratelimit.Reservation{}, false
	}
	res, err := g.limiter.Reserve(ctx, depKey(dep.Name), lim, cost)
	var exceeds *ratelimit.ExceedsError
	switch {
	case errors.As(err, &exceeds):
		st.exceeded = append(st.exceeded, exceeds)
		return res, false
	case err != nil:
		// The limiter itself failed (Resilient already fell back if it
		// could): let the request through rather than fail it.
		g.log.Warn("limiter reserve failed; sending without a reservation", "deployment", dep.Name, "err", err)
		return ratelimit.Reservation{OK: true}, true
	case !res.OK:
		st.noteWait(res.Wait)
		return res, false
	}
	return res, true
}

// watchdogCause replaces err by the watchdog's cause when the attempt was
// cut by a timeout (and the client is still there), so it reads as a
// retryable upstream failure rather than a cancelled request.
func watchdogCause(actx, ctx context.Context, err error) error {
	cause := context.Cause(actx)
	if ctx.Err() != nil || !isWatchdog(cause) {
		return err
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		cp := *pe
		cp.Class, cp.Err = provider.ClassRetryable, cause
		return &cp
	}
	return cause
}

// firstTokenTimeout is the attempt's first-token bound on the gateway's
// clock (timeoutsFor's is in real time), as a TTFT sample for a
// deployment whose first token never came.
func (g *Gateway) firstTokenTimeout(route string, dep *config.Deployment) time.Duration {
	return g.cfgRoute(route).Timeouts.Merge(dep.Timeouts).FirstToken
}

// timeoutsFor merges the route's and the deployment's timeouts.
func (g *Gateway) timeoutsFor(route string, dep *config.Deployment) timeouts {
	t := g.cfgRoute(route).Timeouts.Merge(dep.Timeouts)
	return timeouts{connect: g.real(t.Connect), firstToken: g.real(t.FirstToken), chunkGap: g.real(t.ChunkGap), total: g.real(t.Total)}
}

// sendFailed handles an upstream that answered with an error (or not at
// all) before anything reached the client.
func (g *Gateway) sendFailed(ctx context.Context, c *call, up *upstream, res ratelimit.Reservation, err error) attemptResult {
	name := up.dep.Name
	var pe *provider.Error
	if !errors.As(err, &pe) {
		pe = &provider.Error{Class: provider.ClassRetryable, Err: err}
	}
	if ctx.Err() != nil {
		// The client left, or this attempt lost a hedging race: not the
		// deployment's failure.
		g.cancel(res)
		return attemptResult{done: true, out: outcome{status: 499, deployment: name, reason: "client_closed"}}
	}
	g.recordFailure(name, pe)
	if errors.Is(pe.Err, errFirstTokenTimeout) {
		// A deployment whose first token never comes must look slow to
		// the latency strategy, not unsampled.
		g.health.ObserveTTFT(name, g.firstTokenTimeout(c.serving, up.dep))
	}
	switch {
	case pe.Class == provider.ClassRateLimited:
		g.metrics.upstream429.WithLabelValues(name).Inc()
		g.cancel(res)
		g.block(ctx, up, pe)
	case pe.Class == provider.ClassClient:
		// Providers count rejected requests against the limits too.
		g.settleRequestOnly(res)
		return attemptResult{done: true, clientErr: pe, out: outcome{deployment: name}}
	default:
		g.settleRequestOnly(res)
	}
	return attemptResult{failure: attemptFailure{deployment: name, err: pe}}
}

// recordFailure cools a deployment down according to what failed. A
// rate limit on a deployment with configured limits is the limiter's
// business (Block empties its buckets until retry-after); it is not a
// sign of a broken deployment, so it does not count toward the circuit
// breaker.
func (g *Gateway) recordFailure(deployment string, e *provider.Error) {
	g.metrics.upstreamFailures.WithLabelValues(deployment, e.Class.String()).Inc()
	if e.Class == provider.ClassClient {
		return
	}
	if e.Class == provider.ClassRateLimited && !g.depLimits(g.upstreams[deployment].dep).IsZero() {
		return
	}
	g.health.Failure(deployment, cooldown(e))
}

// cooldown is how long a deployment rests after a failure: a rate limit
// (on a deployment without configured limits) for as long as the provider
// asked, 5 s when it did not say; an account failure (bad key, no quota)
// for a minute. Other failures do not cool a deployment down by
// themselves: the circuit breaker (package health) opens it when they
// repeat.
func cooldown(e *provider.Error) time.Duration {
	switch e.Class {
	case provider.ClassRateLimited:
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		return 5 * time.Second
	case provider.ClassAccount:
		return time.Minute
	}
	return 0
}

// finalError is the answer when no route could serve the call.
func (g *Gateway) finalError(c *call, st *callState) *apiError {
	switch {
	case st.attempts == 0 && st.noCandidate != nil && st.skipped == 0:
		return noCandidate(st.noCandidate)
	case st.attempts == 0 && len(st.exceeded) > 0 && st.skipped == 0 && len(st.failures) == 0:
		return exceedsError(st.exceeded)
	case st.skipped > 0 || st.attempts == 0 && len(st.failures) == 0:
		wait := st.wait
		if wait <= 0 {
			wait = time.Second
		}
		return &apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded", retryAfter: wait,
			message: fmt.Sprintf("No deployment of route %s has capacity for this request now; retry in %s.",
				quote(c.route), wait.Round(time.Millisecond))}
	}
	return finalFailure(c.f, st.failures, st.wait)
}

// exceedsError names the largest limit the request exceeded.
func exceedsError(ex []*ratelimit.ExceedsError) *apiError {
	best := ex[0]
	for _, e := range ex[1:] {
		if e.Limit > best.Limit {
			best = e
		}
	}
	return &apiError{status: http.StatusBadRequest, code: "request_too_large", param: "messages",
		message: fmt.Sprintf("This request needs about %d tokens of %s, more than the largest per-minute limit of any deployment of this route (%d). Reduce the prompt or max_tokens.",
			best.Cost, best.Dimension, best.Limit)}
}

// attemptResult is one attempt's end: done (the client got an answer, good
// or bad) or a failure that allows the next candidate.
type attemptResult struct {
	done    bool
	out     outcome
	failure attemptFailure
	// clientErr, with done, is an upstream error that is the client's
	// fault; the caller writes it (start never writes to the client).
	clientErr *provider.Error
	// denied, with done, is a guardrail's denial; the caller writes it.
	denied *apiError
	// reask asks for one more try of the deployment with this payload.
	reask *reask
	// streamBroken: the stream failed after the client got its first
	// byte; the next candidate continues it.
	streamBroken bool
	// prefillRejected: the deployment refused the continuation's prefill;
	// it is tried once more without.
	prefillRejected bool
	// logged: the attempt log already says how this attempt ended.
	logged bool
}

type attemptFailure struct {
	deployment string
	err        *provider.Error
	// clientErr is an error only this candidate has (a translation it
	// cannot do, an estimate it cannot make).
	clientErr *apiError
}

// filteredError is a provider's content-filter refusal, kept to answer
// with if no content_filter_fallbacks route serves the request.
type filteredError struct {
	route string
	up    *upstream
	err   *provider.Error
}

// isContentFilter reports whether an upstream client error is a content
// filter's refusal (Azure: code content_filter, providers.md §5.7).
func isContentFilter(e *provider.Error) bool { return e.Code == "content_filter" }

// errChainDeadline is the cause when a route's deadline ends a request.
var errChainDeadline = errors.New("the route's deadline passed")

// backoff waits before a further attempt on a route with retry_backoff:
// base × 2^(n-1), capped at 2 s, times a random factor in [0.5, 1).
func (g *Gateway) backoff(ctx context.Context, route string, done int) error {
	base := g.cfgRoute(route).RetryBackoff
	if base <= 0 || done == 0 {
		return nil
	}
	return failover.Sleep(ctx, g.real(failover.Backoff(base, done, rand.Float64)))
}

// breakerAdmits asks the circuit breaker whether a deployment may take this
// attempt. An open circuit, or a half-open one whose probe slots are taken,
// refuses; the returned permit holds a probe slot until released. A
// deployment merely cooling down is still tried (last, as the plan orders
// it) rather than failing the request.
func (g *Gateway) breakerAdmits(name string) (*health.Permit, bool) {
	p, ok := g.health.Acquire(name)
	if ok {
		return &p, true
	}
	if g.health.Snapshot(name).State != health.Closed {
		return nil, false
	}
	return &health.Permit{}, true // the zero Permit holds nothing
}
