package bench

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// refusals records the simulator's 429s by account and by the limit that
// refused, and how many fell in the first clock minute of the phase
// (when every bucket starts full, and Azure's first fixed window is
// partly spent), so a report can say where upstream 429s come from.
type refusals struct {
	clock *simClock
	start time.Time // set by markStart

	mu        sync.Mutex
	byAccount map[string]map[string]int // account → limit → count
	early     map[string]int            // account → count in the first minute
}

func newRefusals(c *simClock) *refusals {
	return &refusals{clock: c, start: c.Now(), byAccount: map[string]map[string]int{}, early: map[string]int{}}
}

// markStart sets the phase start the first minute counts from.
func (r *refusals) markStart(t time.Time) {
	r.mu.Lock()
	r.start = t
	r.mu.Unlock()
}

// wrap returns h recording the 429s it answers.
func (r *refusals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rw := &refusalWriter{ResponseWriter: w}
		arrived := r.clock.Now()
		h.ServeHTTP(rw, req)
		if rw.status == http.StatusTooManyRequests {
			r.add(accountOf(req), refusedLimit(rw.body.Bytes()), arrived)
		}
	})
}

func (r *refusals) add(account, limit string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.byAccount[account]
	if m == nil {
		m = map[string]int{}
		r.byAccount[account] = m
	}
	m[limit]++
	if at.Sub(r.start) < time.Minute {
		r.early[account]++
	}
}

// describe returns, per account with 429s, e.g. "tpm 5, rpm 1; 3 in the
// first minute".
func (r *refusals) describe() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for acct, m := range r.byAccount {
		var parts []string
		for lim, n := range m {
			parts = append(parts, fmt.Sprintf("%s %d", lim, n))
		}
		slices.Sort(parts)
		out[acct] = fmt.Sprintf("%s; %d in the first minute", strings.Join(parts, ", "), r.early[acct])
	}
	return out
}

// accountOf names the account whose key a simulator request carries.
func accountOf(req *http.Request) string {
	key := req.Header.Get("x-api-key")
	if key == "" {
		key = req.Header.Get("api-key")
	}
	if key == "" {
		key = strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	}
	for _, a := range limitsAccounts {
		if a.simKey() == key {
			return a.name
		}
	}
	return "unknown"
}

// refusedLimit names the limit a provider's 429 body says was exceeded.
func refusedLimit(body []byte) string {
	for _, c := range []struct{ text, limit string }{
		{"input tokens per minute", "itpm"},
		{"output tokens per minute", "otpm"},
		{"Request too large", "too large"},
		{"(TPM)", "tpm"},
		{"token rate limit", "tpm"},
		{"(RPM)", "rpm"},
		{"call rate limit", "rpm"},
		{"requests per minute", "rpm"},
	} {
		if bytes.Contains(body, []byte(c.text)) {
			return c.limit
		}
	}
	return "other"
}

// refusalWriter keeps a response's status and, for a 429, its body.
type refusalWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *refusalWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status == http.StatusTooManyRequests && w.body.Len() < 1024 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes flushes on: the simulator streams.
func (w *refusalWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (the
// simulator's reset fault hijacks it).
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
