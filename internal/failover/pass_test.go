package failover

import (
	"context"
	"strings"
	"testing"
	"time"
)

// scripted is an Attempter whose tries end as scripted, per deployment
// in turn; it records the tries.
type scripted struct {
	candidates []string
	script     map[string][]Tried
	tries      []string
	cancel     func() // called on the try named in cancelOn
	cancelOn   string
}

func (s *scripted) Try(ctx context.Context, i int, again bool) Tried {
	name := s.candidates[i]
	mark := ""
	if again {
		mark = "+"
	}
	s.tries = append(s.tries, mark+name)
	if name == s.cancelOn && s.cancel != nil {
		s.cancel()
	}
	q := s.script[name]
	if len(q) == 0 {
		return Tried{Kind: Done}
	}
	t := q[0]
	s.script[name] = q[1:]
	return t
}

func failed(k Kind, detail string) Tried {
	return Tried{Kind: Failed, Failure: Failure{Kind: k}, Detail: detail}
}

func TestPass(t *testing.T) {
	rateLimited := Tried{Kind: Failed, Failure: Failure{Kind: RateLimited, RetryAfter: 2 * time.Second}, Detail: "429"}
	tests := []struct {
		name       string
		candidates []string
		max        int
		retries    int
		script     map[string][]Tried
		want       Result
		wantTries  string
		wantWaits  string
		wantLog    string
	}{
		{"served at once", []string{"a", "b"}, 2, 1, nil, Served, "a", "", ""},
		{"500 once: the same deployment again", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {failed(Server, "500")}}, Served, "a +a", "75ms", "a:retried(500)"},
		{"500 twice: retries spent, next", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {failed(Server, "500"), failed(Server, "500")}}, Served, "a +a b", "75ms", "a:retried(500), a:failed(500)"},
		{"429 with Retry-After: waited out", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {rateLimited}}, Served, "a +a", "2s", "a:retried(429)"},
		{"retries off: next at once", []string{"a", "b"}, 2, 0,
			map[string][]Tried{"a": {failed(Server, "503")}}, Served, "a b", "", "a:failed(503)"},
		{"max attempts bounds deployments, not retries", []string{"a", "b", "c"}, 2, 1,
			map[string][]Tried{"a": {failed(Server, "500"), failed(Server, "500")}, "b": {failed(Transport, "transport"), failed(Transport, "transport")}},
			Exhausted, "a +a b +b", "75ms 75ms", "a:retried(500), a:failed(500), b:retried(transport), b:failed(transport)"},
		{"a timeout moves on at once", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {failed(Timeout, "timeout")}}, Served, "a b", "", "a:failed(timeout)"},
		{"skipped candidates are not attempts", []string{"a", "b"}, 1, 1,
			map[string][]Tried{"a": {{Kind: Skipped}}}, Served, "a b", "", ""},
		{"a stop leaves the route", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {{Kind: Failed, Failure: Failure{Kind: ContextLength}, Detail: "context_length", Stop: true}}}, Left, "a", "", "a:failed(context_length)"},
		{"a broken stream continues on the next", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {{Kind: Failed, Failure: Failure{Kind: Transport, Streaming: true}, Logged: true}}}, Served, "a b", "", ""},
		{"a reask tries the same again, past max attempts", []string{"a"}, 1, 0,
			map[string][]Tried{"a": {{Kind: Reask}}}, Served, "a +a", "", ""},
		{"a client error is not retried", []string{"a", "b"}, 2, 1,
			map[string][]Tried{"a": {failed(Client, "local")}}, Served, "a b", "", "a:failed(local)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &scripted{candidates: tt.candidates, script: tt.script}
			if a.script == nil {
				a.script = map[string][]Tried{}
			}
			var waits []string
			var log Log
			attempted := 0
			p := Pass{
				Candidates: tt.candidates, MaxAttempts: tt.max, Attempted: &attempted,
				Used: map[string]bool{}, Retried: map[string]int{}, Log: &log,
				Policy: func(string) Policy { return Policy{Retries: tt.retries, RetryAfterMax: 5 * time.Second} },
				Rand:   func() float64 { return 0.5 },
				Wait: func(_ context.Context, d time.Duration) error {
					waits = append(waits, d.String())
					return nil
				},
			}
			// The attempter counts deployments as the gateway's does.
			counting := attempterFunc(func(ctx context.Context, i int, again bool) Tried {
				r := a.Try(ctx, i, again)
				if r.Kind != Skipped && r.Kind != Reask && !again {
					attempted++
				}
				return r
			})
			got := p.Run(context.Background(), counting)
			if got != tt.want {
				t.Errorf("Run = %d, want %d", got, tt.want)
			}
			if s := strings.Join(a.tries, " "); s != tt.wantTries {
				t.Errorf("tries %q, want %q", s, tt.wantTries)
			}
			if s := strings.Join(waits, " "); s != tt.wantWaits {
				t.Errorf("waits %q, want %q", s, tt.wantWaits)
			}
			if s := log.String(); s != tt.wantLog {
				t.Errorf("log %q, want %q", s, tt.wantLog)
			}
		})
	}
}

type attempterFunc func(ctx context.Context, i int, again bool) Tried

func (f attempterFunc) Try(ctx context.Context, i int, again bool) Tried { return f(ctx, i, again) }

// A client that leaves during a retry wait ends the pass at once.
func TestPassClientLeavesDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &scripted{candidates: []string{"a", "b"}, script: map[string][]Tried{"a": {failed(Server, "500")}}, cancelOn: "a", cancel: cancel}
	attempted := 0
	p := Pass{
		Candidates: a.candidates, MaxAttempts: 2, Attempted: &attempted,
		Used: map[string]bool{}, Retried: map[string]int{}, Log: &Log{},
		Policy: func(string) Policy { return Policy{Retries: 1, Backoff: time.Hour} },
		Rand:   func() float64 { return 0 },
	}
	done := make(chan Result, 1)
	go func() { done <- p.Run(ctx, a) }()
	select {
	case got := <-done:
		if got != Gone {
			t.Fatalf("Run = %d, want Gone", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the pass kept waiting after the client left")
	}
	if len(a.tries) != 1 {
		t.Fatalf("tries %v after the client left, want only the first", a.tries)
	}
}
