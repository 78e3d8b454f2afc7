package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/router"
)

// Explain says what the router would do with a request body (OpenAI or
// Anthropic format) from a key of the given tier: every deployment of the
// route, kept or filtered out and why, and the order the strategy gives.
// It charges nothing and sends nothing.
func (g *Gateway) Explain(ctx context.Context, body []byte, anthropicFormat bool, tier string) (router.Explanation, error) {
	f := formatOpenAI
	if anthropicFormat {
		f = formatAnthropic
	}
	c, aerr := scanChat(f, body)
	if aerr != nil {
		return router.Explanation{}, aerr
	}
	c.key = &config.Key{Tier: tier}
	if _, ok := g.router.Route(c.route); !ok {
		return router.Explanation{}, &apiError{status: http.StatusNotFound, code: "model_not_found", message: "unknown route " + quote(c.route)}
	}
	if c.prompt != nil {
		if aerr := g.resolvePrompt(c); aerr != nil {
			return router.Explanation{}, aerr
		}
	}
	return g.router.Explain(g.planRequest(ctx, c, c.route)), nil
}

// handleExplain is POST /admin/route/explain?tier=T with a request body.
func (g *Gateway) handleExplain(w http.ResponseWriter, r *http.Request) {
	if !g.adminAuth(w, r) {
		return
	}
	body, aerr := g.readBody(w, r)
	if aerr != nil {
		writeError(w, formatOpenAI, aerr)
		return
	}
	isAnthropic := r.Header.Get("anthropic-version") != "" || r.URL.Query().Get("format") == "anthropic"
	ex, err := g.Explain(r.Context(), body, isAnthropic, r.URL.Query().Get("tier"))
	if err != nil {
		ae, ok := err.(*apiError)
		if !ok {
			ae = errBadRequest("", err.Error())
		}
		writeError(w, formatOpenAI, ae)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(ex)
}
