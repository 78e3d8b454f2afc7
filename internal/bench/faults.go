package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
)

// FaultsOptions configure a fault-matrix run (`llmux bench faults`).
// Zero fields take the defaults.
//
// One run starts the provider simulator and one gateway in front of it,
// in process, on loopback. Every cell of the matrix — a fault × stream or
// not × the OpenAI or the Anthropic client format — gets its own route
// with one deployment on its own simulator model, so that its fault
// matches by model and the simulator's per-model counts are what that
// cell's provider saw; the cell's fallback route has one deployment on a
// second model. Each cell sends one request over plain HTTP and
// classifies what the client got (see the Outcome constants), while the
// simulator says what the providers saw (requests, the gap before a
// retry).
type FaultsOptions struct {
	// Concurrency is how many cells run at once. Default 16.
	Concurrency int
	// Seed seeds the simulator (ids, latency samples). Default 1.
	Seed int64
	// Progress, if not nil, receives a line as each cell ends.
	Progress io.Writer
}

// DefaultFaultsConcurrency is FaultsOptions.Concurrency's default.
const DefaultFaultsConcurrency = 16

func (o FaultsOptions) withDefaults() FaultsOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultFaultsConcurrency
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Outcomes of one cell, from the client's side.
const (
	// OutcomePass: the complete answer, the exact text, usage present,
	// no error event.
	OutcomePass = "pass"
	// OutcomePartial: an error event in the client's format after part
	// of the answer (a prefix of the right text).
	OutcomePartial = "partial"
	// OutcomeSafe: a clear error in the client's format and no answer.
	OutcomeSafe = "safe"
	// OutcomeFail: anything else — wrong, duplicated or missing text
	// without an error, no usage, a body that does not parse, a stream
	// without its end, no answer within the bound.
	OutcomeFail = "fail"
)

// faultsCellLimit bounds one cell: no answer by then is a hang (fail).
const faultsCellLimit = 30 * time.Second

// Faults runs the fault matrix and returns its report. It stops
// everything it started before it returns; if ctx ends first it returns
// ctx's error.
func Faults(ctx context.Context, opt FaultsOptions) (*FaultsReport, error) {
	opt = opt.withDefaults()
	cond := FaultsConditions{Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(), GOOS: runtime.GOOS,
		GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadAvgStart: readLoadAvg(),
		Concurrency: opt.Concurrency, Seed: opt.Seed}
	cells := faultCells()
	e, err := startFaults(opt.Seed, cells)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	obs, ref, err := runFaults(ctx, e, cells, opt)
	cond.Wall = time.Since(start)
	err = errors.Join(err, e.close())
	if err != nil {
		return nil, err
	}
	e.observeUpstream(cells, obs)
	cond.LoadAvgEnd = readLoadAvg()
	cond.Reference = ref
	return newFaultsReport(cond, cells, obs), nil
}

// runFaults gets the reference answer, then runs every cell over plain
// HTTP.
func runFaults(ctx context.Context, e *faultsEnv, cells []faultCell, opt FaultsOptions) ([]faultObs, string, error) {
	client := newFaultsClient()
	defer client.CloseIdleConnections()
	ref, err := e.reference(ctx, client)
	if err != nil {
		return nil, "", err
	}
	obs, err := runCells(ctx, cells, opt.Concurrency, opt.Progress, func(ctx context.Context, c faultCell) faultObs {
		return sendCell(ctx, client, e.url, c, ref)
	})
	return obs, ref, err
}

// runCells runs send for every cell, at most concurrency at once, cells
// started in order, and returns what each observed.
func runCells(ctx context.Context, cells []faultCell, concurrency int, progress io.Writer,
	send func(context.Context, faultCell) faultObs) ([]faultObs, error) {
	obs := make([]faultObs, len(cells))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex // progress
	for i, c := range cells {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			obs[i] = send(ctx, c)
			if progress != nil {
				mu.Lock()
				fmt.Fprintf(progress, "%-40s %-7s %v\n", c.route(), obs[i].outcome, obs[i].wall.Round(time.Millisecond))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return obs, nil
}
