package router

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// Strategy orders the candidates that passed the filters.
//
// Order gets cands in route order (by Index) and sorts them in place, best
// first; it must neither add nor drop any, and must be safe for
// concurrent use. It may keep a turn counter, nothing else: health and
// load come in through the candidates.
type Strategy interface {
	Order(cands []Candidate, req Request)
}

// Candidate is a deployment that passed the filters, with what the
// strategies order by.
type Candidate struct {
	Deployment *config.Deployment
	// Index is the deployment's place in the route, from 0.
	Index int
	// Headroom is the fraction (0..1) of the deployment's tightest
	// rate-limit bucket left, from Router.Headroom.
	Headroom float64

	ttft      time.Duration // latency strategy scratch: the EWMA ...
	sampled   bool          // ... when there is one
	available bool          // not cooling down: set by Plan, used after Order
}

// hasRoom reports whether c has any headroom left.
func (c *Candidate) hasRoom() bool { return c.Headroom > 0 }

var (
	_ Strategy = (*roundRobin)(nil)
	_ Strategy = priority{}
	_ Strategy = weighted{}
	_ Strategy = (*leastUtilized)(nil)
	_ Strategy = (*fastest)(nil)
	_ Strategy = (*cheapest)(nil)
)

// turns hands out rotating starting points along a route, so that
// deployments a strategy finds equal share the traffic instead of the
// first always winning.
type turns struct {
	n    int // deployments in the route
	next atomic.Uint64
}

// start returns this Order's starting point, one further than the last.
func (t *turns) start() int {
	return int((t.next.Add(1) - 1) % uint64(max(t.n, 1)))
}

// rotate turns cands, in route order, to begin at this Order's starting
// point: a stable sort after it leaves equals in turn.
func (t *turns) rotate(cands []Candidate) {
	start := t.start()
	i := 0
	for i < len(cands) && cands[i].Index < start {
		i++
	}
	slices.Reverse(cands[:i])
	slices.Reverse(cands[i:])
	slices.Reverse(cands)
}

// roundRobin takes the route's deployments in turn, starting one further
// on each Order. It ignores headroom: the baseline.
type roundRobin struct{ turns }

func (s *roundRobin) Order(cands []Candidate, _ Request) { s.rotate(cands) }

// priority keeps the route's order but spills: deployments with headroom
// come before those without.
type priority struct{}

func (priority) Order(cands []Candidate, _ Request) {
	slices.SortStableFunc(cands, byRoom)
}

// byRoom orders candidates with headroom before those without.
func byRoom(a, b Candidate) int { return cmpTrueFirst(a.hasRoom(), b.hasRoom()) }

// weighted draws the order at random, each deployment coming next with
// probability proportional to its weight, among those with headroom and
// then among those without. Weight 0 deployments follow the weighted ones
// in route order.
type weighted struct {
	rand func(n int) int // in [0, n)
}

func (s weighted) Order(cands []Candidate, _ Request) {
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		if c := byRoom(a, b); c != 0 {
			return c
		}
		return cmpTrueFirst(weight(&a) > 0, weight(&b) > 0)
	})
	k := countRoom(cands)
	s.draw(cands[:k])
	s.draw(cands[k:])
}

// draw orders g's weighted prefix at random by weight, without
// replacement; the rest keeps its order.
func (s weighted) draw(g []Candidate) {
	total := 0
	for i := range g {
		total += weight(&g[i])
	}
	for i := 0; i < len(g) && total > 0; i++ {
		x := s.rand(total)
		j := i
		for ; x >= weight(&g[j]); j++ {
			x -= weight(&g[j])
		}
		total -= weight(&g[j])
		moveTo(g, j, i)
	}
}

func weight(c *Candidate) int { return max(c.Deployment.Weight, 0) }

// leastUtilized puts the most headroom first, equals in turn.
type leastUtilized struct{ turns }

func (s *leastUtilized) Order(cands []Candidate, _ Request) {
	s.rotate(cands)
	slices.SortStableFunc(cands, func(a, b Candidate) int { return cmpMoreFirst(a.Headroom, b.Headroom) })
}

// fastest orders by time to first token with the power of two choices:
// each place goes to the better of two candidates picked at random, so
// the fast deployments get most traffic without a stampede onto one.
// Candidates without samples come first (most headroom first, equals in
// turn) so that they get measured; all of it among those with headroom,
// then among those without.
type fastest struct {
	latency func(name string) (time.Duration, bool)
	rand    func(n int) int // in [0, n)
	turns
}

func (s *fastest) Order(cands []Candidate, _ Request) {
	for i := range cands {
		c := &cands[i]
		c.ttft, c.sampled = s.latency(c.Deployment.Name)
	}
	s.rotate(cands)
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		if c := byRoom(a, b); c != 0 {
			return c
		}
		if c := cmpTrueFirst(!a.sampled, !b.sampled); c != 0 {
			return c
		}
		return cmpMoreFirst(a.Headroom, b.Headroom)
	})
	k := countRoom(cands)
	s.twoChoices(cands[:k])
	s.twoChoices(cands[k:])
}

// twoChoices orders g's sampled suffix: each place goes to the faster of
// two random picks among the rest (on a tie, the one with more headroom).
func (s *fastest) twoChoices(g []Candidate) {
	i := 0
	for i < len(g) && !g[i].sampled {
		i++
	}
	for ; len(g)-i >= 2; i++ {
		n := len(g) - i
		a := i + s.rand(n)
		b := i + s.rand(n-1)
		if b >= a {
			b++
		}
		if faster(&g[b], &g[a]) {
			a = b
		}
		moveTo(g, a, i)
	}
}

// faster reports whether a should go before b.
func faster(a, b *Candidate) bool {
	if a.ttft != b.ttft {
		return a.ttft < b.ttft
	}
	return a.Headroom > b.Headroom
}

// cheapest puts the lowest price for the request first, among those with
// headroom and then among those without; equals by headroom, then in turn.
type cheapest struct{ turns }

func (s *cheapest) Order(cands []Candidate, req Request) {
	s.rotate(cands)
	slices.SortStableFunc(cands, func(a, b Candidate) int {
		if c := byRoom(a, b); c != 0 {
			return c
		}
		if c := cmp.Compare(price(a.Deployment, req), price(b.Deployment, req)); c != 0 {
			return c
		}
		return cmpMoreFirst(a.Headroom, b.Headroom)
	})
}

// price is what req costs on d in US dollars: the configured prices per
// 1M tokens weighted by the request's input and output. A request with no
// token counts weighs the two prices equally.
func price(d *config.Deployment, req Request) float64 {
	in, out := float64(req.InputTokens), float64(req.OutputTokens)
	if in == 0 && out == 0 {
		in, out = 1, 1
	}
	return (d.Price.Input*in + d.Price.Output*out) / 1e6
}

// countRoom counts the candidates with headroom, which the strategies
// have sorted first.
func countRoom(cands []Candidate) int {
	k := 0
	for k < len(cands) && cands[k].hasRoom() {
		k++
	}
	return k
}

// moveTo moves g[from] to g[to] (to <= from), shifting those between one
// place on: the others keep their order.
func moveTo(g []Candidate, from, to int) {
	c := g[from]
	copy(g[to+1:from+1], g[to:from])
	g[to] = c
}
