package provider

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// OpenAI talks to api.openai.com and any OpenAI-compatible server (vLLM,
// Ollama, Together...). The base URL includes /v1, as in the SDKs.
type OpenAI struct {
	conn
}

var _ Adapter = (*OpenAI)(nil)

// Format returns FormatOpenAI.
func (a *OpenAI) Format() Format { return FormatOpenAI }

// Send posts to /chat/completions or /embeddings.
func (a *OpenAI) Send(ctx context.Context, req *Request) (*Response, error) {
	path, err := openAIPath(req.Op)
	if err != nil {
		return nil, &Error{Account: a.account, Class: ClassClient, Status: http.StatusBadRequest, Err: err}
	}
	return a.do(ctx, req, a.endpoint(path), FormatOpenAI, a.auth, parseOpenAILimits)
}

func (a *OpenAI) auth(h http.Header) {
	if a.key != "" {
		h.Set("Authorization", "Bearer "+a.key.Reveal())
	}
}

func openAIPath(op Op) (string, error) {
	switch op {
	case OpChat:
		return "/chat/completions", nil
	case OpEmbeddings:
		return "/embeddings", nil
	}
	return "", fmt.Errorf("operation %v not supported", op)
}

// parseOpenAILimits reads x-ratelimit-* with Go-duration resets ("6m0s",
// "12ms"): providers.md §1.7.
func parseOpenAILimits(h http.Header, now time.Time) Limits {
	l := Limits{
		Requests: bucketFromHeaders(h, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", parseGoDuration),
		Tokens:   bucketFromHeaders(h, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", parseGoDuration),
	}
	l.RetryAfter = retryAfter(h, now)
	return l
}
