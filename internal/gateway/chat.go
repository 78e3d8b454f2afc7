package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/router"
)

// outcome is what happened to a call, for the log and metrics.
type outcome struct {
	status     int
	deployment string
	attempts   int
	usage      usage
	reason     string
}

// usage is the token usage of a served call, in prompt/completion terms.
type usage struct {
	input, output int
}

// handleChat serves /v1/chat/completions (f = OpenAI) and /v1/messages
// (f = Anthropic).
func (g *Gateway) handleChat(f format) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := g.now()
		c, aerr := g.admit(w, r, f)
		if aerr != nil {
			writeError(w, f, aerr)
			g.finish(w, r, c, start, outcome{status: aerr.status, reason: aerr.code})
			return
		}
		c.start = start
		c.header = forwardedHeaders(f, r)
		g.finish(w, r, c, start, g.serve(r.Context(), w, c))
	}
}

// admit authenticates, reads, scans and checks the route.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, f format) (*call, *apiError) {
	key, aerr := g.authenticate(r)
	if aerr != nil {
		return nil, aerr
	}
	body, aerr := g.readBody(w, r)
	if aerr != nil {
		return nil, aerr
	}
	c, aerr := scanChat(f, body)
	if aerr != nil {
		return nil, aerr
	}
	c.key = key
	return c, g.checkRoute(c, false)
}

// checkRoute rejects unknown routes, routes the key may not use, and routes
// of the wrong kind.
func (g *Gateway) checkRoute(c *call, embeddings bool) *apiError {
	deps, ok := g.router.Route(c.route)
	if !ok || !allowed(c.key, c.route) {
		return &apiError{status: http.StatusNotFound, code: "model_not_found", param: "model",
			message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", c.route)}
	}
	if deps[0].Embeddings != embeddings {
		kind := "chat"
		if deps[0].Embeddings {
			kind = "embeddings"
		}
		return errBadRequest("model", fmt.Sprintf("The model `%s` serves %s requests only.", c.route, kind))
	}
	return nil
}

// serve walks the plan: each attempt either completes, or fails before the
// first byte reached the client and the next candidate is tried.
func (g *Gateway) serve(ctx context.Context, w http.ResponseWriter, c *call) outcome {
	plan, err := g.router.Plan(router.Request{Route: c.route})
	if err != nil {
		aerr := &apiError{status: http.StatusNotFound, code: "model_not_found", message: err.Error()}
		writeError(w, c.f, aerr)
		return outcome{status: aerr.status, reason: aerr.code}
	}
	var failures []attemptFailure
	for i, dep := range plan.Candidates[:plan.MaxAttempts] {
		if ctx.Err() != nil {
			return outcome{status: 499, attempts: i, reason: "client_closed"}
		}
		up := g.upstreams[dep.Name]
		res := g.attempt(ctx, w, c, up, i+1)
		if res.done {
			res.out.attempts = i + 1
			return res.out
		}
		failures = append(failures, res.failure)
	}
	aerr := finalError(c.f, failures)
	writeError(w, c.f, aerr)
	return outcome{status: aerr.status, attempts: len(failures), reason: aerr.code}
}

// attemptResult is one attempt's end: done (the client got an answer, good
// or bad) or a failure that allows the next candidate.
type attemptResult struct {
	done    bool
	out     outcome
	failure attemptFailure
}

type attemptFailure struct {
	deployment string
	err        *provider.Error
	// clientErr is a translation error that only this candidate has.
	clientErr *apiError
}

func (g *Gateway) attempt(ctx context.Context, w http.ResponseWriter, c *call, up *upstream, n int) attemptResult {
	name := up.dep.Name
	p, aerr := g.prepare(c, up)
	if aerr != nil {
		return attemptResult{failure: attemptFailure{deployment: name, clientErr: aerr}}
	}
	resp, err := up.adapter.Send(ctx, p.req)
	if err != nil {
		var pe *provider.Error
		if !errors.As(err, &pe) {
			pe = &provider.Error{Class: provider.ClassRetryable, Err: err}
		}
		g.recordFailure(name, pe)
		if pe.Class == provider.ClassClient {
			if ctx.Err() != nil {
				return attemptResult{done: true, out: outcome{status: 499, deployment: name, reason: "client_closed"}}
			}
			return attemptResult{done: true, out: g.writeUpstreamError(w, c, up, pe)}
		}
		return attemptResult{failure: attemptFailure{deployment: name, err: pe}}
	}
	setServedHeaders(w, name, n)
	var res relayResult
	if c.stream {
		res = g.relayStream(ctx, w, c, up, p, resp)
	} else {
		res = g.relayJSON(w, c, up, p, resp)
	}
	if res.err != nil {
		pe := &provider.Error{Account: up.dep.Account, Class: provider.ClassRetryable, Err: res.err}
		g.recordFailure(name, pe)
		if !res.committed {
			clearServedHeaders(w)
			return attemptResult{failure: attemptFailure{deployment: name, err: pe}}
		}
		return attemptResult{done: true, out: outcome{status: http.StatusOK, deployment: name, usage: res.usage, reason: "stream_error"}}
	}
	g.health.Success(name)
	return attemptResult{done: true, out: outcome{status: http.StatusOK, deployment: name, usage: res.usage}}
}

func setServedHeaders(w http.ResponseWriter, deployment string, attempts int) {
	h := w.Header()
	h.Set(headerDeployment, deployment)
	h.Set(headerAttempts, strconv.Itoa(attempts))
}

func clearServedHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Del(headerDeployment)
	h.Del(headerAttempts)
}

// recordFailure cools a deployment down according to what failed.
func (g *Gateway) recordFailure(deployment string, e *provider.Error) {
	g.metrics.upstreamFailures.WithLabelValues(deployment, e.Class.String()).Inc()
	if e.Class == provider.ClassClient {
		return
	}
	g.health.Failure(deployment, cooldown(e, g.health.Failures(deployment)+1))
}

// cooldown is how long a deployment rests after a failure: a rate limit
// for as long as the provider asked (5 s when it did not say), an account
// failure (bad key, no quota) for a minute, and other failures only once
// they repeat (3 in a row: 5 s).
func cooldown(e *provider.Error, streak int) time.Duration {
	switch e.Class {
	case provider.ClassRateLimited:
		if e.RetryAfter > 0 {
			return e.RetryAfter
		}
		return 5 * time.Second
	case provider.ClassAccount:
		return time.Minute
	}
	if streak >= 3 {
		return 5 * time.Second
	}
	return 0
}

// finish logs the call and counts it.
func (g *Gateway) finish(w http.ResponseWriter, r *http.Request, c *call, start time.Time, o outcome) {
	route, keyName, stream := "", "", false
	if c != nil {
		route, stream = c.route, c.stream
		if c.key != nil {
			keyName = c.key.Name
		}
	}
	elapsed := g.now().Sub(start)
	g.metrics.observe(route, o, elapsed)
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("id", w.Header().Get(headerRequestID)),
		slog.String("path", r.URL.Path),
		slog.String("key", keyName),
		slog.String("route", route),
		slog.Bool("stream", stream),
		slog.String("deployment", o.deployment),
		slog.Int("attempts", o.attempts),
		slog.Int("status", o.status),
		slog.String("reason", o.reason),
		slog.Int("input_tokens", o.usage.input),
		slog.Int("output_tokens", o.usage.output),
		slog.Duration("elapsed", elapsed),
	)
}
