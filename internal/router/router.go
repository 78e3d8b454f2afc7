// Package router plans where a request goes: for a route (what the client
// wrote in model) it returns the ordered deployments to try.
//
// Plan filters and orders; it never sends and never formats HTTP. The
// gateway walks the plan, one attempt per candidate, and reports each
// outcome back through the health tracker the router reads. For now the
// only strategy is round-robin among available deployments, with
// deployments in cooldown moved to the end (tried only when nothing else
// is left). Filters for context fit, tier and headroom, the other
// strategies and degradation chains slot in here.
package router

import (
	"fmt"
	"sync/atomic"

	"github.com/llmux/llmux/internal/config"
)

// Availability says whether a deployment may get traffic now.
// *health.Tracker implements it.
type Availability interface {
	Available(deployment string) bool
}

// Router is safe for concurrent use.
type Router struct {
	routes map[string]*route
	health Availability
}

type route struct {
	cfg         config.Route
	deployments []*config.Deployment
	next        atomic.Uint64
}

// Request is what the router needs to know about a request.
type Request struct {
	// Route is the client's model field.
	Route string
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

// New builds a router over a validated config.
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
			rt.deployments = append(rt.deployments, d)
		}
		r.routes[rc.Name] = rt
	}
	return r, nil
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

// Plan returns the candidates for req: round-robin order starting one
// further on each call, available deployments first.
func (r *Router) Plan(req Request) (*Plan, error) {
	rt, ok := r.routes[req.Route]
	if !ok {
		return nil, &ErrUnknownRoute{Route: req.Route}
	}
	n := len(rt.deployments)
	start := int(rt.next.Add(1)-1) % n
	cands := make([]*config.Deployment, 0, n)
	var cooling []*config.Deployment
	for i := 0; i < n; i++ {
		d := rt.deployments[(start+i)%n]
		if r.health.Available(d.Name) {
			cands = append(cands, d)
		} else {
			cooling = append(cooling, d)
		}
	}
	cands = append(cands, cooling...)
	maxAttempts := rt.cfg.MaxAttempts
	if maxAttempts <= 0 || maxAttempts > n {
		maxAttempts = n
	}
	return &Plan{Route: req.Route, Candidates: cands, MaxAttempts: maxAttempts}, nil
}
