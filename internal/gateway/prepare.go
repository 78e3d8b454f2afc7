package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/translate"
)

// prepared is a call made ready for one upstream.
type prepared struct {
	req *provider.Request
	// pl is the payload sent: the client's, or the prompt variant's.
	pl *payload
	// passthrough: the upstream speaks the client's format.
	passthrough bool
	// stripUsage: llmux asked an OpenAI upstream for the usage chunk the
	// client did not ask for, and must remove it again.
	stripUsage bool
}

// prepare builds the upstream request for up. Same format: the body as
// sent, with only the model replaced (and include_usage forced on OpenAI
// streams, so every stream is metered). Otherwise: decode and translate.
func (g *Gateway) prepare(ctx context.Context, c *call, up *upstream) (*prepared, *apiError) {
	pl, aerr := g.payloadFor(ctx, c, up.dep)
	if aerr != nil {
		return nil, aerr
	}
	p := &prepared{req: &provider.Request{Op: c.op, Model: up.dep.Model, Stream: c.stream}, pl: pl}
	if c.f.wire() == up.adapter.Format() {
		p.passthrough = true
		p.req.Header = c.header
		body, err := sjson.SetBytes(pl.body, "model", up.dep.Model)
		if err != nil {
			return nil, errBadRequest("model", "Could not rewrite the request body: "+err.Error())
		}
		if c.f == formatOpenAI && c.stream && !c.includeUsage {
			if body, err = sjson.SetBytes(body, "stream_options.include_usage", true); err != nil {
				return nil, errBadRequest("stream_options", "Could not rewrite stream_options: "+err.Error())
			}
			p.stripUsage = true
		}
		p.req.Body = body
		return p, nil
	}
	body, aerr := g.translateRequest(c, pl, up)
	if aerr != nil {
		return nil, aerr
	}
	p.req.Body = body
	return p, nil
}

func (g *Gateway) translateRequest(c *call, pl *payload, up *upstream) ([]byte, *apiError) {
	var out any
	switch c.f {
	case formatOpenAI:
		req, aerr := pl.decodeOpenAI()
		if aerr != nil {
			return nil, aerr
		}
		ar, err := translate.OpenAIToAnthropic(req, up.dep.Model, translate.Options{DefaultMaxTokens: up.dep.MaxOutput})
		if err != nil {
			return nil, translationError(err)
		}
		out = ar
	case formatAnthropic:
		req, aerr := pl.decodeAnthropic()
		if aerr != nil {
			return nil, aerr
		}
		or, err := translate.AnthropicToOpenAI(req, up.dep.Model)
		if err != nil {
			return nil, translationError(err)
		}
		out = or
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, &apiError{status: http.StatusInternalServerError, code: "internal_error",
			message: "Could not encode the translated request: " + err.Error()}
	}
	return body, nil
}

func translationError(err error) *apiError {
	if te, ok := err.(*translate.Error); ok {
		return errBadRequest(te.Param, te.Message)
	}
	return errBadRequest("", err.Error())
}
