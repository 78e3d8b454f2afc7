package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// outcome is what happened to a call, for the log and metrics.
type outcome struct {
	status     int
	deployment string
	attempts   int
	usage      usage
	reason     string
	fallback   string // the fallback route that served, if any
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
	if name := r.PathValue("name"); name != "" {
		if body, aerr = promptRequestBody(name, body); aerr != nil {
			return nil, aerr
		}
	}
	c, aerr := scanChat(f, body)
	if aerr != nil {
		return nil, aerr
	}
	c.key = key
	if aerr := g.checkRoute(c, false); aerr != nil {
		return c, aerr
	}
	if c.prompt != nil {
		if aerr := g.resolvePrompt(c); aerr != nil {
			return c, aerr
		}
	}
	if c.guards, aerr = g.guardsFor(c); aerr != nil {
		return c, aerr
	}
	if c.prompt == nil {
		return c, g.protect(r.Context(), c, c.base)
	}
	return c, nil
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

func setServedHeaders(w http.ResponseWriter, deployment string, attempts int) {
	h := w.Header()
	h.Set(headerDeployment, deployment)
	h.Set(headerAttempts, strconv.Itoa(attempts))
}

// finish logs the call and counts it.
func (g *Gateway) finish(w http.ResponseWriter, r *http.Request, c *call, start time.Time, o outcome) {
	route, keyName, stream, attemptLog := "", "", false, ""
	if c != nil {
		route, stream, attemptLog = c.route, c.stream, c.log.String()
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
		slog.String("attempt_log", attemptLog),
		slog.String("fallback", o.fallback),
		slog.Int("status", o.status),
		slog.String("reason", o.reason),
		slog.Int("input_tokens", o.usage.input),
		slog.Int("output_tokens", o.usage.output),
		slog.Duration("elapsed", elapsed),
	)
}
