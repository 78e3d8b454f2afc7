package bench

import (
	"bytes"
	"context"
	"fmt"
	"github.com/llmux/llmux/internal/ratelimit"
	"net/http"
	"os"
	"time"
)

type recW struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (r *recW) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }
func (r *recW) Write(b []byte) (int, error) {
	if r.status == 429 {
		r.buf.Write(b)
	}
	return r.ResponseWriter.Write(b)
}
func (r *recW) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func debugWrap(h http.Handler, c *simClock) http.Handler {
	if os.Getenv("LIMITS_DEBUG") == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recW{ResponseWriter: w, status: 200}
		t0 := c.Now()
		h.ServeHTTP(rw, r)
		if os.Getenv("LIMITS_TRACE") != "" && r.URL.Path == "/v1/messages" {
			fmt.Fprintf(os.Stderr, "SIM %s..%s %s %d in-remaining %s\n", t0.Sub(c.t0).Round(time.Millisecond), c.Now().Sub(c.t0).Round(time.Millisecond), r.URL.Path, rw.status, rw.Header().Get("anthropic-ratelimit-input-tokens-remaining"))
		}
		if rw.status == 429 {
			fmt.Fprintf(os.Stderr, "DEBUG %s %s 429 %s\n", t0.Sub(c.t0).Round(time.Millisecond), r.URL.Path, clip(rw.buf.Bytes(), 300))
		}
	})
}

type traceStore struct {
	ratelimit.Store
	c   *simClock
	key string
}

func (t *traceStore) Reserve(ctx context.Context, key string, lim ratelimit.Limits, cost ratelimit.Cost) (ratelimit.Reservation, error) {
	r, err := t.Store.Reserve(ctx, key, lim, cost)
	if t.key == "all" {
		st, _ := t.Store.State(ctx, key, lim)
		fmt.Fprintf(os.Stderr, "TRACE %s %s reserve in=%d out=%d ok=%v wait=%s -> tpm %d itpm %d rpm %d blocked %s\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), key, cost.Input, cost.Output, r.OK, r.Wait, st.Tokens.Available, st.InputTokens.Available, st.Requests.Available, st.BlockedFor)
	}
	if key == t.key {
		st, _ := t.Store.State(ctx, key, lim)
		fmt.Fprintf(os.Stderr, "TRACE %s reserve in=%d out=%d ok=%v wait=%s -> itpm avail %d otpm %d\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), cost.Input, cost.Output, r.OK, r.Wait, st.InputTokens.Available, st.OutputTokens.Available)
	}
	return r, err
}
func (t *traceStore) Settle(ctx context.Context, r ratelimit.Reservation, actual ratelimit.Cost) error {
	err := t.Store.Settle(ctx, r, actual)
	if r.Key == t.key {
		st, _ := t.Store.State(ctx, r.Key, r.Limits)
		fmt.Fprintf(os.Stderr, "TRACE %s settle %+v -> %+v -> itpm avail %d\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), r.Cost, actual, st.InputTokens.Available)
	}
	return err
}
func (t *traceStore) Cancel(ctx context.Context, r ratelimit.Reservation) error {
	if r.Key == t.key {
		fmt.Fprintf(os.Stderr, "TRACE %s cancel %+v\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), r.Cost)
	}
	return t.Store.Cancel(ctx, r)
}
func (t *traceStore) Learn(ctx context.Context, key string, lim ratelimit.Limits, obs ratelimit.Observed) error {
	err := t.Store.Learn(ctx, key, lim, obs)
	if key == t.key {
		st, _ := t.Store.State(ctx, key, lim)
		fmt.Fprintf(os.Stderr, "TRACE %s learn in-remaining=%d -> itpm avail %d\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), obs.InputRemaining, st.InputTokens.Available)
	}
	return err
}
func (t *traceStore) Block(ctx context.Context, key string, lim ratelimit.Limits, d time.Duration) error {
	if key == t.key {
		fmt.Fprintf(os.Stderr, "TRACE %s block %s\n", t.c.Now().Sub(t.c.t0).Round(time.Millisecond), d)
	}
	return t.Store.Block(ctx, key, lim, d)
}

func debugStore(s ratelimit.Store, c *simClock) ratelimit.Store {
	if os.Getenv("LIMITS_TRACE") == "" {
		return s
	}
	return &traceStore{Store: s, c: c, key: os.Getenv("LIMITS_TRACE")}
}
