package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/tokens"
)

// call is one client request on its way through the gateway.
type call struct {
	f     format
	op    provider.Op
	key   *config.Key
	body  []byte
	route string
	// serving is the route being tried: route, or one of its fallbacks.
	serving string
	// stream is the client's stream flag; includeUsage its OpenAI
	// stream_options.include_usage.
	stream       bool
	includeUsage bool
	// header holds client headers forwarded upstream.
	header http.Header
	start  time.Time

	// estimates caches the token estimate per model family.
	estimates map[string]tokens.Estimate

	// Decoded lazily, only when a candidate needs translation; decodeMu
	// guards it because hedged attempts prepare concurrently.
	decodeMu sync.Mutex
	oa       *openai.ChatRequest
	an       *anthropic.MessagesRequest
}

// readBody reads the request body up to the configured limit.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	limit := g.cfg.MaxBodyBytes
	if limit <= 0 {
		limit = 32 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: "request_too_large",
			message: fmt.Sprintf("Request body is larger than the limit of %d bytes.", limit)}
	case err != nil:
		return nil, errBadRequest("", "Could not read the request body: "+err.Error())
	case len(body) == 0:
		return nil, errBadRequest("", "The request body is empty; expected a JSON object.")
	}
	return body, nil
}

// chatScan is the part of a chat body the gateway reads on every request.
// Messages is only checked for presence and shape, not decoded.
type chatScan struct {
	Model               *string         `json:"model"`
	Stream              *bool           `json:"stream"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Messages            json.RawMessage `json:"messages"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// scanChat validates what every upstream would reject anyway, so a bad
// request never costs an upstream call (which counts against the limits).
func scanChat(f format, body []byte) (*call, *apiError) {
	var s chatScan
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, jsonError(err)
	}
	c := &call{f: f, op: provider.OpChat, body: body}
	if s.Model == nil || *s.Model == "" {
		return nil, &apiError{status: http.StatusBadRequest, code: "missing_required_parameter", param: "model",
			message: requiredMessage(f, "model")}
	}
	c.route = *s.Model
	if s.Stream != nil {
		c.stream = *s.Stream
	}
	if s.StreamOptions != nil {
		c.includeUsage = s.StreamOptions.IncludeUsage
	}
	if len(s.Messages) == 0 || string(s.Messages) == "null" {
		return nil, &apiError{status: http.StatusBadRequest, code: "missing_required_parameter", param: "messages",
			message: requiredMessage(f, "messages")}
	}
	if s.Messages[0] != '[' {
		return nil, errBadRequest("messages", "messages: must be an array of message objects.")
	}
	if string(s.Messages) == "[]" {
		return nil, errBadRequest("messages", "messages: must contain at least one message.")
	}
	if f == formatAnthropic && s.MaxTokens == nil {
		return nil, errBadRequest("max_tokens", "max_tokens: Field required")
	}
	for _, v := range []*int{s.MaxTokens, s.MaxCompletionTokens} {
		if v != nil && *v < 0 {
			return nil, errBadRequest("max_tokens", "max_tokens: must be a non-negative integer.")
		}
	}
	return c, nil
}

func requiredMessage(f format, field string) string {
	if f == formatAnthropic {
		return field + ": Field required"
	}
	return "Missing required parameter: '" + field + "'."
}

// jsonError turns a decoding failure into a 400 naming what was wrong.
func jsonError(err error) *apiError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return errBadRequest(typeErr.Field, fmt.Sprintf("Invalid type for '%s': expected %s, got a JSON %s.",
			typeErr.Field, typeErr.Type, typeErr.Value))
	}
	return errBadRequest("", "We could not parse the JSON body of your request: "+err.Error()+
		". The body must be a JSON object.")
}

// decodeOpenAI decodes the body fully (once), for translation.
func (c *call) decodeOpenAI() (*openai.ChatRequest, *apiError) {
	c.decodeMu.Lock()
	defer c.decodeMu.Unlock()
	if c.oa == nil {
		var req openai.ChatRequest
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, jsonError(err)
		}
		c.oa = &req
	}
	return c.oa, nil
}

// decodeAnthropic decodes the body fully (once), for translation.
func (c *call) decodeAnthropic() (*anthropic.MessagesRequest, *apiError) {
	c.decodeMu.Lock()
	defer c.decodeMu.Unlock()
	if c.an == nil {
		var req anthropic.MessagesRequest
		if err := json.Unmarshal(c.body, &req); err != nil {
			return nil, jsonError(err)
		}
		c.an = &req
	}
	return c.an, nil
}

// forwardedHeaders picks the client headers an upstream of the same
// format should see.
func forwardedHeaders(f format, r *http.Request) http.Header {
	if f != formatAnthropic {
		return nil
	}
	h := http.Header{}
	for _, k := range []string{"anthropic-version", "anthropic-beta"} {
		if v := r.Header.Values(k); len(v) > 0 {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	return h
}
