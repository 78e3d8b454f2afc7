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
func drainLimit(maxWait time.Duration) time.Duration {
	return maxWait + 15*time.Second + time.Minute
}

// shedMarker is in the body of the 429 llmux sends when no deployment had
// headroom and the queue did not take the request (or it waited until
// max_wait), and only there; a
// 429 that passes on upstream 429s says "Every deployment of this route
// is rate limited".
var shedMarker = []byte("has capacity for this request")

// runPhase runs one phase on a fresh environment and measures it.
// redisAddr is the shared Redis, for more than one llmux replica.
func runPhase(ctx context.Context, spec phaseSpec, opt LimitsOptions, reqs []benchRequest, redisAddr string) (*LimitsPhase, error) {
	rec, err := recordPhase(ctx, spec, opt, reqs, redisAddr)
	if err != nil {
		return nil, err
	}
	return measure(rec), nil
}

// recordPhase runs one phase on a fresh environment, with its Redis
// outage if it has one, and returns what it recorded.
func recordPhase(ctx context.Context, spec phaseSpec, opt LimitsOptions, reqs []benchRequest, redisAddr string) (rec phaseRecord, err error) {
	prefix := fmt.Sprintf("llmux-bench:%d:", time.Now().UnixNano()) // fresh limiter state per phase
	e, err := startPhase(spec, opt.Speedup, opt.Seed, redisAddr, prefix)
	if err != nil {
		return rec, err
	}
	defer func() { err = errors.Join(err, e.close()) }()
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	defer client.CloseIdleConnections()
	d := &driver{env: e, client: client, tally: newTally(), drain: drainLimit(spec.maxWait)}
	rec = phaseRecord{spec: spec, tally: d.tally, start: e.clock.Now(), window: opt.Phase}
	e.refusals.markStart(rec.start)
	waitOutage := spec.outage.start(ctx, e, rec.start)
	rec.atWindowEnd, err = d.run(ctx, reqs, rec.start, opt.Phase)
	rec.outage, rec.degraded = waitOutage(err != nil), e.degraded.copySpans()
	if err = errors.Join(err, rec.outage.err); err != nil {
		return rec, err
	}
	rec.end = e.sim.Stats()
	rec.warnings, rec.firstWarning = e.warns.count()
	rec.refused = e.refusals.describe()
	rec.shedReasons = e.shedReasons(ctx, client)
	return rec, nil
}

// shedReasons sums llmux_queue_shed_total by reason over the replicas'
// /metrics; nil when they cannot be read.
func (e *phaseEnv) shedReasons(ctx context.Context, client *http.Client) map[string]int64 {
	out := map[string]int64{}
	for _, u := range e.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u, "/v1/chat/completions")+"/metrics", nil)
		if err != nil {
			return nil
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil
		}
		for _, line := range strings.Split(string(body), "\n") {
			rest, ok := strings.CutPrefix(line, `llmux_queue_shed_total{reason="`)
			if !ok {
				continue
			}
			reason, rest, _ := strings.Cut(rest, `"`)
			_, value, _ := strings.Cut(rest, "} ")
			n, _ := strconv.ParseFloat(value, 64)
			out[reason] += int64(n)
		}
	}
	return out
}

// driver sends a phase's requests open-loop and records their answers.
type driver struct {
	env    *phaseEnv
	client *http.Client
	tally  *tally
	drain  time.Duration // drainLimit, clock time
}

// run sends every request at its arrival time, spreading them over the
// replicas in turn, each in its own goroutine; it returns the simulator's
// stats at the end of the arrival window, after the requests in flight
// have finished (or were cancelled at the drain limit).
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
	timer.Reset(d.env.clock.real(d.drain))
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
	start, clockStart := time.Now(), d.env.clock.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		d.tally.failed(ctx, "transport: "+err.Error())
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := ended{real: time.Since(start), clock: d.env.clock.Now().Sub(clockStart)}
	queued, _ := strconv.ParseInt(resp.Header.Get("x-llmux-queue-ms"), 10, 64)
	switch {
	case err != nil:
		d.tally.failed(ctx, fmt.Sprintf("read body after status %d: %v", resp.StatusCode, err))
	case resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"choices"`)):
		d.tally.served(r, queued, resp.Header.Get("x-llmux-deployment"), elapsed)
	case resp.StatusCode == http.StatusTooManyRequests && bytes.Contains(body, shedMarker):
		retry, _ := strconv.ParseInt(resp.Header.Get("retry-after-ms"), 10, 64)
		d.tally.shedOne(r, elapsed, time.Duration(retry)*time.Millisecond)
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
	latency    []time.Duration // of served requests, clock time
	byDep      map[string]int  // served requests by x-llmux-deployment
	shedReal   []time.Duration // how long sheds took, real time
	retryAfter []time.Duration // the sheds' retry-after-ms, clock time
	shedLong   int             // sheds of long prompts (mixLong)
	// servedAt and shedAt are the arrivals (clock time after the phase
	// start) of the served and the shed requests.
	servedAt, shedAt []time.Duration
	cutAtDrain       atomic.Bool
}

// ended is how long a request took until its whole answer was read, in
// real and in clock time.
type ended struct{ real, clock time.Duration }

func newTally() *tally { return &tally{errKinds: map[string]int{}, byDep: map[string]int{}} }

func (t *tally) served(r *benchRequest, queuedMS int64, dep string, took ended) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok++
	t.servedAt = append(t.servedAt, r.at)
	t.queueMS = append(t.queueMS, time.Duration(queuedMS)*time.Millisecond)
	t.latency = append(t.latency, took.clock)
	t.byDep[dep]++
}

func (t *tally) shedOne(r *benchRequest, took ended, retryAfter time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shed++
	t.shedAt = append(t.shedAt, r.at)
	if r.long {
		t.shedLong++
	}
	t.shedReal = append(t.shedReal, took.real)
	t.retryAfter = append(t.retryAfter, retryAfter)
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
