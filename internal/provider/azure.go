package provider

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Azure talks to Azure OpenAI. Classic URLs put the deployment in the path
// and need api-version (…/openai/deployments/NAME/chat/completions?api-version=V);
// the v1 form (base URL ending in /openai/v1) takes the deployment name as
// the body's model. Auth is the api-key header. providers.md §5.
type Azure struct {
	conn
	apiVersion string
	v1         bool
}

var _ Adapter = (*Azure)(nil)

// Format returns FormatOpenAI: Azure speaks OpenAI's bodies.
func (a *Azure) Format() Format { return FormatOpenAI }

// Send posts to the deployment's endpoint.
func (a *Azure) Send(ctx context.Context, req *Request) (*Response, error) {
	path, err := openAIPath(req.Op)
	if err != nil {
		return nil, &Error{Account: a.account, Class: ClassClient, Status: http.StatusBadRequest, Err: err}
	}
	target := a.endpoint(path)
	if !a.v1 {
		target = a.endpoint("/openai/deployments/"+url.PathEscape(req.Model)+path) + "?api-version=" + url.QueryEscape(a.apiVersion)
	}
	return a.do(ctx, req, target, FormatOpenAI, a.auth, parseAzureLimits)
}

func (a *Azure) auth(h http.Header) { h.Set("api-key", a.key.Reveal()) }

// parseAzureLimits reads x-ratelimit-* with resets in plain seconds, and
// tolerates -1 (unknown) values: providers.md §5.4.
func parseAzureLimits(h http.Header, now time.Time) Limits {
	l := Limits{
		Requests: bucketFromHeaders(h, "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests", parseSeconds),
		Tokens:   bucketFromHeaders(h, "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens", parseSeconds),
	}
	l.RetryAfter = retryAfter(h, now)
	return l
}
