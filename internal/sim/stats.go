package sim

import "sync/atomic"

// Stats is a snapshot of what the simulator served, per key and in total.
// It encodes as the JSON of GET /sim/stats.
type Stats struct {
	Keys   map[string]KeyStats `json:"keys"`
	Totals KeyStats            `json:"totals"`
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

// Stats returns a snapshot of the counters. Each counter is read
// atomically; the snapshot as a whole is not, while requests are running.
func (s *Server) Stats() Stats {
	st := Stats{Keys: make(map[string]KeyStats, len(s.keys)), Unauthorized: s.unauthorized.Load()}
	for k, ks := range s.keys {
		snap := ks.stats.snapshot()
		st.Keys[k] = snap
		st.Totals.add(snap)
	}
	return st
}
