package config

import "time"

// Timeouts bound one upstream attempt. Zero means no bound. A route's
// timeouts apply to all its deployments; a deployment's non-zero values
// override them.
type Timeouts struct {
	// Connect bounds establishing a new connection to the provider.
	Connect time.Duration `yaml:"connect"`
	// FirstToken bounds the time from sending to the first streamed event
	// (or, for a non-streamed request, the response headers). When it
	// fires nothing has reached the client yet, so the request moves on to
	// the next candidate.
	FirstToken time.Duration `yaml:"first_token"`
	// ChunkGap bounds the silence between two streamed events.
	ChunkGap time.Duration `yaml:"chunk_gap"`
	// Total bounds the whole attempt.
	Total time.Duration `yaml:"total"`
}

// Merge returns t with o's non-zero values taking precedence.
func (t Timeouts) Merge(o Timeouts) Timeouts {
	if o.Connect > 0 {
		t.Connect = o.Connect
	}
	if o.FirstToken > 0 {
		t.FirstToken = o.FirstToken
	}
	if o.ChunkGap > 0 {
		t.ChunkGap = o.ChunkGap
	}
	if o.Total > 0 {
		t.Total = o.Total
	}
	return t
}

// Hedge configures hedged requests on a route.
type Hedge struct {
	// After is how long to wait for the first token before hedging. With
	// P95 it is used until a deployment has enough samples, and it caps
	// the wait for a deployment in trouble (its last outcome failed, or
	// another request to it is late right now).
	After time.Duration `yaml:"after"`
	// P95 waits for the deployment's own 95th-percentile time to first
	// token instead, once it has samples.
	P95 bool `yaml:"p95"`
	// Budget caps hedges at this fraction of the route's requests over a
	// sliding minute (0.1 = at most 10% extra upstream requests). Routine
	// hedges use at most half of it, so the rest is there to rescue
	// requests stuck on a deployment in trouble.
	Budget float64 `yaml:"budget"`
}
