package router

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/llmux/llmux/internal/config"
)

// Explanation is how the router decided on one request: what each
// deployment of the route made of the filters, and the order the strategy
// gave. It encodes to JSON as is; String is the text form.
type Explanation struct {
	Route    string `json:"route"`
	Strategy string `json:"strategy,omitempty"`
	// The request, as the filters saw it.
	InputTokens  int      `json:"input_tokens"`
	OutputTokens int      `json:"output_tokens"`
	Needs        []string `json:"needs,omitempty"`
	Tier         string   `json:"tier,omitempty"`
	// Deployments are the route's deployments, in configured order.
	Deployments []Verdict `json:"deployments"`
	// Order is the plan: the kept deployments in the order they would be
	// tried.
	Order       []string `json:"order"`
	MaxAttempts int      `json:"max_attempts"`
	// Error is why there is no plan: an unknown route, or no deployment
	// can serve the request.
	Error string `json:"error,omitempty"`
}

// Verdict is what became of one deployment.
type Verdict struct {
	Deployment string `json:"deployment"`
	// Kept is true when the deployment passed every filter.
	Kept bool `json:"kept"`
	// Filter is the filter that left it out (FilterCapabilities,
	// FilterTier or FilterContext), and Reason says why; a kept deployment
	// that is not available has a Reason too.
	Filter string `json:"filter,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Position is the 1-based place in Order; 0 when not kept.
	Position int `json:"position,omitempty"`
	// Available is false while the deployment cools down after failures
	// (or its circuit is open): it is then tried last.
	Available bool `json:"available"`
	// Headroom is the fraction of its tightest rate-limit bucket left.
	Headroom float64 `json:"headroom"`
	// CostUSD is the request's price on the deployment.
	CostUSD float64 `json:"cost_usd"`
	// TTFTMillis is the time-to-first-token average, when there are
	// samples.
	TTFTMillis float64 `json:"ttft_ms,omitempty"`
}

// coolingReason is the Reason of a kept deployment that is not available.
const coolingReason = "cooling down/circuit open: tried last"

// Explain runs req through the route's filters and strategy as Plan does,
// and reports the decision. Like Plan it takes a turn (round-robin moves
// on) and draws at random for the weighted and latency strategies: the
// order is one such decision, not the only one.
func (r *Router) Explain(req Request) Explanation {
	e := Explanation{
		Route:        req.Route,
		InputTokens:  req.InputTokens,
		OutputTokens: req.OutputTokens,
		Needs:        req.Needs.Names(),
		Tier:         req.Tier,
		Order:        []string{},
	}
	rt, ok := r.routes[req.Route]
	if !ok {
		e.Error = (&ErrUnknownRoute{Route: req.Route}).Error()
		return e
	}
	e.Strategy = rt.cfg.Strategy
	if e.Strategy == "" {
		e.Strategy = config.StrategyRoundRobin
	}
	var exact exactCounts
	cands, err := r.plan(rt, req, make([]Candidate, 0, len(rt.deployments)), &exact)
	if err != nil {
		e.Error = err.Error()
	}
	e.MaxAttempts = maxAttempts(rt.cfg.MaxAttempts, len(cands))
	for i, d := range rt.deployments {
		v := Verdict{Deployment: d.Name, CostUSD: price(d, req)}
		if at := slices.IndexFunc(cands, func(c Candidate) bool { return c.Index == i }); at >= 0 {
			c := cands[at]
			v.Kept, v.Position, v.Available, v.Headroom = true, at+1, c.available, c.Headroom
			if !c.available {
				v.Reason = coolingReason
			}
		} else {
			why := check(d, rt.caps[i], &req, &exact)
			v.Filter, v.Reason = why.filter(), why.text(d, &req)
			v.Available, v.Headroom = r.available(d), r.headroom(d)
		}
		if ttft, ok := r.latency(d.Name); ok {
			v.TTFTMillis = float64(ttft.Microseconds()) / 1000
		}
		e.Deployments = append(e.Deployments, v)
	}
	for _, c := range cands {
		e.Order = append(e.Order, c.Deployment.Name)
	}
	return e
}

// String is the explanation as text, the plan first:
//
//	route "chat" (strategy cost, max attempts 2)
//	request: 1200 input + 300 output tokens, needs tools, tier "free"
//	  1.  mini    headroom 0.80  $0.000360  ttft 420ms
//	  2.  gpt-4o  headroom 0.20  $0.006000  cooling down/circuit open: tried last
//	  -   claude  filtered by tier: tier "free" not served (tiers: pro)
func (e Explanation) String() string {
	var b strings.Builder
	if e.Strategy == "" {
		fmt.Fprintf(&b, "route %q\n", e.Route)
	} else {
		fmt.Fprintf(&b, "route %q (strategy %s, max attempts %d)\n", e.Route, e.Strategy, e.MaxAttempts)
	}
	fmt.Fprintf(&b, "request: %d input + %d output tokens", e.InputTokens, e.OutputTokens)
	if len(e.Needs) > 0 {
		fmt.Fprintf(&b, ", needs %s", strings.Join(e.Needs, ", "))
	}
	if e.Tier != "" {
		fmt.Fprintf(&b, ", tier %q", e.Tier)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, name := range e.Order {
		for _, v := range e.Deployments {
			if v.Deployment == name {
				fmt.Fprintf(tw, "  %d.\t%s\theadroom %.2f\t$%.6f%s\n", v.Position, v.Deployment, v.Headroom, v.CostUSD, v.notes())
			}
		}
	}
	for _, v := range e.Deployments {
		if !v.Kept {
			fmt.Fprintf(tw, "  -\t%s\tfiltered by %s: %s\n", v.Deployment, v.Filter, v.Reason)
		}
	}
	tw.Flush()
	if e.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", e.Error)
	}
	return b.String()
}

// notes are the ttft average and the reason, as a last column.
func (v Verdict) notes() string {
	var notes []string
	if v.TTFTMillis != 0 {
		notes = append(notes, fmt.Sprintf("ttft %.0fms", v.TTFTMillis))
	}
	if v.Reason != "" {
		notes = append(notes, v.Reason)
	}
	if len(notes) == 0 {
		return ""
	}
	return "\t" + strings.Join(notes, "; ")
}
