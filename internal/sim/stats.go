package sim

import (
	"encoding/json"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of what the simulator served, per key, per model
// and in total. It encodes as the JSON of GET /sim/stats.
type Stats struct {
	Keys   map[string]KeyStats `json:"keys"`
	Totals KeyStats            `json:"totals"`
	// Models is what the provider saw per model: the requests that
	// reached generation, with when each arrived. See ModelStats.
	Models map[string]ModelStats `json:"models"`
	// Unauthorized counts requests refused with 401: unknown keys, missing
	// keys and keys used on another provider's surface.
	Unauthorized int64 `json:"unauthorized"`
}

// KeyStats counts one key's requests. Requests = OK + RateLimited + Errors
// once every request has finished. Tokens are counted for the requests
// that were served, output tokens as far as a cut stream got.
type KeyStats struct {
	Requests     int64 `json:"requests"`
	OK           int64 `json:"ok"`
	RateLimited  int64 `json:"rate_limited"` // 429s sent, by the limiter or a status fault
	Errors       int64 `json:"errors"`       // other error statuses, faults, client cancels
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// AdmittedTokens are the tokens charged at arrival against the token
	// limit checked there: TPM on OpenAI and Azure (the prompt estimate
	// plus n × max output, never refunded), ITPM on Anthropic (the
	// prompt). Unlike InputTokens it is counted when a request is
	// admitted, not when it ends, so it is current while requests run.
	AdmittedTokens int64 `json:"admitted_tokens"`
}

// counters are a key's live counts.
type counters struct {
	requests, ok, rateLimited, errors, input, output, admitted atomic.Int64
}

func (c *counters) snapshot() KeyStats {
	return KeyStats{
		Requests:       c.requests.Load(),
		OK:             c.ok.Load(),
		RateLimited:    c.rateLimited.Load(),
		Errors:         c.errors.Load(),
		InputTokens:    c.input.Load(),
		OutputTokens:   c.output.Load(),
		AdmittedTokens: c.admitted.Load(),
	}
}

func (t *KeyStats) add(k KeyStats) {
	t.Requests += k.Requests
	t.OK += k.OK
	t.RateLimited += k.RateLimited
	t.Errors += k.Errors
	t.InputTokens += k.InputTokens
	t.OutputTokens += k.OutputTokens
	t.AdmittedTokens += k.AdmittedTokens
}

// maxArrivals is how many arrival times a model keeps: the latest ones.
const maxArrivals = 1024

// ModelStats is what the simulator saw of one model (on Azure, one
// deployment name): every authenticated request whose body was valid,
// counted before the rate limits and faults act, so a test can assert
// how many attempts a gateway made and the gaps between them.
// count_tokens calls, 401s and requests refused as malformed are not
// counted.
type ModelStats struct {
	Requests int64 `json:"requests"`
	// Faults counts the requests a fault was applied to.
	Faults int64 `json:"faults"`
	// Arrivals are when the requests arrived, as offsets from the
	// server's creation on its clock (Config.Now), oldest first: all of
	// them up to the latest 1024. In JSON: arrivals_ms, in milliseconds.
	Arrivals []time.Duration `json:"-"`
}

// MarshalJSON adds arrivals_ms, the arrival offsets in milliseconds.
func (m ModelStats) MarshalJSON() ([]byte, error) {
	type plain ModelStats
	ms := make([]float64, len(m.Arrivals))
	for i, d := range m.Arrivals {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	return json.Marshal(struct {
		plain
		ArrivalsMS []float64 `json:"arrivals_ms"`
	}{plain(m), ms})
}

// modelCounts are one model's live counts; Server.modelMu guards them.
type modelCounts struct {
	requests, faults int64
	arrivals         []time.Duration // a ring of the latest maxArrivals
}

func (m *modelCounts) snapshot() ModelStats {
	st := ModelStats{Requests: m.requests, Faults: m.faults, Arrivals: make([]time.Duration, 0, len(m.arrivals))}
	next := int(m.requests % maxArrivals) // the oldest once the ring is full
	if m.requests <= maxArrivals {
		next = 0
	}
	st.Arrivals = append(st.Arrivals, m.arrivals[next:]...)
	st.Arrivals = append(st.Arrivals, m.arrivals[:next]...)
	return st
}

// arrive counts a request for model that arrived at t and returns its
// counts, for countFault.
func (s *Server) arrive(model string, t time.Time) *modelCounts {
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	m := s.perModel[model]
	if m == nil {
		m = &modelCounts{}
		s.perModel[model] = m
	}
	at := t.Sub(s.started)
	if len(m.arrivals) < maxArrivals {
		m.arrivals = append(m.arrivals, at)
	} else {
		m.arrivals[m.requests%maxArrivals] = at
	}
	m.requests++
	return m
}

func (s *Server) countFault(m *modelCounts) {
	s.modelMu.Lock()
	m.faults++
	s.modelMu.Unlock()
}

// Stats returns a snapshot of the counters. Each counter is read
// atomically; the snapshot as a whole is not, while requests are running.
func (s *Server) Stats() Stats {
	st := Stats{Keys: make(map[string]KeyStats, len(s.keys)), Unauthorized: s.unauthorized.Load()}
	for k, ks := range s.keys {
		snap := ks.stats.snapshot()
		st.Keys[k] = snap
		st.Totals.add(snap)
	}
	s.modelMu.Lock()
	defer s.modelMu.Unlock()
	st.Models = make(map[string]ModelStats, len(s.perModel))
	for name, m := range s.perModel {
		st.Models[name] = m.snapshot()
	}
	return st
}
