package failover

import (
	"context"
	"time"
)

// Tried is what one try of a candidate came to, as the Attempter saw it.
type Tried struct {
	// Kind says how the try ended.
	Kind TryKind
	// Failure, with Kind Failed, classifies what went wrong.
	Failure Failure
	// Detail names the failure in the attempt log ("500", "timeout").
	Detail string
	// Stop, with Kind Failed: the route cannot serve this request (a
	// content filter or a context window refused it); leave it.
	Stop bool
	// Logged, with Kind Failed: the Attempter already logged how the try
	// ended (a stream cut, a held-back answer).
	Logged bool
}

// TryKind is how a try ended.
type TryKind uint8

// Try kinds.
const (
	// Skipped: the candidate was not tried (its circuit is open, it has no
	// headroom); not an attempt.
	Skipped TryKind = iota
	// Done: the client has its answer, good or bad.
	Done
	// Failed: the attempt failed; the rules say what follows.
	Failed
	// Reask: a post_call check asks for one more try of the same
	// deployment with its failure appended; not counted against
	// MaxAttempts.
	Reask
)

// Attempter tries candidates for a Pass. Try runs candidate i of the
// pass; again is true when it is the same deployment once more (a retry
// or a reask), which the Attempter may treat differently (no backoff
// between deployments, no new route attempt).
type Attempter interface {
	Try(ctx context.Context, i int, again bool) Tried
}

// Pass is one pass over a route's candidates: each is tried in order, at
// most MaxAttempts deployments (retries and reasks of a deployment do not
// count), skipping those already used; after a failure the Policy of the
// deployment decides whether it is tried again (after waiting) or the
// pass moves on. A Pass is used by one goroutine.
type Pass struct {
	// Candidates are the deployments in the order to try them.
	Candidates []string
	// MaxAttempts bounds the deployments tried on the route.
	MaxAttempts int
	// Attempted counts the deployments tried on the route, across passes
	// (a route is passed over again after waiting for capacity).
	Attempted *int
	// Used marks deployments already tried in this request (hedges take
	// candidates ahead of the order).
	Used map[string]bool
	// Retried counts each deployment's retries in this request.
	Retried map[string]int
	// Policy returns a deployment's retry settings.
	Policy func(deployment string) Policy
	// Rand returns a float in [0, 1) for the backoff jitter.
	Rand func() float64
	// Wait sleeps d unless ctx ends first (then it returns ctx's error).
	// Nil: a real timer.
	Wait func(ctx context.Context, d time.Duration) error
	// Log receives a "retried" or "failed" event per failed try.
	Log *Log
}

// Result is how a pass ended.
type Result uint8

// Pass results.
const (
	// Exhausted: no candidate served; the caller may wait for capacity
	// or try the fallbacks.
	Exhausted Result = iota
	// Served: a try was Done.
	Served
	// Left: the route gave up (Stop) and its fallbacks follow.
	Left
	// Gone: the client left (ctx ended).
	Gone
)

// Run makes the pass.
func (p *Pass) Run(ctx context.Context, a Attempter) Result {
	again := false
	for i := 0; i < len(p.Candidates); i++ {
		name := p.Candidates[i]
		if *p.Attempted >= p.MaxAttempts && !again {
			return Exhausted
		}
		if p.Used[name] && !again {
			continue
		}
		if ctx.Err() != nil {
			return Gone
		}
		t := a.Try(ctx, i, again)
		again = false
		switch t.Kind {
		case Skipped:
			continue
		case Done:
			return Served
		case Reask:
			again = true
			i--
			continue
		}
		retry, wait := p.decide(name, t)
		switch {
		case retry:
			p.Log.Add(Event{Deployment: name, What: "retried", Detail: t.Detail})
		case !t.Logged:
			p.Log.Add(Event{Deployment: name, What: "failed", Detail: t.Detail})
		}
		if t.Stop {
			return Left
		}
		if !retry {
			continue
		}
		if err := p.wait(ctx, wait); err != nil {
			return Gone
		}
		p.Retried[name]++
		again = true
		i--
	}
	return Exhausted
}

// decide applies the deployment's policy to a failed try.
func (p *Pass) decide(name string, t Tried) (retry bool, wait time.Duration) {
	if t.Stop {
		return false, 0
	}
	d := p.Policy(name).Decide(t.Failure, p.Retried[name], p.Rand)
	return d.Action == Same, d.Wait
}

func (p *Pass) wait(ctx context.Context, d time.Duration) error {
	if p.Wait != nil {
		return p.Wait(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d unless ctx ends first, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
