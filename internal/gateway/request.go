package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/failover"
	"github.com/llmux/llmux/internal/guard"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/tokens"
)

// call is one client request on its way through the gateway.
type call struct {
	f   format
	op  provider.Op
	key *config.Key
	// body is the client's body (without the llmux extension).
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

	// base is what is sent when the request names no prompt: the body,
	// redacted of secrets.
	base *payload
	// prompt is the named prompt, if any; its payloads depend on the
	// deployment (the variant for its model).
	prompt *promptCall
	// guards are the guardrails that apply (route, key and prompt).
	guards *callGuards
	// reask, once a post_call check asked for it, replaces the payload
	// for one more try of its deployment; reasked: that happened (once
	// per call).
	reask   *reask
	reasked bool

	// notes are guardrail outcomes of attempts that did not serve (a
	// fallback), for the x-llmux-guardrails header; hedged attempts add
	// them concurrently.
	notesMu sync.Mutex
	notes   []string

	// log records what each attempt did (retried, cut, continued, ...);
	// written by the call's own goroutine only.
	log failover.Log
	// cs is the client's stream once its first byte was written (or held
	// back); nil before.
	cs *clientStream
	// cont is set once a stream broke mid-answer: the next attempts
	// continue it. Atomic: a hedged attempt still preparing reads it while
	// the call's goroutine sets it.
	cont atomic.Pointer[continuation]
}

func (c *call) note(n string) {
	c.notesMu.Lock()
	c.notes = append(c.notes, n)
	c.notesMu.Unlock()
}

func (c *call) attemptNotes() []string {
	c.notesMu.Lock()
	defer c.notesMu.Unlock()
	return append([]string(nil), c.notes...)
}

// payload is one body as sent upstream, in the client's format, with the
// state derived from it: the client's own body, or a prompt variant's
// rendering. Hedged attempts read one payload concurrently.
type payload struct {
	body []byte
	// vault holds the secrets redacted from body, to put back into the
	// answer; nil when none were found.
	vault *guard.Vault
	// variant names the prompt variant rendered into body; "" without a
	// prompt.
	variant string
	// notes are guardrail outcomes for the x-llmux-guardrails header
	// (pre_call flags, redactions).
	notes []string

	// estimates caches the token estimate per model family; written by
	// the call's own goroutine only (reservations are made serially).
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
	// Llmux is the llmux extension: a named prompt and its variables,
	// decoded in the same pass as the rest.
	Llmux *extension `json:"llmux"`
}

// scanChat validates what every upstream would reject anyway, so a bad
// request never costs an upstream call (which counts against the limits).
func scanChat(f format, body []byte) (*call, *apiError) {
	var s chatScan
	if err := json.Unmarshal(body, &s); err != nil {
		if aerr := extensionError(body); aerr != nil {
			return nil, aerr
		}
		return nil, jsonError(err)
	}
	c := &call{f: f, op: provider.OpChat, body: body}
	ref, aerr := checkExtension(body, s.Llmux)
	if aerr != nil {
		return nil, aerr
	}
	if ref != nil {
		c.body, _ = sjson.DeleteBytes(body, "llmux")
		c.prompt = &promptCall{ref: ref.Prompt, vars: ref.Variables}
	}
	c.base = &payload{body: c.body}
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
	if aerr := checkMessages(f, s.Messages, c.prompt != nil); aerr != nil {
		return nil, aerr
	}
	if f == formatAnthropic && s.MaxTokens == nil && c.prompt == nil {
		return nil, errBadRequest("max_tokens", "max_tokens: Field required")
	}
	for _, v := range []*int{s.MaxTokens, s.MaxCompletionTokens} {
		if v != nil && *v < 0 {
			return nil, errBadRequest("max_tokens", "max_tokens: must be a non-negative integer.")
		}
	}
	return c, nil
}

// checkMessages checks the messages field's shape. A request naming a
// prompt may leave it out: its messages are appended to the prompt's.
func checkMessages(f format, msgs json.RawMessage, prompt bool) *apiError {
	absent := len(msgs) == 0 || string(msgs) == "null"
	switch {
	case absent && prompt:
		return nil
	case absent:
		return &apiError{status: http.StatusBadRequest, code: "missing_required_parameter", param: "messages",
			message: requiredMessage(f, "messages")}
	case msgs[0] != '[':
		return errBadRequest("messages", "messages: must be an array of message objects.")
	case string(msgs) == "[]" && !prompt:
		return errBadRequest("messages", "messages: must contain at least one message.")
	}
	return nil
}

// extension is the llmux object a chat request may carry:
// {"prompt": "name@label", "variables": {...}}.
type extension struct {
	Prompt    string         `json:"prompt"`
	Variables map[string]any `json:"variables"`
}

// extensionFields are the llmux object's fields.
var extensionFields = map[string]bool{"prompt": true, "variables": true}

// checkExtension checks the llmux object decoded with the body: strictly,
// so a misspelled field is an error rather than a silently ignored
// option (the keys are checked on the raw bytes, which costs no second
// decode of the variables).
func checkExtension(body []byte, ext *extension) (*extension, *apiError) {
	raw := gjson.GetBytes(body, "llmux")
	if !raw.Exists() || raw.Type == gjson.Null {
		return nil, nil
	}
	var unknown string
	raw.ForEach(func(k, _ gjson.Result) bool {
		if !extensionFields[k.Str] {
			unknown = k.Str
			return false
		}
		return true
	})
	if unknown != "" {
		return nil, errBadRequest("llmux", fmt.Sprintf("llmux: unknown field %q; the object is {\"prompt\": \"name@label\", \"variables\": {...}}.", unknown))
	}
	if ext == nil || ext.Prompt == "" {
		return nil, errBadRequest("llmux.prompt", "llmux.prompt: required: the name of a prompt, optionally with @label or @version.")
	}
	return ext, nil
}

// extensionError explains a body that failed to decode because of its
// llmux object, in the object's own terms.
func extensionError(body []byte) *apiError {
	raw := gjson.GetBytes(body, "llmux")
	if !raw.Exists() || raw.IsObject() || raw.Type == gjson.Null {
		if v := raw.Get("variables"); raw.IsObject() && v.Exists() && !v.IsObject() && v.Type != gjson.Null {
			return errBadRequest("llmux.variables", "llmux.variables: must be an object of variable names to values.")
		}
		if p := raw.Get("prompt"); raw.IsObject() && p.Exists() && p.Type != gjson.String {
			return errBadRequest("llmux.prompt", "llmux.prompt: must be a string, the name of a prompt.")
		}
		return nil
	}
	return errBadRequest("llmux", "llmux: must be an object {\"prompt\": \"name@label\", \"variables\": {...}}.")
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
func (p *payload) decodeOpenAI() (*openai.ChatRequest, *apiError) {
	p.decodeMu.Lock()
	defer p.decodeMu.Unlock()
	if p.oa == nil {
		var req openai.ChatRequest
		if err := json.Unmarshal(p.body, &req); err != nil {
			return nil, jsonError(err)
		}
		p.oa = &req
	}
	return p.oa, nil
}

// decodeAnthropic decodes the body fully (once), for translation.
func (p *payload) decodeAnthropic() (*anthropic.MessagesRequest, *apiError) {
	p.decodeMu.Lock()
	defer p.decodeMu.Unlock()
	if p.an == nil {
		var req anthropic.MessagesRequest
		if err := json.Unmarshal(p.body, &req); err != nil {
			return nil, jsonError(err)
		}
		p.an = &req
	}
	return p.an, nil
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
