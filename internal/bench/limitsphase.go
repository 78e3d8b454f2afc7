package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// drainLimit bounds, in clock time, how long a phase waits after its last
// arrival for the requests in flight: the queue's max_wait, the longest
// time to first token, and a minute for generation and a slow machine.
// Requests still running then are cancelled and counted as client errors.
const drainLimit = limitsMaxWait + 15*time.Second + time.Minute

// shedMarker is in the body of the 429 llmux sends when no deployment had
// headroom within max_wait (or the queue was full), and only there; a
// 429 that passes on upstream 429s says "Every deployment of this route
// is rate limited".
var shedMarker = []byte("has capacity for this request")

// runPhase runs one phase on a fresh environment and measures it.
// redisAddr is the shared Redis, for more than one llmux replica.
func runPhase(ctx context.Context, spec phaseSpec, opt LimitsOptions, reqs []benchRequest, redisAddr string) (ph *LimitsPhase, err error) {
	prefix := fmt.Sprintf("llmux-bench:%d:", time.Now().UnixNano()) // fresh limiter state per phase
	e, err := startPhase(spec, opt.Speedup, opt.Seed, redisAddr, prefix)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, e.close()) }()
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()
	d := &driver{env: e, client: client, tally: newTally()}
	rec := phaseRecord{spec: spec, tally: d.tally, start: e.clock.Now(), window: opt.Phase}
	e.refusals.markStart(rec.start)
	if rec.atWindowEnd, err = d.run(ctx, reqs, rec.start, opt.Phase); err != nil {
		return nil, err
	}
	rec.end = e.sim.Stats()
	rec.warnings, rec.firstWarning = e.warns.count()
	rec.refused = e.refusals.describe()
	return measure(rec), nil
}

// driver sends a phase's requests open-loop and records their answers.
type driver struct {
	env    *phaseEnv
	client *http.Client
	tally  *tally
}

// run sends every request at its arrival time, spreading them over the
// replicas in turn, each in its own goroutine; it returns the simulator's
// stats at the end of the arrival window, after the requests in flight
// have finished (or were cancelled at drainLimit).
func (d *driver) run(ctx context.Context, reqs []benchRequest, start time.Time, window time.Duration) (sim.Stats, error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: an early return ends the requests
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range reqs {
		if err := d.sleepUntil(ctx, timer, start.Add(reqs[i].at)); err != nil {
			return sim.Stats{}, err
		}
		r, url := &reqs[i], d.env.urls[i%len(d.env.urls)]
		wg.Go(func() { d.send(reqCtx, url, r) })
	}
	if err := d.sleepUntil(ctx, timer, start.Add(window)); err != nil {
		return sim.Stats{}, err
	}
	atEnd := d.env.sim.Stats()
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }() // ends with the requests
	timer.Reset(d.env.clock.real(drainLimit))
	select {
	case <-drained:
	case <-ctx.Done():
		return sim.Stats{}, ctx.Err()
	case <-timer.C:
		d.tally.cutAtDrain.Store(true)
		cancel()
		<-drained
	}
	return atEnd, ctx.Err()
}

// sleepUntil waits until the clock reads t.
func (d *driver) sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) error {
	return d.env.clock.sleepUntil(ctx, timer, t)
}

// send sends one request and records how it ended.
func (d *driver) send(ctx context.Context, url string, r *benchRequest) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		d.tally.clientError("build request: " + err.Error())
		return
	}
	req.Header.Set("Authorization", "Bearer "+limitsClientKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		d.tally.failed(ctx, "transport: "+err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	queued, _ := strconv.ParseInt(resp.Header.Get("x-llmux-queue-ms"), 10, 64)
	switch {
	case err != nil:
		d.tally.failed(ctx, fmt.Sprintf("read body after status %d: %v", resp.StatusCode, err))
	case resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"choices"`)):
		d.tally.served(queued, resp.Header.Get("x-llmux-deployment"))
	case resp.StatusCode == http.StatusTooManyRequests && bytes.Contains(body, shedMarker):
		d.tally.shedOne()
	default:
		d.tally.clientError(fmt.Sprintf("status %d: %s", resp.StatusCode, clip(body, 200)))
	}
}

// tally is what the clients saw in one phase.
type tally struct {
	mu         sync.Mutex
	ok, shed   int
	errs       int
	errKinds   map[string]int // by status or "transport"
	firstErr   string
	queueMS    []time.Duration // of served requests, 0 when not queued
	byDep      map[string]int  // served requests by x-llmux-deployment
	cutAtDrain atomic.Bool
}

func newTally() *tally { return &tally{errKinds: map[string]int{}, byDep: map[string]int{}} }

func (t *tally) served(queuedMS int64, dep string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok++
	t.queueMS = append(t.queueMS, time.Duration(queuedMS)*time.Millisecond)
	t.byDep[dep]++
}

func (t *tally) shedOne() {
	t.mu.Lock()
	t.shed++
	t.mu.Unlock()
}

// failed records a request that got no answer: cut at the drain limit,
// or a transport error.
func (t *tally) failed(ctx context.Context, msg string) {
	if ctx.Err() != nil {
		msg = "cancelled at the drain limit"
	}
	t.clientError(msg)
}

func (t *tally) clientError(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs++
	kind, _, _ := strings.Cut(msg, ":")
	t.errKinds[kind]++
	if t.firstErr == "" {
		t.firstErr = msg
	}
}

// clip returns b as a string, cut to n bytes.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
