package health

import "time"

// Status is one deployment's health for the admin API and metrics.
// Durations are in milliseconds.
type Status struct {
	State     State `json:"state"`
	Available bool  `json:"available"`
	// OpenedAt is when the circuit last opened, while it is open or
	// half-open.
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// OpenLeftMS is how long an open circuit stays open; OpenForMS is how
	// long it was opened for (the current backoff; 0 when closed).
	OpenLeftMS int64 `json:"open_left_ms"`
	OpenForMS  int64 `json:"open_for_ms"`
	CooldownMS int64 `json:"cooldown_ms"`

	ConsecutiveFailures int `json:"consecutive_failures"`
	// WindowRequests and WindowErrors count the outcomes in the error-rate
	// window (only while closed are outcomes added to it); ErrorRate is
	// their ratio, 0 for an empty window.
	WindowRequests int     `json:"window_requests"`
	WindowErrors   int     `json:"window_errors"`
	ErrorRate      float64 `json:"error_rate"`
	ProbesInFlight int     `json:"probes_in_flight"`

	TTFTSamples int     `json:"ttft_samples"`
	TTFTEWMAMS  float64 `json:"ttft_ewma_ms"`
	TTFTP50MS   float64 `json:"ttft_p50_ms"`
	TTFTP95MS   float64 `json:"ttft_p95_ms"`
	TTFTP99MS   float64 `json:"ttft_p99_ms"`
}

// Snapshot returns name's health now. A deployment the Tracker has not
// heard of is closed and available.
func (t *Tracker) Snapshot(name string) Status {
	st := Status{State: Closed, Available: true}
	d := t.lookup(name)
	if d == nil {
		return st
	}
	now := t.now()
	d.mu.Lock()
	c := t.conf(d)
	b := &d.brk
	b.advance(now, c)
	st.State = b.state
	st.Available = !now.Before(d.coolUntil) && b.admits(c)
	st.OpenedAt = b.openedAt
	st.OpenLeftMS = b.openLeft(now).Milliseconds()
	st.OpenForMS = b.openFor.Milliseconds()
	st.CooldownMS = max(d.coolUntil.Sub(now), 0).Milliseconds()
	st.ConsecutiveFailures = d.failures
	st.WindowRequests, st.WindowErrors = b.win.counts(now)
	st.ProbesInFlight = len(b.probes)
	d.mu.Unlock()

	if st.WindowRequests > 0 {
		st.ErrorRate = float64(st.WindowErrors) / float64(st.WindowRequests)
	}
	lat := t.TTFT(name)
	st.TTFTSamples = lat.Samples
	st.TTFTEWMAMS = ms(lat.EWMA)
	st.TTFTP50MS, st.TTFTP95MS, st.TTFTP99MS = ms(lat.P50), ms(lat.P95), ms(lat.P99)
	return st
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
