package provider

import (
	"context"
	"net/http"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
)

// Anthropic talks to the Messages API. Auth is x-api-key plus
// anthropic-version; the base URL has no /v1, as in the SDKs. providers.md §4.
type Anthropic struct {
	conn
}

var _ Adapter = (*Anthropic)(nil)

// Format returns FormatAnthropic.
func (a *Anthropic) Format() Format { return FormatAnthropic }

// Send posts to /v1/messages.
func (a *Anthropic) Send(ctx context.Context, req *Request) (*Response, error) {
	if req.Op != OpChat {
		return nil, &Error{Account: a.account, Class: ClassClient, Status: http.StatusBadRequest,
			Err: errUnsupported("anthropic has no " + req.Op.String() + " endpoint")}
	}
	return a.do(ctx, req, a.endpoint("/v1/messages"), FormatAnthropic, a.auth, parseAnthropicLimits)
}

func (a *Anthropic) auth(h http.Header) {
	h.Set("x-api-key", a.key.Reveal())
	if h.Get("anthropic-version") == "" {
		h.Set("anthropic-version", anthropic.Version)
	}
}

// parseAnthropicLimits reads anthropic-ratelimit-* whose resets are RFC 3339
// instants of full replenishment: providers.md §4.6.
func parseAnthropicLimits(h http.Header, now time.Time) Limits {
	at := func(v string) (time.Duration, bool) { return parseInstant(v, now) }
	const p = "anthropic-ratelimit-"
	l := Limits{
		Requests:     bucketFromHeaders(h, p+"requests-limit", p+"requests-remaining", p+"requests-reset", at),
		Tokens:       bucketFromHeaders(h, p+"tokens-limit", p+"tokens-remaining", p+"tokens-reset", at),
		InputTokens:  bucketFromHeaders(h, p+"input-tokens-limit", p+"input-tokens-remaining", p+"input-tokens-reset", at),
		OutputTokens: bucketFromHeaders(h, p+"output-tokens-limit", p+"output-tokens-remaining", p+"output-tokens-reset", at),
	}
	l.RetryAfter = retryAfter(h, now)
	return l
}
