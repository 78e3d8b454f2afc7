package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/provider"
)

// format is the client's API: errors and responses are written in it.
type format int

const (
	formatOpenAI format = iota
	formatAnthropic
)

func (f format) wire() provider.Format {
	if f == formatAnthropic {
		return provider.FormatAnthropic
	}
	return provider.FormatOpenAI
}

func (f format) String() string { return string(f.wire()) }

// apiError is an error llmux itself answers with.
type apiError struct {
	status  int
	code    string // OpenAI code (also the log's reason)
	param   string
	message string
	// retryAfter, when set, becomes Retry-After and retry-after-ms.
	retryAfter time.Duration
}

func (e *apiError) Error() string { return e.message }

func errBadRequest(param, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, param: param, message: message}
}

// writeError writes e in the client's format.
func writeError(w http.ResponseWriter, f format, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.retryAfter > 0 {
		secs := int((e.retryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("retry-after-ms", strconv.FormatInt(e.retryAfter.Milliseconds(), 10))
	}
	w.WriteHeader(e.status)
	w.Write(errorBody(f, e, h.Get(headerRequestID)))
}

func errorBody(f format, e *apiError, requestID string) []byte {
	if f == formatAnthropic {
		return anthropic.NewError(anthropic.TypeForStatus(e.status), e.message, requestID)
	}
	return openai.NewError(openAIErrorType(e.status), e.code, e.param, e.message)
}

// openAIErrorType is the type OpenAI uses for a status.
func openAIErrorType(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return openai.TypeServer
	case status == http.StatusUnauthorized:
		return "authentication_error"
	}
	return openai.TypeInvalidRequest
}

// streamErrorEvent is the mid-stream error in the client's format: an
// OpenAI data payload with an error key, or an Anthropic error event.
func streamErrorEvent(f format, status int, message string) (name string, data []byte) {
	if f == formatAnthropic {
		b, _ := json.Marshal(anthropic.ErrorEvent{Type: anthropic.EventError,
			Error: anthropic.Error{Type: anthropic.TypeForStatus(status), Message: message}})
		return anthropic.EventError, b
	}
	return "", openai.NewError(openAIErrorType(status), "upstream_error", "", message)
}

func (g *Gateway) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, formatFor(r), &apiError{status: http.StatusNotFound, code: "unknown_url",
		message: "Unknown request URL: " + r.Method + " " + r.URL.Path + "."})
}

func (g *Gateway) methodNotAllowed(f format, allowed string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allowed)
		writeError(w, f, &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			message: "Method " + r.Method + " not allowed for " + r.URL.Path + "; use " + allowed + "."})
	}
}

// formatFor guesses the client's format for endpoints both APIs share:
// Anthropic clients always send anthropic-version.
func formatFor(r *http.Request) format {
	if r.Header.Get("anthropic-version") != "" {
		return formatAnthropic
	}
	return formatOpenAI
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
