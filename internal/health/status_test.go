package health

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSnapshot(t *testing.T) {
	c := newClock()
	tr := newTracker(c)
	if got, want := tr.Snapshot("nobody"), (Status{State: Closed, Available: true}); got != want {
		t.Fatalf("unknown: %+v, want %+v", got, want)
	}

	play(t, tr, c, "a", "ssssss +1s ffff")
	tr.ObserveTTFT("a", 1500*time.Millisecond)
	tr.ObserveTTFT("a", 2500*time.Millisecond)
	st := tr.Snapshot("a")
	want := Status{State: Closed, Available: true, ConsecutiveFailures: 4, WindowRequests: 10, WindowErrors: 4, ErrorRate: 0.4, TTFTSamples: 2, TTFTEWMAMS: 2000}
	st.TTFTP50MS, st.TTFTP95MS, st.TTFTP99MS = 0, 0, 0 // checked in ttft_test
	if st != want {
		t.Fatalf("closed: %+v\nwant %+v", st, want)
	}

	tr.Failure("a", 20*time.Second) // the 5th in a row opens the circuit
	opened := c.Now()
	c.Advance(2 * time.Second)
	st = tr.Snapshot("a")
	if st.State != Open || st.Available || st.OpenLeftMS != 3000 || st.OpenForMS != 5000 || st.CooldownMS != 18_000 || !st.OpenedAt.Equal(opened) ||
		st.IntervalMS != 5000 || st.Flaps != 0 || st.Outages != 1 || !st.ClosedAt.IsZero() {
		t.Fatalf("open: %+v", st)
	}
	if want := opened.Add(20 * time.Second); !st.NextProbeAt.Equal(want) {
		t.Fatalf("NextProbeAt = %v, want the end of the cooldown %v", st.NextProbeAt, want)
	}

	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"state":"open"`, `"available":false`, `"opened_at":"`, `"next_probe_at":"`, `"open_left_ms":3000`, `"cooldown_ms":18000`,
		`"interval_ms":5000`, `"flaps":0`, `"failed_probes":0`, `"outages":1`,
		`"consecutive_failures":5`, `"window_requests":11`, `"window_errors":5`, `"probes_in_flight":0`, `"ttft_samples":2`, `"ttft_ewma_ms":2000`, `"ttft_p95_ms":`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s: %s", field, b)
		}
	}
	b, _ = json.Marshal(tr.Snapshot("nobody"))
	for _, field := range []string{"opened_at", "next_probe_at", "closed_at"} {
		if strings.Contains(string(b), field) {
			t.Errorf("closed circuit shows %s: %s", field, b)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", Open: "open", HalfOpen: "half-open", 9: "State(9)"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", s, s.String(), want)
		}
	}
}
