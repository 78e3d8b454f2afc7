package router

import (
	"fmt"
	"strings"

	"github.com/llmux/llmux/internal/config"
)

// Capabilities is a set of things a request may use and a deployment may
// support.
type Capabilities uint8

// The capabilities, as config names them: tools, images, json, streaming.
const (
	CapTools     Capabilities = 1 << iota // tool (function) calls
	CapImages                             // image inputs
	CapJSON                               // JSON mode or structured output
	CapStreaming                          // a streamed answer

	capAll = CapTools | CapImages | CapJSON | CapStreaming
)

// capNames are the config names of the capabilities, by bit.
var capNames = [...]string{config.CapabilityTools, config.CapabilityImages, config.CapabilityJSON, config.CapabilityStreaming}

// ParseCapability returns the capability a config name stands for.
func ParseCapability(name string) (Capabilities, bool) {
	for i, n := range capNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// parseCapabilities turns a deployment's list into a set; nil (a config
// built in code) means all of them.
func parseCapabilities(names []string) (Capabilities, error) {
	if names == nil {
		return capAll, nil
	}
	var caps Capabilities
	for _, n := range names {
		if n == config.CapabilityPrefill {
			continue // not a request need; the gateway reads it for continuations
		}
		c, ok := ParseCapability(n)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		caps |= c
	}
	return caps, nil
}

// Names lists the capabilities in c by their config names.
func (c Capabilities) Names() []string {
	var names []string
	for i, n := range capNames {
		if c&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String is c's names joined by ", ", or "none".
func (c Capabilities) String() string {
	if c&capAll == 0 {
		return "none"
	}
	return strings.Join(c.Names(), ", ")
}

// The filters, as Rejection.Filter and Verdict.Filter name them.
const (
	FilterCapabilities = "capabilities"
	FilterTier         = "tier"
	FilterContext      = "context"
	FilterVariant      = "variant"
)

// NoCandidateError is returned by Plan when no deployment of the route can
// serve the request, whatever their load: too long for every context
// window, a capability or tier none has. Waiting will not help; the
// client should hear why at once.
type NoCandidateError struct {
	Route string
	// Rejected says, for each deployment of the route in order, why.
	Rejected []Rejection
}

// Rejection is why a filter left a deployment out.
type Rejection struct {
	Deployment string `json:"deployment"`
	// Filter is FilterCapabilities, FilterTier, FilterContext or
	// FilterVariant.
	Filter string `json:"filter"`
	Reason string `json:"reason"`
}

func (e *NoCandidateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "router: no deployment of route %q can serve this request", e.Route)
	for i, r := range e.Rejected {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, r.Deployment, r.Reason)
	}
	return b.String()
}

// Only reports whether every deployment was left out by the one filter:
// Only(FilterContext) means the request is too long for the route, and a
// route with larger windows may take it.
func (e *NoCandidateError) Only(filter string) bool {
	for _, r := range e.Rejected {
		if r.Filter != filter {
			return false
		}
	}
	return len(e.Rejected) > 0
}

// reason is a filter's verdict on one deployment: kept, or left out by
// one filter. It holds numbers rather than text so that Plan formats nothing;
// text describes it.
type reason struct {
	kind    filterKind
	missing Capabilities // capabilities
	exact   bool         // context: need came from ExactInput
	need    int          // context: tokens needed
	window  int
}

// filterKind names a filter in a byte, which keeps reason small: Plan
// builds one per deployment.
type filterKind uint8

const (
	kept filterKind = iota
	byCapabilities
	byTier
	byContext
	byVariant
)

// filter is the name of the filter that left the deployment out, or "".
func (r reason) filter() string {
	return [...]string{"", FilterCapabilities, FilterTier, FilterContext, FilterVariant}[r.kind]
}

// text says why the filter left d out of req's plan.
func (r reason) text(d *config.Deployment, req *Request) string {
	switch r.kind {
	case byCapabilities:
		return "lacks " + r.missing.String()
	case byTier:
		tier := "no tier"
		if req.Tier != "" {
			tier = fmt.Sprintf("tier %q", req.Tier)
		}
		return fmt.Sprintf("%s not served (tiers: %s)", tier, strings.Join(d.Tiers, ", "))
	case byContext:
		exact := ""
		if r.exact {
			exact = " (exact count)"
		}
		return fmt.Sprintf("needs %d tokens%s, window %d", r.need, exact, r.window)
	case byVariant:
		return "the prompt has no variant for " + d.Family + " and requires one"
	}
	return "kept"
}

// check runs every filter on d, the cheap ones first, and returns the
// first that leaves d out, or a kept reason.
func check(d *config.Deployment, caps Capabilities, req *Request, exact *exactCounts) reason {
	if r := capable(caps, req); r.kind != kept {
		return r
	}
	if r := allowed(d, req); r.kind != kept {
		return r
	}
	if req.Admit != nil && !req.Admit(d) {
		return reason{kind: byVariant}
	}
	return fits(d, req, exact)
}

// capable keeps a deployment that has every capability the request needs.
func capable(caps Capabilities, req *Request) reason {
	if missing := req.Needs &^ caps; missing != 0 {
		return reason{kind: byCapabilities, missing: missing}
	}
	return reason{}
}

// allowed keeps a deployment that serves the request's tier: one that
// lists no tiers serves all.
func allowed(d *config.Deployment, req *Request) reason {
	if len(d.Tiers) == 0 {
		return reason{}
	}
	for _, t := range d.Tiers {
		if t == req.Tier {
			return reason{}
		}
	}
	return reason{kind: byTier}
}

// fits keeps a deployment whose context window holds the request's input
// and output. Near the window (within 10% either way) an estimate can be
// wrong either way, so there the exact count decides when the request
// offers one. A deployment without a window fits everything.
func fits(d *config.Deployment, req *Request, exact *exactCounts) reason {
	w := d.ContextWindow
	need := req.InputTokens + req.OutputTokens
	if w <= 0 {
		return reason{}
	}
	counted := false
	if req.ExactInput != nil && 10*need >= 9*w && 10*need <= 11*w {
		family := d.Family
		if family == "" {
			family = d.Model
		}
		need = exact.count(family, req.ExactInput) + req.OutputTokens
		counted = true
	}
	if need > w {
		return reason{kind: byContext, need: need, window: w, exact: counted}
	}
	return reason{}
}

// exactCounts remembers ExactInput's answers during one Plan, so that
// deployments of one family cost one count. It lives on the caller's
// stack; past its size, counts are simply not remembered.
type exactCounts struct {
	n      int
	family [4]string
	tokens [4]int
}

func (e *exactCounts) count(family string, exact func(string) int) int {
	for i := range e.n {
		if e.family[i] == family {
			return e.tokens[i]
		}
	}
	n := exact(family)
	if e.n < len(e.family) {
		e.family[e.n], e.tokens[e.n] = family, n
		e.n++
	}
	return n
}
