package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/tokens"
)

// Bucket keys in the limiter.
func depKey(name string) string { return "dep:" + name }
func keyKey(name string) string { return "key:" + name }

// Azure OpenAI counts tokens in fixed one-minute windows and requests in
// fixed 10-second windows of RPM/6 (providers.md §5.5). The windows are
// assumed aligned to the clock (as the simulator does); Learn corrects
// for a real Azure whose windows are not.
const (
	azureRequestsWindow = 10 * time.Second
	azureTokensWindow   = time.Minute
)

// depLimits is deployment d's limiter limits: its configured per-minute
// limits, counted in Azure's fixed windows when d's account is Azure and
// in continuous buckets otherwise.
func (g *Gateway) depLimits(d *config.Deployment) ratelimit.Limits {
	lim := ratelimit.Limits{RPM: int64(d.Limits.RPM), TPM: int64(d.Limits.TPM), ITPM: int64(d.Limits.ITPM), OTPM: int64(d.Limits.OTPM)}
	if up := g.upstreams[d.Name]; up != nil && isAzure(up) {
		lim.RequestsWindow, lim.TokensWindow = azureRequestsWindow, azureTokensWindow
	}
	return lim
}

// cost is what dep's provider will count for c at admission: one request,
// the prompt estimate and the requested output (package tokens has the
// formulas and their sources), taken from the payload dep would be sent
// (a prompt's variant for dep's model). Estimates are cached per payload
// and model family.
func (g *Gateway) cost(ctx context.Context, c *call, dep *config.Deployment) (ratelimit.Cost, error) {
	p, aerr := g.payloadFor(ctx, c, dep)
	if aerr != nil {
		return ratelimit.Cost{}, aerr
	}
	est, err := g.estimate(c, p, dep)
	if err != nil {
		return ratelimit.Cost{}, err
	}
	return ratelimit.Cost{Requests: 1, Input: int64(est.Input), Output: int64(est.Output)}, nil
}

// estimate is p's token estimate for dep's model family.
func (g *Gateway) estimate(c *call, p *payload, dep *config.Deployment) (tokens.Estimate, error) {
	if est, ok := p.estimates[dep.Family]; ok {
		return est, nil
	}
	var est tokens.Estimate
	var err error
	switch {
	case c.op == provider.OpEmbeddings:
		est, err = g.estimator.Embeddings(p.body, dep.Family)
	case c.f == formatAnthropic:
		est, err = g.estimator.AnthropicMessages(p.body, dep.Family)
	default:
		est, err = g.estimator.OpenAIChat(p.body, dep.Family, dep.MaxOutput)
	}
	if err != nil {
		return est, fmt.Errorf("estimate tokens: %w", err)
	}
	if p.estimates == nil {
		p.estimates = map[string]tokens.Estimate{}
	}
	p.estimates[dep.Family] = est
	return est, nil
}

// asAPIError is err as the client sees it: an *apiError as it is, any
// other error as a 400.
func asAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	return errBadRequest("", err.Error())
}

// settle corrects a reservation once the response is done, charging what
// the provider counts (DESIGN.md principle 2):
//   - OpenAI, Azure and OpenAI-compatible servers count the admission
//     estimate (prompt + max output) and do not refund unused output
//     (providers.md §1.8, §5.5): the reservation stands as charged.
//   - Anthropic corrects input tokens during the request and counts output
//     tokens as generated (providers.md §4.6): settle to the real usage.
func (g *Gateway) settle(up *upstream, res ratelimit.Reservation, u usage, known bool) {
	if !res.OK || res.Key == "" {
		return
	}
	actual := res.Cost
	if up.adapter.Format() == provider.FormatAnthropic && known {
		actual.Input, actual.Output = int64(u.input), int64(u.output)
	}
	if actual != res.Cost {
		if err := g.limiter.Settle(context.Background(), res, actual); err != nil {
			g.log.Warn("limiter settle failed", "key", res.Key, "err", err)
		}
	}
	g.notifyQueues()
}

// settleRequestOnly keeps the request charge of a failed attempt (failed
// requests count against RPM) and refunds its tokens.
func (g *Gateway) settleRequestOnly(res ratelimit.Reservation) {
	if !res.OK || res.Key == "" {
		return
	}
	if err := g.limiter.Settle(context.Background(), res, ratelimit.Cost{Requests: res.Cost.Requests}); err != nil {
		g.log.Warn("limiter settle failed", "key", res.Key, "err", err)
	}
	g.notifyQueues()
}

// cancel refunds a reservation whose request was never counted.
func (g *Gateway) cancel(res ratelimit.Reservation) {
	if !res.OK || res.Key == "" {
		return
	}
	if err := g.limiter.Cancel(context.Background(), res); err != nil {
		g.log.Warn("limiter cancel failed", "key", res.Key, "err", err)
	}
	g.notifyQueues()
}

func (g *Gateway) notifyQueues() {
	for _, q := range g.queues {
		if q.Len() > 0 {
			q.Notify()
		}
	}
}

// learn folds the provider's rate-limit headers into the buckets.
func (g *Gateway) learn(ctx context.Context, up *upstream, l provider.Limits) {
	lim := g.depLimits(up.dep)
	if lim.IsZero() {
		return
	}
	obs, ok := observed(up, l)
	if !ok {
		return
	}
	if err := g.limiter.Learn(ctx, depKey(up.dep.Name), lim, obs); err != nil {
		g.log.Warn("limiter learn failed", "deployment", up.dep.Name, "err", err)
	}
}

// observed maps a provider's headers to the limiter's dimensions.
// Observed limits are per minute, remaining values are what is left now.
// Azure's request headers count the current 10-second window (the limit
// is RPM/6, providers.md §5.4), which is how depLimits counts Azure
// requests too: the remaining requests are the window's, and the limit is
// scaled back to a minute (× 6) for Observed.RequestsLimit.
func observed(up *upstream, l provider.Limits) (ratelimit.Observed, bool) {
	obs := ratelimit.Observed{RequestsRemaining: -1, TokensRemaining: -1, InputRemaining: -1, OutputRemaining: -1}
	known := false
	take := func(b provider.Bucket, remaining, limit *int64) {
		if b.Known {
			*remaining, *limit, known = b.Remaining, b.Limit, true
		}
	}
	switch {
	case up.adapter.Format() == provider.FormatAnthropic:
		take(l.Requests, &obs.RequestsRemaining, &obs.RequestsLimit)
		take(l.InputTokens, &obs.InputRemaining, &obs.InputLimit)
		take(l.OutputTokens, &obs.OutputRemaining, &obs.OutputLimit)
	case isAzure(up):
		take(l.Tokens, &obs.TokensRemaining, &obs.TokensLimit)
		take(l.Requests, &obs.RequestsRemaining, &obs.RequestsLimit)
		if obs.RequestsLimit > 0 {
			obs.RequestsLimit *= int64(time.Minute / azureRequestsWindow)
		}
	default:
		take(l.Requests, &obs.RequestsRemaining, &obs.RequestsLimit)
		take(l.Tokens, &obs.TokensRemaining, &obs.TokensLimit)
	}
	return obs, known
}

func isAzure(up *upstream) bool {
	_, ok := up.adapter.(*provider.Azure)
	return ok
}

// block empties a deployment's buckets after an upstream 429, until the
// provider's retry-after (or 5 s when it gave none); an upstream 429 is a
// miss in llmux's accounting, counted in llmux_upstream_429_total.
func (g *Gateway) block(ctx context.Context, up *upstream, pe *provider.Error) {
	lim := g.depLimits(up.dep)
	if lim.IsZero() {
		return // no buckets; the health cooldown still rests it
	}
	d := pe.RetryAfter
	if d <= 0 {
		d = 5 * time.Second
	}
	if err := g.limiter.Block(ctx, depKey(up.dep.Name), lim, d); err != nil {
		g.log.Warn("limiter block failed", "deployment", up.dep.Name, "err", err)
	}
}

// reserveKey charges the client key's own limits. A key over its limit
// gets 429 at once: it is the tenant's own budget, not capacity worth
// waiting for.
func (g *Gateway) reserveKey(ctx context.Context, c *call) (ratelimit.Reservation, *apiError) {
	lim := ratelimit.Limits{RPM: int64(c.key.Limits.RPM), TPM: int64(c.key.Limits.TPM)}
	if lim.IsZero() {
		return ratelimit.Reservation{}, nil
	}
	deps, _ := g.router.Route(c.route)
	cost, err := g.cost(ctx, c, g.planningDeployment(c, deps))
	if err != nil {
		return ratelimit.Reservation{}, asAPIError(err)
	}
	res, err := g.limiter.Reserve(ctx, keyKey(c.key.Name), lim, cost)
	var exceeds *ratelimit.ExceedsError
	switch {
	case errors.As(err, &exceeds):
		return res, &apiError{status: http.StatusBadRequest, code: "request_too_large", param: "messages",
			message: fmt.Sprintf("This request needs about %d tokens of %s, more than this key's per-minute limit of %d.", exceeds.Cost, exceeds.Dimension, exceeds.Limit)}
	case err != nil:
		g.log.Warn("limiter reserve failed for key; letting the request through", "key", c.key.Name, "err", err)
		return ratelimit.Reservation{}, nil
	case !res.OK:
		g.metrics.keyLimited.WithLabelValues(c.key.Name).Inc()
		return res, &apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded", retryAfter: res.Wait,
			message: fmt.Sprintf("This API key is over its own rate limit; retry in %s.", res.Wait.Round(time.Millisecond))}
	}
	return res, nil
}

// settleKey charges the key what the call really used.
func (g *Gateway) settleKey(res ratelimit.Reservation, o outcome) {
	if !res.OK || res.Key == "" {
		return
	}
	actual := ratelimit.Cost{Requests: 1, Input: int64(o.usage.input), Output: int64(o.usage.output)}
	if err := g.limiter.Settle(context.Background(), res, actual); err != nil {
		g.log.Warn("limiter settle failed", "key", res.Key, "err", err)
	}
}

// priority is the key's tier index in config tiers (lower is served first);
// unlisted tiers come last.
func (g *Gateway) priority(k *config.Key) int {
	if p, ok := g.tiers[k.Tier]; ok {
		return p
	}
	return len(g.tiers)
}
