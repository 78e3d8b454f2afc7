package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// brownoutCall is one client request of the run.
type brownoutCall struct {
	at    time.Duration // arrival, provider time after the run's start
	phase int
	body  []byte
}

// brownoutChat is the streaming OpenAI chat body the clients send.
type brownoutChat struct {
	limitsChat
	Stream bool `json:"stream"`
}

var errNoTag = errors.New("bench: no user message to tag")

// brownoutWorkload draws the run's requests: the limits benchmark's mix
// and Poisson arrivals over the four phases, each body streaming and its
// user message starting with the request's tag.
func brownoutWorkload(opt BrownoutOptions) ([]brownoutCall, error) {
	phase := opt.phase()
	reqs, err := workload(opt.Seed, opt.Rate, time.Duration(len(brownoutPhases))*phase)
	if err != nil {
		return nil, err
	}
	calls := make([]brownoutCall, len(reqs))
	for i, r := range reqs {
		var c brownoutChat
		if err := json.Unmarshal(r.body, &c.limitsChat); err != nil {
			return nil, fmt.Errorf("bench: decode request: %w", err)
		}
		last := len(c.Messages) - 1
		if last < 0 || c.Messages[last].Role != "user" {
			return nil, errNoTag
		}
		c.Messages[last].Content = requestTag(i) + c.Messages[last].Content
		c.Stream = true
		body, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("bench: encode request: %w", err)
		}
		calls[i] = brownoutCall{at: r.at, phase: min(int(r.at/phase), len(brownoutPhases)-1), body: body}
	}
	return calls, nil
}

// callResult is how one client request ended in one mode.
type callResult struct {
	ok         bool
	start      time.Time     // on the run's clock
	latency    time.Duration // provider time until the whole answer was read
	err        string        // why it failed
	deployment string        // x-llmux-deployment
	attempts   int           // x-llmux-attempts
}

// brownoutRecord is what a run recorded, for the report.
type brownoutRecord struct {
	phase   time.Duration // how long each phase lasted
	calls   []brownoutCall
	results [][]callResult // by mode, then request
	// hedges[m][p] is mode m's llmux_hedges_total when phase p began;
	// hedges[m][len(phases)] after the last request finished.
	hedges [][]float64
	// hops[m][i] are the upstream requests of mode m for request i.
	hops [][][]upstreamHop
	// health[m][p][a] is deployment a's health in mode m's gateway
	// during phase p.
	health       [][][]healthTally
	cutAtDrain   bool
	stats        sim.Stats
	untagged     int64
	warnings     int64
	firstWarning string
}

// Bounds, provider time: one request may take requestLimit; after the
// last arrival the run waits at most drainLimit for the requests in
// flight, then cancels them (they count as failed).
const (
	brownoutRequestLimit = 2 * time.Minute
	brownoutDrainLimit   = 3 * time.Minute
)

// runBrownout sends every call at its arrival time to every mode's
// gateway, switching the simulator's faults as each phase begins, and
// waits for the answers.
func runBrownout(ctx context.Context, e *brownoutEnv, opt BrownoutOptions, calls []brownoutCall) (*brownoutRecord, error) {
	rec := &brownoutRecord{phase: opt.phase(), calls: calls,
		results: make([][]callResult, len(brownoutModes)), hedges: make([][]float64, len(brownoutModes))}
	for m := range rec.results {
		rec.results[m] = make([]callResult, len(calls))
	}
	e.shim.expect(calls)
	d := &brownoutDriver{e: e, opt: opt, rec: rec, timer: time.NewTimer(0), client: &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}}
	defer d.client.CloseIdleConnections()
	defer d.timer.Stop()
	<-d.timer.C
	var wg sync.WaitGroup
	defer wg.Wait()
	reqCtx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: an early return ends the requests
	d.start = e.clock.Now()
	health, stopHealth := sampleHealth(ctx, e, d.start, opt.phase())
	defer stopHealth()
	if err := d.dispatch(ctx, reqCtx, &wg); err != nil {
		return nil, err
	}
	stopHealth()
	rec.health = health.tally
	cut, err := drain(ctx, &wg, cancel, e.clock.real(brownoutDrainLimit))
	if err != nil {
		return nil, err
	}
	rec.cutAtDrain = cut
	for m := range brownoutModes { // the hedges of the last phase's requests
		rec.hedges[m][len(brownoutPhases)] = e.hedges(m)
	}
	return rec, nil
}

// brownoutDriver sends a run's requests.
type brownoutDriver struct {
	e      *brownoutEnv
	opt    BrownoutOptions
	rec    *brownoutRecord
	client *http.Client
	timer  *time.Timer // stopped and drained between waits
	start  time.Time   // the run's start on its clock
}

// dispatch sends every call at its arrival time, each in its own
// goroutine in wg and with reqCtx, beginning each phase on time, and
// returns when the last phase's arrivals are over.
func (d *brownoutDriver) dispatch(ctx, reqCtx context.Context, wg *sync.WaitGroup) error {
	phase := -1
	for i, c := range d.rec.calls {
		for ; phase < c.phase; phase++ {
			if err := d.beginPhase(ctx, phase+1); err != nil {
				return err
			}
		}
		if err := d.e.clock.sleepUntil(ctx, d.timer, d.start.Add(c.at)); err != nil {
			return err
		}
		for m := range brownoutModes {
			url, out := d.e.urls[m], &d.rec.results[m][i]
			wg.Go(func() { *out = sendBrownout(reqCtx, d.client, d.e.clock, url, c.body) })
		}
	}
	for ; phase < len(brownoutPhases); phase++ {
		if err := d.beginPhase(ctx, phase+1); err != nil {
			return err
		}
	}
	return nil
}

// beginPhase waits for phase p's start and sets its faults; p =
// len(brownoutPhases) is the end of the last phase's arrivals. It notes
// every gateway's hedge count at that moment.
func (d *brownoutDriver) beginPhase(ctx context.Context, p int) error {
	if err := d.e.clock.sleepUntil(ctx, d.timer, d.start.Add(time.Duration(p)*d.opt.phase())); err != nil {
		return err
	}
	if p < len(brownoutPhases) {
		d.e.sim.SetFaults(brownoutFaults(p))
	}
	for m := range brownoutModes {
		d.rec.hedges[m] = append(d.rec.hedges[m], d.e.hedges(m))
	}
	if d.opt.Progress != nil && p > 0 {
		fmt.Fprintf(d.opt.Progress, "%s: arrivals done at %s provider time\n", brownoutPhases[p-1], time.Duration(p)*d.opt.phase())
	}
	return nil
}

// drain waits for the requests in flight for at most limit (real time),
// then cancels them and waits for them to end. cut reports whether it had
// to cancel.
func drain(ctx context.Context, wg *sync.WaitGroup, cancel context.CancelFunc, limit time.Duration) (cut bool, err error) {
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }() // ends with the requests
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-drained:
		return false, nil
	case <-ctx.Done():
		cancel()
		<-drained
		return false, ctx.Err()
	case <-timer.C:
		cancel()
		<-drained
		return true, nil
	}
}

// sendBrownout sends one streaming request and reads the whole answer.
func sendBrownout(ctx context.Context, client *http.Client, clock *simClock, url string, body []byte) callResult {
	ctx, cancel := context.WithTimeout(ctx, clock.real(brownoutRequestLimit))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return callResult{start: clock.Now(), err: "build request: " + err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+brownoutClientID)
	req.Header.Set("Content-Type", "application/json")
	start := clock.Now()
	resp, err := client.Do(req)
	if err != nil {
		return callResult{start: start, latency: clock.Now().Sub(start), err: "transport: " + err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := callResult{start: start, latency: clock.Now().Sub(start), deployment: resp.Header.Get("x-llmux-deployment")}
	r.attempts, _ = strconv.Atoi(resp.Header.Get("x-llmux-attempts"))
	switch {
	case err != nil:
		r.err = fmt.Sprintf("read body after status %d: %v", resp.StatusCode, err)
	case resp.StatusCode != http.StatusOK:
		r.err = fmt.Sprintf("status %d: %s", resp.StatusCode, clip(b, 200))
	case !complete(modeStream, b):
		r.err = "incomplete stream: " + clip(b[max(0, len(b)-200):], 200)
	default:
		r.ok = true
	}
	return r
}

// sleepUntil waits until the clock reads t, on timer (stopped and
// drained).
func (c *simClock) sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) error {
	wait := c.real(t.Sub(c.Now()))
	if wait <= 0 {
		return ctx.Err()
	}
	timer.Reset(wait)
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
