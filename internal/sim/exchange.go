package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// maxBody is the request size limit (Anthropic documents 32 MB).
const maxBody = 32 << 20

// surface is the API a request came in on.
type surface struct {
	provider   string // ProviderOpenAI, ProviderAzure or ProviderAnthropic
	deployment string // Azure classic routes: the deployment in the path
	apiVersion string // Azure: the api-version query value, or "v1"
	operation  string // Azure: operation name in 429 messages
}

// exchange is one authenticated request in flight.
type exchange struct {
	s        *Server
	w        http.ResponseWriter
	r        *http.Request
	sf       surface
	key      *keyState
	start    time.Time
	reqID    string
	metered  bool // rate-limited endpoint: limit headers on every response
	result   int
	in, out  int  // tokens to count in Stats
	recorded bool // record has run
	fr       faultReq
	counts   *modelCounts // the model's counts, once arrive has run
}

// Outcomes counted in Stats.
const (
	resultError = iota
	resultOK
	resultLimited
)

// apiError is an error response before it is put in a provider's shape.
type apiError struct {
	status     int
	typ        string // OpenAI or Anthropic error type; "" = the status's default
	code       string // OpenAI code (Azure front-end errors: the code string)
	param      string // OpenAI param
	msg        string
	front      bool          // Azure: an error of Azure's front end, {"error":{"code","message"}}
	retryAfter time.Duration // > 0: send retry-after (and retry-after-ms on Azure)
	retryMS    bool          // with retryAfter: send retry-after-ms on OpenAI too
	raw        []byte        // the body as is, for shapes the envelopes do not cover
}

// begin authenticates a request for surface sf. On failure it has written
// the provider's 401 and returns nil. Callers defer x.record().
func (s *Server) begin(w http.ResponseWriter, r *http.Request, sf surface) *exchange {
	x := &exchange{s: s, w: w, r: r, sf: sf, start: s.now(), reqID: s.requestID(sf.provider)}
	x.idHeaders()
	raw, present := credential(r, sf.provider)
	ks := s.keys[raw]
	if ks == nil || ks.key.Provider != sf.provider {
		s.unauthorized.Add(1)
		x.fail(authError(sf.provider, raw, present))
		return nil
	}
	x.key = ks
	ks.stats.requests.Add(1)
	return x
}

// credential extracts the API key the provider's surface reads.
func credential(r *http.Request, provider string) (key string, present bool) {
	switch provider {
	case ProviderAnthropic:
		// x-api-key is the documented header; anthropic-sdk-go v2 sends
		// the API key as a bearer token instead.
		key = r.Header.Get("x-api-key")
		if key == "" {
			key = bearer(r)
		}
	case ProviderAzure:
		key = r.Header.Get("api-key")
		if key == "" {
			key = bearer(r)
		}
	default:
		key = bearer(r)
	}
	return key, key != ""
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func authError(provider, key string, present bool) *apiError {
	switch provider {
	case ProviderAnthropic:
		msg := "invalid x-api-key"
		if !present {
			msg = "x-api-key header is required"
		}
		return &apiError{status: 401, typ: anthropic.TypeAuthentication, msg: msg}
	case ProviderAzure:
		msg := "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
		if !present {
			msg = "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."
		}
		return &apiError{status: 401, front: true, msg: msg}
	}
	if !present {
		return &apiError{status: 401, typ: openai.TypeInvalidRequest,
			msg: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys."}
	}
	return &apiError{status: 401, typ: openai.TypeInvalidRequest, code: "invalid_api_key",
		msg: "Incorrect API key provided: " + maskKey(key) + ". You can find your API key at https://platform.openai.com/account/api-keys."}
}

// maskKey shows a key the way OpenAI's 401 does: a few characters at each
// end, the middle starred out. Short keys are starred out entirely.
func maskKey(k string) string {
	if len(k) < 12 {
		return "***"
	}
	return k[:6] + "***" + k[len(k)-3:]
}

// idHeaders sets the provider's request-id and bookkeeping headers.
func (x *exchange) idHeaders() {
	h := x.w.Header()
	switch x.sf.provider {
	case ProviderAnthropic:
		h.Set("request-id", x.reqID)
		h.Set("anthropic-organization-id", x.s.orgID)
	case ProviderAzure:
		h.Set("apim-request-id", x.reqID)
		h.Set("x-request-id", x.reqID)
		h.Set("x-ms-region", "East US")
	default:
		h.Set("x-request-id", x.reqID)
		h.Set("openai-version", "2020-10-01")
		h.Set("openai-organization", "org-sim")
	}
}

// record counts the exchange in the key's stats, once; deferred by
// handlers, and called early by abort so the counts are in place before
// the client sees the connection drop.
func (x *exchange) record() {
	if x.recorded {
		return
	}
	x.recorded = true
	c := &x.key.stats
	switch x.result {
	case resultOK:
		c.ok.Add(1)
	case resultLimited:
		c.rateLimited.Add(1)
	default:
		c.errors.Add(1)
	}
	c.input.Add(int64(x.in))
	c.output.Add(int64(x.out))
}

// arrive counts a valid request for its model (before the limits act,
// so ModelStats sees every attempt) and keeps what fault matching needs.
func (x *exchange) arrive(fr faultReq) {
	fr.key = x.key.key.Key
	x.fr = fr
	x.counts = x.s.arrive(fr.model, x.start)
}

// fault picks the fault to apply to the request, or nil; arrive ran.
func (x *exchange) fault() *Fault {
	f := x.s.pickFault(x.fr)
	if f != nil {
		x.s.countFault(x.counts)
	}
	return f
}

// readBody reads the request body up to maxBody.
func (x *exchange) readBody() ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		e := &apiError{status: 413, typ: openai.TypeInvalidRequest, msg: "Request exceeds the maximum allowed number of bytes."}
		if x.sf.provider == ProviderAnthropic {
			e.typ = anthropic.TypeRequestTooLarge
		}
		return nil, e
	case err != nil:
		return nil, &apiError{status: 400, typ: openai.TypeInvalidRequest, msg: "could not read the request body"}
	}
	return b, nil
}

// admit charges the key's limiter; on rejection it writes the provider's
// 429 and reports false.
func (x *exchange) admit(tokens int, model string) bool {
	now := x.s.now()
	rej := x.key.limits.admit(now, tokens)
	if rej == nil {
		x.key.stats.admitted.Add(int64(tokens))
		return true
	}
	switch x.sf.provider {
	case ProviderAnthropic:
		x.fail(anthropicRateLimit(rej, x.s.orgID))
	case ProviderAzure:
		x.fail(azureRateLimit(rej, x.sf))
	default:
		x.fail(openaiRateLimit(rej, model))
	}
	return false
}

// fail writes e in the provider's error shape.
func (x *exchange) fail(e *apiError) {
	h := x.w.Header()
	if e.retryAfter > 0 {
		h.Set("retry-after", strconv.Itoa(ceilSeconds(e.retryAfter)))
		if x.sf.provider == ProviderAzure || x.sf.provider == ProviderOpenAI && e.retryMS {
			h.Set("retry-after-ms", strconv.FormatInt(e.retryAfter.Milliseconds(), 10))
		}
	}
	if e.status == http.StatusTooManyRequests {
		x.result = resultLimited
	}
	x.send(e.status, "application/json", x.errorBody(e))
}

// errorBody encodes e in the surface's envelope.
func (x *exchange) errorBody(e *apiError) []byte {
	switch {
	case e.raw != nil:
		return e.raw
	case x.sf.provider == ProviderAnthropic:
		typ := e.typ
		if typ == "" {
			typ = anthropic.TypeForStatus(e.status)
		}
		// Anthropic's API does not escape <, > and & ("prompt is too
		// long: N tokens > M maximum"); encoding/json would.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(anthropic.ErrorBody{Type: "error", Error: anthropic.Error{Type: typ, Message: e.msg}, RequestID: x.reqID})
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	case x.sf.provider == ProviderAzure && e.front:
		code := e.code
		if code == "" {
			code = strconv.Itoa(e.status)
		}
		return openai.NewAzureError(code, e.msg)
	}
	typ := e.typ
	if typ == "" {
		typ = openai.TypeInvalidRequest
		if e.status >= 500 {
			typ = openai.TypeServer
		}
	}
	return openai.NewError(typ, e.code, e.param, e.msg)
}

// sendJSON writes a 200 with v encoded.
func (x *exchange) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		x.fail(&apiError{status: 500, msg: "sim: encode response: " + err.Error()})
		return
	}
	x.result = resultOK
	x.send(http.StatusOK, "application/json", b)
}

// send writes a complete response with the common headers.
func (x *exchange) send(status int, contentType string, body []byte) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	x.commonHeaders()
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}

// commonHeaders sets the rate-limit and processing-time headers just
// before the status line goes out.
func (x *exchange) commonHeaders() {
	h := x.w.Header()
	if x.key != nil && x.metered {
		x.key.limits.header(h, x.s.now())
	}
	if x.sf.provider != ProviderAnthropic {
		ms := x.s.now().Sub(x.start).Milliseconds()
		h.Set("openai-processing-ms", strconv.FormatInt(max(0, ms), 10))
	}
}
