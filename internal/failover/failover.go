package failover

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what went wrong with one attempt.
type Kind uint8

// Failure kinds.
const (
	// Transport: no response (reset, refused, garbage instead of an answer).
	Transport Kind = iota
	// Timeout: the first-token, chunk-gap or total timeout fired.
	Timeout
	// Server: 5xx, 408 or 409.
	Server
	// RateLimited: 429 (not a quota or billing 429).
	RateLimited
	// Account: the account cannot serve (401, 403, 404, quota).
	Account
	// Client: any other 4xx; the request itself is wrong.
	Client
	// ContextLength: the prompt does not fit the model's window.
	ContextLength
	// PrefillRejected: the deployment refused a trailing assistant message.
	PrefillRejected
)

var kindNames = [...]string{"transport", "timeout", "server", "rate_limited", "account", "client", "context_length", "prefill_rejected"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Failure is one failed attempt, as the gateway classified it.
type Failure struct {
	Kind Kind
	// RetryAfter is the upstream's Retry-After; 0 when it sent none.
	RetryAfter time.Duration
	// Streaming: the client already has part of the answer.
	Streaming bool
}

// Action is what the request does next.
type Action uint8

// Actions.
const (
	// Next: the next candidate (then the fallback routes).
	Next Action = iota
	// Same: the same deployment again, after Decision.Wait.
	Same
	// Continue: the next candidate continues the answer the client has.
	Continue
	// LeaveRoute: this route cannot serve the request; its
	// context_fallbacks, else its fallbacks.
	LeaveRoute
	// Stop: the failure is the client's answer.
	Stop
)

var actionNames = [...]string{"next", "same", "continue", "leave_route", "stop"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Decision is the next step and how long to wait before it.
type Decision struct {
	Action Action
	Wait   time.Duration
}

// Policy is a route's (or deployment's) retry settings.
type Policy struct {
	// Retries is how many times one deployment is tried again.
	Retries int
	// RetryAfterMax is the longest Retry-After waited out.
	RetryAfterMax time.Duration
	// Backoff is the base of the jittered exponential backoff.
	Backoff time.Duration
}

// Default retry settings (config: routes[].retries, retry_after_max).
const (
	DefaultRetries       = 1
	DefaultRetryAfterMax = 5 * time.Second
	// minBackoff is the backoff floor when none is configured.
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Decide says what follows failure f of a deployment already retried
// `retried` times. rand returns a float in [0, 1) for the jitter.
func (p Policy) Decide(f Failure, retried int, rand func() float64) Decision {
	if f.Streaming {
		return Decision{Action: Continue}
	}
	canRetry := retried < p.Retries
	switch f.Kind {
	case RateLimited:
		if canRetry && f.RetryAfter > 0 && f.RetryAfter <= p.RetryAfterMax {
			return Decision{Action: Same, Wait: f.RetryAfter}
		}
		return Decision{Action: Next}
	case Transport, Server:
		if canRetry {
			return Decision{Action: Same, Wait: p.backoff(retried+1, rand)}
		}
		return Decision{Action: Next}
	case Timeout:
		// A deployment too slow for the first-token timeout is likely to
		// be as slow again: another one answers sooner.
		return Decision{Action: Next}
	case ContextLength:
		return Decision{Action: LeaveRoute}
	case PrefillRejected:
		return Decision{Action: Same} // without the prefill; once, as the gateway learns
	case Client:
		return Decision{Action: Stop}
	}
	return Decision{Action: Next} // Account
}

// backoff is the wait before the n-th retry (n >= 1).
func (p Policy) backoff(n int, rand func() float64) time.Duration {
	base := p.Backoff
	if base <= 0 {
		base = minBackoff
	}
	return Backoff(base, n, rand)
}

// Backoff is the jittered exponential backoff before the n-th further
// try (n >= 1): base × 2^(n-1), capped at 2 s, times a random factor in
// [0.5, 1) from rand.
func Backoff(base time.Duration, n int, rand func() float64) time.Duration {
	d := min(base<<min(n-1, 10), maxBackoff)
	return time.Duration(float64(d) * (0.5 + rand()/2))
}

// Event is one entry of an attempt log.
type Event struct {
	Deployment string
	// What happened: "ok", "failed", "retried", "cut", "continued",
	// "restarted", "held-back", "hedged", "error".
	What string
	// Detail says why or how: a status, "timeout", "prefill".
	Detail string
	// Byte is, for cut / continued / restarted, how many bytes of answer
	// text the client had.
	Byte int
}

// Log is a request's attempt log. It is not safe for concurrent use.
type Log struct{ events []Event }

// Add appends an event.
func (l *Log) Add(e Event) { l.events = append(l.events, e) }

// Events returns the events so far.
func (l *Log) Events() []Event { return l.events }

// String renders the log for the x-llmux-attempt-log header and the
// request log: "a:retried(500), a:cut@120, b:continued@120(prefill), b:ok".
func (l *Log) String() string {
	var b strings.Builder
	for i, e := range l.events {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Deployment)
		b.WriteByte(':')
		b.WriteString(e.What)
		switch e.What {
		case "cut", "continued", "restarted":
			fmt.Fprintf(&b, "@%d", e.Byte)
		}
		if e.Detail != "" {
			b.WriteByte('(')
			b.WriteString(e.Detail)
			b.WriteByte(')')
		}
	}
	return b.String()
}
