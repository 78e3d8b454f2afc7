package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/llmux/llmux/internal/api/sse"
	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/failover"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/ratelimit"
)

// An attempt has two halves. start sends the request and reads up to its
// first token — the whole body of a non-streamed answer (checked and
// converted), or a stream's first event — without writing anything to the
// client, so any failure so far can still move on to another candidate,
// and two attempts can race for the first token (hedging); complete then
// writes the winner to the client (complete).

// started is an attempt that has its first token.
type started struct {
	up   *upstream
	res  ratelimit.Reservation
	p    *prepared
	resp *provider.Response
	wd   *watchdog
	n    int

	out []byte // non-streamed: the client's body
	u   usage  // non-streamed: its usage

	rd    *sse.Reader // streamed: the rest of the stream
	first sse.Event   // streamed: its first event

	// notes are the during_call and post_call guardrail outcomes, for
	// the x-llmux-guardrails header.
	notes []string
}

// attempt runs one candidate to the end.
func (g *Gateway) attempt(ctx context.Context, w http.ResponseWriter, c *call, up *upstream, res ratelimit.Reservation, n int, st *callState) attemptResult {
	s, r := g.start(ctx, c, up, res, n)
	if s == nil {
		return g.written(w, c, up, r, st)
	}
	return g.complete(ctx, w, c, s)
}

// written writes an upstream client error a start returned — unless it is
// a content filter's refusal and the route has content_filter_fallbacks,
// which then get their turn (the refusal is written only if they fail).
func (g *Gateway) written(w http.ResponseWriter, c *call, up *upstream, r attemptResult, st *callState) attemptResult {
	if r.denied != nil {
		if c.cs != nil {
			// The client already has part of an answer: end it.
			c.cs.fail(r.denied.message)
			r.out = outcome{status: http.StatusOK, deployment: up.dep.Name, reason: "guardrail_denied"}
			return r
		}
		w.Header().Set(headerGuardrails, r.denied.param+":denied")
		writeError(w, c.f, r.denied)
		return r
	}
	if r.clientErr == nil {
		return r
	}
	name := up.dep.Name
	failed := attemptResult{failure: attemptFailure{deployment: name, err: r.clientErr}}
	rc := g.cfgRoute(c.serving)
	switch {
	case g.prefills(c, up.dep) && isPrefillRejected(r.clientErr):
		// Learned: this deployment takes no prefill. Once more without.
		g.noPrefill.Store(name, true)
		failed.prefillRejected = true
		return failed
	case isContextLength(r.clientErr) && len(rc.ContextFallbacks)+len(rc.Fallbacks) > 0:
		// Never resent unchanged to a window it does not fit.
		st.contextExceeded, st.stop = true, true
		return failed
	case isContentFilter(r.clientErr) && len(rc.ContentFilterFallbacks) > 0:
		st.filtered = &filteredError{route: c.serving, up: up, err: r.clientErr}
		st.stop = true
		return failed
	case c.cs != nil:
		// Headers are gone: another candidate may still continue.
		return failed
	}
	r.out = g.writeUpstreamError(w, c, up, r.clientErr)
	return r
}

// isContextLength reports whether an upstream client error says the
// prompt does not fit the model's context window: OpenAI's and Azure's
// code context_length_exceeded, Anthropic's "prompt is too long"
// (providers.md §5).
func isContextLength(e *provider.Error) bool {
	return e.Code == "context_length_exceeded" ||
		e.Status == http.StatusBadRequest && bytes.Contains(e.Body, []byte("prompt is too long"))
}

// isPrefillRejected reports whether an upstream refused a trailing
// assistant message ("does not support assistant message prefill").
func isPrefillRejected(e *provider.Error) bool {
	return e.Status == http.StatusBadRequest && bytes.Contains(bytes.ToLower(e.Body), []byte("prefill"))
}

// start sends the attempt and reads up to its first token. It returns
// either a started attempt or the attempt's result; it never writes to the
// client.
func (g *Gateway) start(ctx context.Context, c *call, up *upstream, res ratelimit.Reservation, n int) (*started, attemptResult) {
	name := up.dep.Name
	p, aerr := g.prepare(ctx, c, up)
	if aerr != nil {
		g.cancel(res)
		return nil, attemptResult{failure: attemptFailure{deployment: name, clientErr: aerr}}
	}
	actx, wd := startWatchdog(ctx, g.timeoutsFor(c.serving, up.dep))
	checks := g.during(actx, c, p.pl)
	sent := g.now()
	resp, err := up.adapter.Send(actx, p.req)
	if err != nil {
		wd.stop()
		return nil, g.sendFailed(ctx, c, up, res, watchdogCause(actx, ctx, err))
	}
	g.learn(ctx, up, resp.Limits)
	s := &started{up: up, res: res, p: p, resp: resp, wd: wd, n: n}
	if c.stream {
		err = g.openStream(s)
	} else {
		err = g.readJSON(c, s)
	}
	if err != nil {
		resp.Body.Close()
		wd.stop()
		err = watchdogCause(actx, ctx, err)
		if ctx.Err() != nil {
			// The client left, or this attempt lost a hedging race, after
			// the request reached the provider, which counted it on
			// arrival: the reservation stands (providers.md §1.8, §4.6).
			g.notifyQueues()
			return nil, attemptResult{done: true, out: outcome{status: 499, deployment: name, reason: "client_closed"}}
		}
		g.settleRequestOnly(res)
		pe := &provider.Error{Account: up.dep.Account, Class: provider.ClassRetryable, Err: err}
		g.recordFailure(name, pe)
		if errors.Is(err, errFirstTokenTimeout) {
			g.health.ObserveTTFT(name, g.firstTokenTimeout(c.serving, up.dep))
		}
		return nil, attemptResult{failure: attemptFailure{deployment: name, err: pe}}
	}
	wd.token()
	g.health.ObserveTTFT(name, g.now().Sub(sent))
	if r, ok := g.checkStarted(ctx, c, s, checks); !ok {
		return nil, r
	}
	return s, attemptResult{}
}

// readJSON reads and converts a whole non-streamed answer.
func (g *Gateway) readJSON(c *call, s *started) error {
	data, err := io.ReadAll(io.LimitReader(s.resp.Body, maxResponseBytes))
	s.resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read upstream body: %w", err)
	}
	s.out, s.u, err = g.convertJSON(c, s.up, s.p, data)
	return err
}

// openStream reads a stream's first event and checks it: a reset, garbage
// or an error event there can still fail over.
func (g *Gateway) openStream(s *started) error {
	s.rd = sse.NewReader(s.resp.Body)
	first, err := s.rd.Next()
	if err != nil {
		return fmt.Errorf("read first event: %w", err)
	}
	if err := checkFirst(s.up.adapter.Format(), first); err != nil {
		return err
	}
	// first.Data aliases the reader's buffer; keep it past the next read.
	s.first = sse.Event{Name: first.Name, Data: append([]byte(nil), first.Data...)}
	return nil
}

// complete writes a started attempt to the client and settles it.
func (g *Gateway) complete(ctx context.Context, w http.ResponseWriter, c *call, s *started) attemptResult {
	defer s.wd.stop()
	name := s.up.dep.Name
	setServedHeaders(w, name, s.n)
	if ph := c.promptHeader(s.p.pl); ph != "" {
		w.Header().Set(headerPrompt, ph)
	}
	guardHeaders(w.Header(), c, s.p.pl, s.notes)
	if !c.stream {
		out := s.out
		if v := s.p.pl.vault; v != nil {
			out = v.RestoreJSON(out)
		}
		c.log.Add(failover.Event{Deployment: name, What: "ok"})
		w.Header().Set(headerAttemptLog, c.log.String())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(out)
		g.settle(s.up, s.res, s.u, s.u != (usage{}))
		g.health.Success(name)
		return attemptResult{done: true, out: outcome{status: http.StatusOK, deployment: name, usage: s.u}}
	}
	defer s.resp.Body.Close()
	if c.cs == nil {
		c.cs = g.openClientStream(ctx, w, c, s.p.pl)
	}
	u, err := g.relayStream(ctx, c, s)
	g.settle(s.up, s.res, u, u != (usage{}))
	if err == nil {
		g.health.Success(name)
		c.log.Add(failover.Event{Deployment: name, What: "ok"})
		c.cs.complete(c.log.String(), s.n)
		return attemptResult{done: true, out: outcome{status: http.StatusOK, deployment: name, usage: u}}
	}
	return g.streamFailed(ctx, c, s, u, err)
}

// streamFailed handles a stream that failed after its first event: a
// diverged regeneration or a client that left ends it; otherwise the next
// candidate continues the answer (or, held back, starts it afresh),
// unless the route turned continuation off or spent its continuations.
func (g *Gateway) streamFailed(ctx context.Context, c *call, s *started, u usage, err error) attemptResult {
	name := s.up.dep.Name
	done := attemptResult{done: true, out: outcome{status: http.StatusOK, deployment: name, usage: u, reason: "stream_error"}}
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errChainDeadline) {
		done.out.reason = "client_closed"
		return done
	}
	if errors.Is(err, errDiverged) {
		c.log.Add(failover.Event{Deployment: name, What: "error", Detail: "diverged"})
		c.cs.fail("The stream failed and its continuation did not match the answer so far: " + err.Error())
		c.cs.complete(c.log.String(), s.n)
		return done
	}
	pe := &provider.Error{Account: s.up.dep.Account, Class: provider.ClassRetryable, Err: err}
	g.recordFailure(name, pe)
	failed := attemptResult{failure: attemptFailure{deployment: name, err: pe}}
	cs := c.cs
	if cs.hold {
		cs.discard()
		c.cs = nil
		c.log.Add(failover.Event{Deployment: name, What: "held-back", Detail: failDetail(err)})
		failed.logged = true
		return failed
	}
	rc := g.cfgRoute(c.serving).Continuation
	t := readTranscript(c.f, cs.recorded())
	n := 0
	if k := c.cont.Load(); k != nil {
		n = k.n
	}
	c.log.Add(failover.Event{Deployment: name, What: "cut", Detail: failDetail(err), Byte: t.size()})
	if rc.Mode == config.ContinuationOff || n >= max(rc.Max, 0) && rc.Max != 0 || !t.ok || ctx.Err() != nil {
		cs.fail("The upstream stream failed: " + err.Error())
		cs.complete(c.log.String(), s.n)
		return done
	}
	c.cont.Store(newContinuation(t, n+1))
	g.metrics.continuations.WithLabelValues(c.serving).Inc()
	failed.streamBroken, failed.logged = true, true
	return failed
}

// failDetail names a stream failure for the attempt log.
func failDetail(err error) string {
	switch {
	case errors.Is(err, errChunkGapTimeout):
		return "stall"
	case errors.Is(err, errTotalTimeout):
		return "timeout"
	case errors.Is(err, errIncomplete):
		return "cut"
	}
	var reported *errReported
	if errors.As(err, &reported) {
		return "error_event"
	}
	return "cut"
}

// abandon releases a started attempt that lost a hedging race. Its
// reservation stands: the provider counted the request when it arrived
// (providers.md §1.8, §4.6), so refunding it would let llmux admit more
// than the provider will.
func (g *Gateway) abandon(s *started) {
	s.wd.stop()
	s.resp.Body.Close()
	g.notifyQueues()
}
