package router

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// Availability says whether a deployment may get traffic now.
// *health.Tracker implements it.
type Availability interface {
	Available(deployment string) bool
}

// Headroom says how much of a deployment's rate limits is left: the
// fraction, 0..1, of its tightest bucket (requests or tokens) that is
// available now; 1 for a deployment without limits. Strategies order by
// it; a deployment at 0 is still planned, since the limiter's Reserve
// decides and the request may wait for it. The gateway adapts the
// limiter's State to it.
type Headroom interface {
	Headroom(dep *config.Deployment) float64
}

// Latency reports a deployment's time-to-first-token average (an EWMA);
// ok is false while it has no samples.
type Latency interface {
	Latency(deployment string) (ewma time.Duration, ok bool)
}

// Router plans requests over a config's routes. Its exported fields are
// optional; set them before the first Plan and do not change them after.
// Router is safe for concurrent use.
type Router struct {
	// Headroom tells strategies how much of each deployment's limits is
	// left. nil: every deployment has full headroom.
	Headroom Headroom
	// Latency gives the latency strategy its time-to-first-token averages.
	// nil: no samples (the strategy then orders by headroom).
	Latency Latency
	// Rand returns a pseudo-random int in [0, n) for the weighted and
	// latency strategies; it must be safe for concurrent use. nil:
	// math/rand/v2's IntN.
	Rand func(n int) int

	routes map[string]*route
	health Availability
}

type route struct {
	cfg         config.Route
	deployments []*config.Deployment
	caps        []Capabilities // parallel to deployments
	strategy    Strategy
}

// Request is what the router needs to know about a request.
type Request struct {
	// Route is the client's model field.
	Route string
	// InputTokens is the estimated prompt size in tokens; 0 if unknown.
	InputTokens int
	// OutputTokens is the output the request asks for (its max tokens); 0
	// if it sets none.
	OutputTokens int
	// ExactInput, if set, counts the prompt exactly with the tokenizer of
	// a model family. The context filter calls it only when the estimate
	// is within 10% of a deployment's window, at most once per family per
	// Plan.
	ExactInput func(family string) int
	// Needs are the capabilities the request uses.
	Needs Capabilities
	// Tier is the client key's tier; empty for a key without one.
	Tier string
	// Admit, if set, leaves out deployments it returns false for: a
	// prompt with require_variant and no variant for the deployment's
	// model.
	Admit func(d *config.Deployment) bool
}

// Plan is the ordered list of candidates for one request.
type Plan struct {
	Route      string
	Candidates []*config.Deployment
	// MaxAttempts bounds how many candidates are tried.
	MaxAttempts int
}

// ErrUnknownRoute is returned by Plan for a route that does not exist.
type ErrUnknownRoute struct{ Route string }

func (e *ErrUnknownRoute) Error() string { return fmt.Sprintf("router: unknown route %q", e.Route) }

// New builds a router over a validated config. A route without a strategy
// (a config built in code) is round-robin; a nil health means every
// deployment is available.
func New(cfg *config.Config, health Availability) (*Router, error) {
	deps := make(map[string]*config.Deployment, len(cfg.Deployments))
	for i := range cfg.Deployments {
		deps[cfg.Deployments[i].Name] = &cfg.Deployments[i]
	}
	r := &Router{routes: make(map[string]*route, len(cfg.Routes)), health: health}
	for _, rc := range cfg.Routes {
		rt := &route{cfg: rc}
		for _, name := range rc.Deployments {
			d, ok := deps[name]
			if !ok {
				return nil, fmt.Errorf("router: route %q: unknown deployment %q", rc.Name, name)
			}
			caps, err := parseCapabilities(d.Capabilities)
			if err != nil {
				return nil, fmt.Errorf("router: deployment %q: %w", d.Name, err)
			}
			rt.deployments = append(rt.deployments, d)
			rt.caps = append(rt.caps, caps)
		}
		s, err := r.newStrategy(rc.Strategy, len(rt.deployments))
		if err != nil {
			return nil, fmt.Errorf("router: route %q: %w", rc.Name, err)
		}
		rt.strategy = s
		r.routes[rc.Name] = rt
	}
	return r, nil
}

// newStrategy returns the named strategy for a route of n deployments.
func (r *Router) newStrategy(name string, n int) (Strategy, error) {
	switch name {
	case config.StrategyRoundRobin, "":
		return &roundRobin{turns: turns{n: n}}, nil
	case config.StrategyPriority:
		return priority{}, nil
	case config.StrategyWeighted:
		return weighted{rand: r.intn}, nil
	case config.StrategyLeastUtilized:
		return &leastUtilized{turns: turns{n: n}}, nil
	case config.StrategyLatency:
		return &fastest{latency: r.latency, rand: r.intn, turns: turns{n: n}}, nil
	case config.StrategyCost:
		return &cheapest{turns: turns{n: n}}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", name)
}

// intn and latency read the optional fields when called, so they may be
// set after New.
func (r *Router) intn(n int) int {
	if r.Rand != nil {
		return r.Rand(n)
	}
	return rand.IntN(n)
}

func (r *Router) latency(name string) (time.Duration, bool) {
	if r.Latency == nil {
		return 0, false
	}
	return r.Latency.Latency(name)
}

func (r *Router) headroom(d *config.Deployment) float64 {
	if r.Headroom == nil {
		return 1
	}
	return r.Headroom.Headroom(d)
}

func (r *Router) available(d *config.Deployment) bool {
	return r.health == nil || r.health.Available(d.Name)
}

// Has reports whether a route exists.
func (r *Router) Has(name string) bool {
	_, ok := r.routes[name]
	return ok
}

// Route returns a route's deployments (in configured order).
func (r *Router) Route(name string) ([]*config.Deployment, bool) {
	rt, ok := r.routes[name]
	if !ok {
		return nil, false
	}
	return rt.deployments, true
}

// Plan returns the candidates for req: the route's deployments that pass
// the filters, in the order of the route's strategy, with unavailable
// ones last. When no deployment passes, the error is a *NoCandidateError.
func (r *Router) Plan(req Request) (*Plan, error) {
	rt, ok := r.routes[req.Route]
	if !ok {
		return nil, &ErrUnknownRoute{Route: req.Route}
	}
	p := newPlan(req.Route, len(rt.deployments))
	var buf [smallRoute]Candidate // the strategy's scratch space, on the stack
	var exact exactCounts
	cands, err := r.plan(rt, req, buf[:0], &exact)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		p.Candidates = append(p.Candidates, c.Deployment)
	}
	p.MaxAttempts = maxAttempts(rt.cfg.MaxAttempts, len(cands))
	return p, nil
}

// plan filters rt's deployments into cands and orders them.
func (r *Router) plan(rt *route, req Request, cands []Candidate, exact *exactCounts) ([]Candidate, error) {
	cands = r.candidates(rt, req, cands, exact)
	if len(cands) == 0 {
		return nil, rt.noCandidate(req, exact)
	}
	rt.order(cands, req)
	return cands, nil
}

// smallRoute is the most deployments a route may have for its Plan to
// come in one allocation, and its strategy to work on the stack only.
const smallRoute = 8

// planSpace is a Plan with room for a small route's candidates, so that
// the two come in one allocation.
type planSpace struct {
	plan Plan
	deps [smallRoute]*config.Deployment
}

// newPlan returns an empty plan with room for n candidates.
func newPlan(route string, n int) *Plan {
	if n > smallRoute {
		return &Plan{Route: route, Candidates: make([]*config.Deployment, 0, n)}
	}
	s := &planSpace{plan: Plan{Route: route}}
	s.plan.Candidates = s.deps[:0:n]
	return &s.plan
}

// candidates appends to cands the route's deployments that pass every
// filter, in route order.
func (r *Router) candidates(rt *route, req Request, cands []Candidate, exact *exactCounts) []Candidate {
	for i, d := range rt.deployments {
		if check(d, rt.caps[i], &req, exact).kind != kept {
			continue
		}
		cands = append(cands, Candidate{Deployment: d, Index: i, Headroom: r.headroom(d), available: r.available(d)})
	}
	return cands
}

// order applies the route's strategy, then moves unavailable candidates
// last, keeping the strategy's order within each group.
//
// The strategy is called on its concrete type, not through the Strategy
// interface: a call through an interface lets cands escape, which would
// move Plan's scratch array to the heap (BenchmarkPlan: two allocations
// instead of one and about 1.5x the time). newStrategy makes only these.
func (rt *route) order(cands []Candidate, req Request) {
	switch s := rt.strategy.(type) {
	case *roundRobin:
		s.Order(cands, req)
	case priority:
		s.Order(cands, req)
	case weighted:
		s.Order(cands, req)
	case *leastUtilized:
		s.Order(cands, req)
	case *fastest:
		s.Order(cands, req)
	case *cheapest:
		s.Order(cands, req)
	default:
		panic(fmt.Sprintf("router: strategy %T is missing from route.order", s))
	}
	k := 0
	for i := range cands {
		if cands[i].available {
			moveTo(cands, i, k)
			k++
		}
	}
}

// noCandidate explains why no deployment passed the filters.
func (rt *route) noCandidate(req Request, exact *exactCounts) *NoCandidateError {
	e := &NoCandidateError{Route: rt.cfg.Name}
	for i, d := range rt.deployments {
		why := check(d, rt.caps[i], &req, exact)
		e.Rejected = append(e.Rejected, Rejection{Deployment: d.Name, Filter: why.filter(), Reason: why.text(d, &req)})
	}
	return e
}

// maxAttempts is the route's bound, at most one attempt per candidate.
func maxAttempts(configured, candidates int) int {
	if configured <= 0 || configured > candidates {
		return candidates
	}
	return configured
}

// cmpTrueFirst orders true before false.
func cmpTrueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// cmpMoreFirst orders larger values first.
func cmpMoreFirst[T cmp.Ordered](a, b T) int { return cmp.Compare(b, a) }
