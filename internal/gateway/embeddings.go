package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/llmux/llmux/internal/provider"
)

// handleEmbeddings serves POST /v1/embeddings: OpenAI format only, passed
// through to OpenAI, Azure or OpenAI-compatible deployments with the model
// replaced. encoding_format (base64 is the Python SDK's default) passes
// through untouched.
func (g *Gateway) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	c, aerr := g.admitEmbeddings(w, r)
	if aerr != nil {
		writeError(w, formatOpenAI, aerr)
		g.finish(w, r, c, start, outcome{status: aerr.status, reason: aerr.code})
		return
	}
	c.start = start
	g.finish(w, r, c, start, g.serve(r.Context(), w, c))
}

func (g *Gateway) admitEmbeddings(w http.ResponseWriter, r *http.Request) (*call, *apiError) {
	key, aerr := g.authenticate(r)
	if aerr != nil {
		return nil, aerr
	}
	body, aerr := g.readBody(w, r)
	if aerr != nil {
		return nil, aerr
	}
	var s struct {
		Model *string         `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, jsonError(err)
	}
	if s.Model == nil || *s.Model == "" {
		return nil, &apiError{status: http.StatusBadRequest, code: "missing_required_parameter", param: "model",
			message: requiredMessage(formatOpenAI, "model")}
	}
	if len(s.Input) == 0 || string(s.Input) == "null" {
		return nil, &apiError{status: http.StatusBadRequest, code: "missing_required_parameter", param: "input",
			message: requiredMessage(formatOpenAI, "input")}
	}
	c := &call{f: formatOpenAI, op: provider.OpEmbeddings, body: body, route: *s.Model, key: key}
	c.base = &payload{body: body}
	if aerr := g.checkRoute(c, true); aerr != nil {
		return c, aerr
	}
	// Code sent for embedding leaves too: its secrets are redacted (the
	// vectors of a placeholder are what the index should hold anyway).
	if c.guards, aerr = g.guardsFor(c); aerr != nil {
		return c, aerr
	}
	return c, g.protect(r.Context(), c, c.base)
}
