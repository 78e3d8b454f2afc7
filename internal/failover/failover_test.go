package failover

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	p := Policy{Retries: 1, RetryAfterMax: 5 * time.Second, Backoff: 500 * time.Millisecond}
	half := func() float64 { return 0.5 } // jitter factor 0.75
	tests := []struct {
		name    string
		f       Failure
		retried int
		policy  Policy
		want    Decision
	}{
		{"429 short retry-after waits it out", Failure{Kind: RateLimited, RetryAfter: 2 * time.Second}, 0, p, Decision{Same, 2 * time.Second}},
		{"429 retry-after at the bound", Failure{Kind: RateLimited, RetryAfter: 5 * time.Second}, 0, p, Decision{Same, 5 * time.Second}},
		{"429 long retry-after moves on", Failure{Kind: RateLimited, RetryAfter: 6 * time.Second}, 0, p, Decision{Action: Next}},
		{"429 without retry-after moves on", Failure{Kind: RateLimited}, 0, p, Decision{Action: Next}},
		{"429 after the retries", Failure{Kind: RateLimited, RetryAfter: time.Second}, 1, p, Decision{Action: Next}},
		{"500 once is retried after backoff", Failure{Kind: Server}, 0, p, Decision{Same, 375 * time.Millisecond}},
		{"500 twice moves on", Failure{Kind: Server}, 1, p, Decision{Action: Next}},
		{"second retry doubles the backoff", Failure{Kind: Transport}, 1, Policy{Retries: 2, Backoff: 500 * time.Millisecond}, Decision{Same, 750 * time.Millisecond}},
		{"backoff is capped", Failure{Kind: Server}, 9, Policy{Retries: 10, Backoff: time.Second}, Decision{Same, 1500 * time.Millisecond}},
		{"a first-token timeout moves on", Failure{Kind: Timeout}, 0, p, Decision{Action: Next}},
		{"no backoff configured uses the floor", Failure{Kind: Transport}, 0, Policy{Retries: 1}, Decision{Same, 75 * time.Millisecond}},
		{"retries off", Failure{Kind: Server}, 0, Policy{}, Decision{Action: Next}},
		{"context length leaves the route", Failure{Kind: ContextLength}, 0, p, Decision{Action: LeaveRoute}},
		{"other 4xx is the client's", Failure{Kind: Client}, 0, p, Decision{Action: Stop}},
		{"account failure moves on", Failure{Kind: Account}, 0, p, Decision{Action: Next}},
		{"prefill rejected retries without", Failure{Kind: PrefillRejected}, 1, p, Decision{Action: Same}},
		{"after the first byte: continue", Failure{Kind: Server, Streaming: true}, 0, p, Decision{Action: Continue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Decide(tt.f, tt.retried, half); got != tt.want {
				t.Errorf("Decide(%+v, %d) = %v %v, want %v %v", tt.f, tt.retried, got.Action, got.Wait, tt.want.Action, tt.want.Wait)
			}
		})
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	p := Policy{Retries: 1, Backoff: time.Second}
	for _, r := range []float64{0, 0.25, 0.999} {
		d := p.Decide(Failure{Kind: Server}, 0, func() float64 { return r }).Wait
		if d < 500*time.Millisecond || d >= time.Second {
			t.Errorf("rand %v: wait %v outside [0.5s, 1s)", r, d)
		}
	}
}

func TestLogString(t *testing.T) {
	var l Log
	l.Add(Event{Deployment: "a", What: "retried", Detail: "500"})
	l.Add(Event{Deployment: "a", What: "cut", Detail: "stall", Byte: 120})
	l.Add(Event{Deployment: "b", What: "continued", Detail: "prefill", Byte: 120})
	l.Add(Event{Deployment: "b", What: "ok"})
	want := "a:retried(500), a:cut@120(stall), b:continued@120(prefill), b:ok"
	if got := l.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if len(l.Events()) != 4 {
		t.Errorf("Events() has %d events, want 4", len(l.Events()))
	}
}
