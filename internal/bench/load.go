package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// mode is what kind of request the load sends.
type mode int

const (
	modeJSON   mode = iota // non-streaming
	modeStream             // stream:true, the whole SSE body read
	numModes
)

// title is the mode's name in the text report.
func (m mode) title() string {
	if m == modeStream {
		return "stream"
	}
	return "non-stream"
}

// requestTimeout bounds one request, so a hung target shows up as errors
// instead of a hung benchmark.
const requestTimeout = 30 * time.Second

// newClient returns the load's client: enough idle connections per host
// that every worker keeps its own (otherwise the run measures connection
// setup), no environment proxy, no compression.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0, // no overall limit
			MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// sample is what one load of one target in one mode measured.
type sample struct {
	ok, errs int
	// total is each successful request's latency until its body was read;
	// ttfb the time to its first body byte.
	total, ttfb []time.Duration
	// firstErr describes the first failed request.
	firstErr string
	elapsed  time.Duration
	// cpu is the process CPU time spent during the load (all of client,
	// simulator, proxy and llmux), or -1 if unknown.
	cpu time.Duration
}

func (s *sample) rps() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ok) / s.elapsed.Seconds()
}

// load drives concurrency workers against t for d. A request is started
// only before the deadline; requests in flight at the deadline finish and
// count. It returns ctx.Err() if ctx ends.
func load(ctx context.Context, client *http.Client, t *target, m mode, concurrency int, d time.Duration) (*sample, error) {
	workers := make([]worker, concurrency)
	cpu0, cpuOK := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				w.do(ctx, client, t, m)
			}
		})
	}
	wg.Wait()
	s := &sample{elapsed: time.Since(start), cpu: -1}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cpu1, ok := processCPU(); ok && cpuOK {
		s.cpu = cpu1 - cpu0
	}
	for i := range workers {
		w := &workers[i]
		s.ok += len(w.total)
		s.errs += w.errs
		s.total = append(s.total, w.total...)
		s.ttfb = append(s.ttfb, w.ttfb...)
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
	}
	return s, nil
}

// worker sends one request at a time and records it.
type worker struct {
	buf         []byte
	total, ttfb []time.Duration
	errs        int
	firstErr    string
}

func (w *worker) do(ctx context.Context, client *http.Client, t *target, m mode) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body[m]))
	if err != nil {
		w.fail(err.Error())
		return
	}
	req.Header.Set("Authorization", t.auth)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		w.fail(err.Error())
		return
	}
	ttfb, err := w.read(resp.Body, start)
	resp.Body.Close()
	total := time.Since(start)
	switch {
	case ctx.Err() != nil:
		// The run is being cancelled; load reports that, not this request.
	case err != nil:
		w.fail(fmt.Sprintf("read body after status %d: %v", resp.StatusCode, err))
	case resp.StatusCode != http.StatusOK:
		w.fail(fmt.Sprintf("status %d: %s", resp.StatusCode, snippet(w.buf)))
	case !complete(m, w.buf):
		w.fail("incomplete body: " + snippet(w.buf))
	default:
		w.total = append(w.total, total)
		w.ttfb = append(w.ttfb, ttfb)
	}
}

func (w *worker) fail(msg string) {
	w.errs++
	if w.firstErr == "" {
		w.firstErr = msg
	}
}

// read reads body into w.buf (reused between requests) and returns the
// time from start to the first byte.
func (w *worker) read(body io.Reader, start time.Time) (time.Duration, error) {
	var ttfb time.Duration
	w.buf = w.buf[:0]
	for {
		if len(w.buf) == cap(w.buf) {
			w.buf = append(w.buf, 0)[:len(w.buf)]
		}
		n, err := body.Read(w.buf[len(w.buf):cap(w.buf)])
		if n > 0 && ttfb == 0 {
			ttfb = time.Since(start)
		}
		w.buf = w.buf[:len(w.buf)+n]
		if errors.Is(err, io.EOF) {
			return ttfb, nil
		}
		if err != nil {
			return ttfb, err
		}
	}
}

var (
	choicesField = []byte(`"choices"`)
	doneEvent    = []byte("data: [DONE]")
)

// complete reports whether body is a whole answer: a JSON completion, or
// an SSE stream that ended with its [DONE] event.
func complete(m mode, body []byte) bool {
	if m == modeStream {
		return bytes.HasSuffix(bytes.TrimSpace(body), doneEvent)
	}
	return bytes.Contains(body, choicesField)
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
