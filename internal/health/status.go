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
	// NextProbeAt is when the deployment next admits a probe: the end of
	// the opening while open, now while half-open with a probe slot free,
	// or the end of the cooldown if that is later; zero while closed or
	// while every probe slot is taken (the probes' outcomes decide).
	NextProbeAt time.Time `json:"next_probe_at,omitzero"`
	// OpenLeftMS is how long an open circuit stays open; OpenForMS is how
	// long it was opened for (this opening, jitter included; 0 when
	// closed).
	OpenLeftMS int64 `json:"open_left_ms"`
	OpenForMS  int64 `json:"open_for_ms"`
	// IntervalMS is the current outage's open interval before jitter:
	// OpenFor doubled once per flap, up to MaxOpenFor (0 when closed).
	// Flaps is that back-off step: one more than the previous outage's
	// for an outage that began less than FlapWindow after the last close,
	// 0 for any other (and when closed). FailedProbes counts the failed
	// probes of the current outage.
	IntervalMS   int64 `json:"interval_ms"`
	Flaps        int   `json:"flaps"`
	FailedProbes int   `json:"failed_probes"`
	// Outages counts the times the circuit opened from closed, ever;
	// ClosedAt is when the last outage ended (zero if none has).
	Outages  int       `json:"outages"`
	ClosedAt time.Time `json:"closed_at,omitzero"`

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
	if st.NextProbeAt = b.nextProbe(now, c); !st.NextProbeAt.IsZero() && d.coolUntil.After(st.NextProbeAt) {
		st.NextProbeAt = d.coolUntil
	}
	st.OpenLeftMS = b.openLeft(now).Milliseconds()
	st.OpenForMS = b.openFor.Milliseconds()
	if b.state != Closed {
		st.IntervalMS = b.interval.Milliseconds()
		st.Flaps = b.flaps
		st.FailedProbes = b.failedProbes
	}
	st.Outages, st.ClosedAt = b.outages, b.closedAt
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
