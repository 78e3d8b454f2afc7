package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/router"
)

// planRequest is what the router needs to filter and order a route's
// deployments for c: the token estimate (for the context-window filter),
// the capabilities the request uses, and the key's tier.
func (g *Gateway) planRequest(ctx context.Context, c *call, route string) router.Request {
	req := router.Request{Route: route, Needs: needs(c), Tier: c.key.Tier}
	if c.prompt != nil {
		req.Admit = func(d *config.Deployment) bool { return c.prompt.admits(d, g.providerFamily(d)) }
	}
	deps, ok := g.router.Route(route)
	if !ok || len(deps) == 0 {
		return req
	}
	// The context filter needs the prompt's size in tokens, not the
	// providers' character-based admission charge. With a prompt, the
	// size is that of the first deployment's variant.
	dep := g.planningDeployment(c, deps)
	p, aerr := g.payloadFor(ctx, c, dep)
	if aerr != nil {
		return req
	}
	if est, err := g.estimate(c, p, dep); err == nil {
		req.InputTokens, req.OutputTokens = est.Prompt, est.Output
	}
	if c.op == provider.OpChat {
		req.ExactInput = func(family string) int { return g.exactInput(c.f, p, family) }
	}
	return req
}

// planningDeployment is the deployment whose payload stands for the
// request before a candidate is chosen: the route's first, or with a
// prompt the first with a variant.
func (g *Gateway) planningDeployment(c *call, deps []*config.Deployment) *config.Deployment {
	if c.prompt != nil {
		for _, d := range deps {
			if c.prompt.admits(d, g.providerFamily(d)) {
				return d
			}
		}
	}
	return deps[0]
}

// exactInput counts the prompt exactly (tiktoken; for Claude families an
// o200k count with a safety factor), for the router's context-window
// filter when the fast estimate is within 10% of a window. The per-message
// overhead follows the OpenAI cookbook: 3 per message, 3 to prime the reply.
func (g *Gateway) exactInput(f format, p *payload, family string) int {
	texts, messages := promptTexts(f, p)
	n := 3 + 3*messages
	for _, t := range texts {
		n += g.estimator.Exact(t, family)
	}
	return n
}

// promptTexts returns the text of p's prompt (system and every message)
// and the number of messages.
func promptTexts(f format, p *payload) ([]string, int) {
	var texts []string
	if f == formatAnthropic {
		req, aerr := p.decodeAnthropic()
		if aerr != nil {
			return nil, 0
		}
		texts = append(texts, req.System.String())
		for _, m := range req.Messages {
			for _, b := range m.Content.AsBlocks() {
				texts = append(texts, b.Text, string(b.Input), string(b.Content))
			}
		}
		return texts, len(req.Messages)
	}
	req, aerr := p.decodeOpenAI()
	if aerr != nil {
		return nil, 0
	}
	for _, m := range req.Messages {
		texts = append(texts, m.Content.String(), m.Name)
		for _, tc := range m.ToolCalls {
			texts = append(texts, tc.Function.Name, tc.Function.Arguments)
		}
	}
	for _, t := range req.Tools {
		if t.Function != nil {
			texts = append(texts, t.Function.Name, t.Function.Description, string(t.Function.Parameters))
		}
	}
	return texts, len(req.Messages)
}

// Structural markers of the capabilities a request uses. A key with
// unescaped quotes cannot occur inside a JSON string, so a match is the
// field itself.
var (
	markTools     = []byte(`"tools":`)
	markImageURL  = []byte(`"image_url"`)
	markImage     = []byte(`"type":"image"`)
	markJSONMode  = []byte(`"response_format":`)
	markEmptyList = []byte(`"tools":[]`)
)

// needs is the capabilities c uses: tools, images, JSON mode, streaming.
func needs(c *call) router.Capabilities {
	var n router.Capabilities
	if c.op != provider.OpChat {
		return n
	}
	b := c.body
	if bytes.Contains(b, markTools) && !bytes.Contains(b, markEmptyList) {
		n |= router.CapTools
	}
	if bytes.Contains(b, markImageURL) || bytes.Contains(b, markImage) {
		n |= router.CapImages
	}
	if bytes.Contains(b, markJSONMode) && !bytes.Contains(b, []byte(`"response_format":{"type":"text"}`)) {
		n |= router.CapJSON
	}
	if c.stream {
		n |= router.CapStreaming
	}
	return n
}

// noCandidate answers a request no deployment of the route can ever serve:
// at once, with every deployment's reason.
func noCandidate(e *router.NoCandidateError) *apiError {
	var b strings.Builder
	fmt.Fprintf(&b, "No deployment of route `%s` can serve this request:", e.Route)
	for _, r := range e.Rejected {
		fmt.Fprintf(&b, " %s: %s;", r.Deployment, r.Reason)
	}
	msg := strings.TrimSuffix(b.String(), ";") + "."
	code := "no_capable_deployment"
	if e.Only(router.FilterContext) {
		code = "context_length_exceeded"
	}
	return &apiError{status: http.StatusBadRequest, code: code, param: "messages", message: msg}
}

// headroom adapts the limiter to the router: the fraction left in a
// deployment's tightest bucket. It asks the limiter for each candidate on
// every plan, which is cheap in memory; with Redis the router gets no
// headroom source (all deployments look equal) rather than a round trip
// per candidate per request.
type headroom struct{ g *Gateway }

func (h headroom) Headroom(dep *config.Deployment) float64 {
	lim := h.g.depLimits(dep)
	if lim.IsZero() {
		return 1
	}
	// Only set with the in-memory limiter, which never blocks.
	st, err := h.g.limiter.State(context.Background(), depKey(dep.Name), lim)
	if err != nil {
		return 1
	}
	f := 1.0
	for _, l := range bucketLevels(st) {
		if l.Limit <= 0 {
			continue
		}
		if r := float64(l.Available) / float64(l.Limit); r < f {
			f = r
		}
	}
	return max(f, 0)
}

// latency adapts the health tracker's time-to-first-token EWMA.
type latency struct{ g *Gateway }

func (l latency) Latency(deployment string) (time.Duration, bool) {
	t := l.g.health.TTFT(deployment)
	return t.EWMA, t.Samples > 0
}
