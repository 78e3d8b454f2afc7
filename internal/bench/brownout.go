package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/failover"
)

// BrownoutOptions configure a brownout run (`llmux bench brownout`).
// Zero fields take the defaults.
//
// One run starts the provider simulator with three providers (accounts
// openai-1, azure-1, anthropic-1) and three gateways in front of it, one
// per mode (no-failover, failover, failover+latency+hedge), each with its
// own simulator accounts so that the simulator counts every mode's
// upstream requests and tokens apart. One stream of open-loop Poisson
// arrivals runs through four phases of equal length:
//
//	healthy    no faults
//	brownout   openai-1: 30% answered 500 at once, the rest with the first
//	           token 15 s later than the latency model says
//	outage     openai-1 still browned out; azure-1 hard down: every
//	           request 503 or a connection reset before any byte
//	recovered  no faults
//
// anthropic-1 stays healthy throughout, so in every phase at least one
// provider of the route is healthy. Every arrival is sent at the same
// instant to all three gateways: the modes see the same requests under
// the same provider conditions on the same machine.
//
// Time is compressed: one clock, t0 + real elapsed / TimeScale, drives the
// simulator and the gateways (breaker, time-to-first-token statistics,
// hedge delays and budget), and the simulator's delays are multiplied by
// TimeScale. Every duration printed or in the JSON line is provider time.
type BrownoutOptions struct {
	// RequestsPerPhase is the expected number of arrivals per phase; a
	// phase lasts RequestsPerPhase / Rate. Default 500.
	RequestsPerPhase int
	// Rate is the arrival rate per provider minute. Default 120.
	Rate float64
	// TimeScale is real seconds per provider second. Default 0.1.
	TimeScale float64
	// Seed seeds the workload and the simulator. Default 1.
	Seed int64
	// Progress, if not nil, receives a line as each phase's arrivals end.
	Progress io.Writer
}

// Defaults of BrownoutOptions.
const (
	DefaultBrownoutRequests  = 500
	DefaultBrownoutRate      = 120
	DefaultBrownoutTimeScale = 0.1
)

// Modes of the brownout benchmark, as named in its JSON line.
const (
	ModeNoFailover = "no-failover"
	ModeFailover   = "failover"
	ModeHedge      = "failover+latency+hedge"
)

// Phases of the brownout benchmark, in order.
const (
	PhaseHealthy   = "healthy"
	PhaseBrownout  = "brownout"
	PhaseOutage    = "outage"
	PhaseRecovered = "recovered"
)

var brownoutPhases = []string{PhaseHealthy, PhaseBrownout, PhaseOutage, PhaseRecovered}

// brownoutMode is how one gateway's route is configured. Durations are
// provider time.
type brownoutMode struct {
	name        string
	slug        string // in simulator key names
	strategy    string
	maxAttempts int
	// retries is routes[].retries: how often one deployment is tried
	// again after a 5xx, a reset or a timeout (see brownoutModes).
	retries    int
	firstToken time.Duration // 0: no first-token timeout
	hedge      *config.Hedge
}

// Settings of the modes, provider time.
const (
	brownoutFirstToken = 8 * time.Second
	brownoutHedgeAfter = 2 * time.Second
	brownoutBudget     = 0.1
)

// brownoutModes are the three gateways. Retries are set, not left to the
// gateway's default: no-failover makes one upstream request per client
// request (with the default of one retry it would try the same
// deployment twice, a failover of its own); the failover modes take the
// default, one retry of the same deployment, so that they show what a
// route configured with no more than max_attempts does.
var brownoutModes = []brownoutMode{
	{name: ModeNoFailover, slug: "nofailover", strategy: config.StrategyRoundRobin, maxAttempts: 1, retries: 0},
	{name: ModeFailover, slug: "failover", strategy: config.StrategyRoundRobin, maxAttempts: len(brownoutAccounts),
		retries: failover.DefaultRetries, firstToken: brownoutFirstToken},
	{name: ModeHedge, slug: "hedge", strategy: config.StrategyLatency, maxAttempts: len(brownoutAccounts),
		retries: failover.DefaultRetries, firstToken: brownoutFirstToken,
		hedge: &config.Hedge{After: brownoutHedgeAfter, P95: true, Budget: brownoutBudget}},
}

// MaxBrownoutP99Ratio is the bar: with hedging, p99 during the brownout
// at most this multiple of the healthy p99.
const MaxBrownoutP99Ratio = 1.5

func (o BrownoutOptions) withDefaults() BrownoutOptions {
	if o.RequestsPerPhase == 0 {
		o.RequestsPerPhase = DefaultBrownoutRequests
	}
	if o.Rate == 0 {
		o.Rate = DefaultBrownoutRate
	}
	if o.TimeScale == 0 {
		o.TimeScale = DefaultBrownoutTimeScale
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

func (o BrownoutOptions) validate() error {
	var errs []error
	if o.RequestsPerPhase < 1 {
		errs = append(errs, fmt.Errorf("requests per phase %d: must be at least 1", o.RequestsPerPhase))
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %g: must be positive", o.Rate))
	}
	if !(o.TimeScale > 0) || o.TimeScale > 1 {
		errs = append(errs, fmt.Errorf("time scale %g: must be in (0, 1]", o.TimeScale))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench brownout: %w", err)
	}
	return nil
}

// phase is how long one phase lasts, provider time.
func (o BrownoutOptions) phase() time.Duration {
	return time.Duration(float64(o.RequestsPerPhase) / o.Rate * float64(time.Minute))
}

// Brownout runs the brownout benchmark and returns its report. It stops
// everything it started (servers, goroutines) before it returns; if ctx
// ends first it returns ctx's error.
func Brownout(ctx context.Context, opt BrownoutOptions) (rep *BrownoutReport, err error) {
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	cond := brownoutConditionsNow(opt)
	calls, err := brownoutWorkload(opt)
	if err != nil {
		return nil, err
	}
	e, err := startBrownout(opt)
	if err != nil {
		return nil, err
	}
	rec, err := runBrownout(ctx, e, opt, calls)
	// Stop the gateways and the simulator before reading the simulator's
	// counts, so that every upstream request (hedge losers included) has
	// been counted.
	err = errors.Join(err, e.close())
	if err != nil {
		return nil, err
	}
	rec.stats = e.sim.Stats()
	rec.untagged = e.shim.untagged.Load()
	rec.hops = e.shim.hops
	rec.warnings, rec.firstWarning = e.warns.count()
	cond.LoadAvgEnd = readLoadAvg()
	return newBrownoutReport(cond, rec), nil
}

// BrownoutConditions are what a brownout run ran on and with.
type BrownoutConditions struct {
	Date, Go, GOOS, GOARCH   string
	NumCPU, GOMAXPROCS       int
	LoadAvgStart, LoadAvgEnd string
	RequestsPerPhase         int
	Rate                     float64
	TimeScale                float64
	Phase                    time.Duration
	Seed                     int64
	// Floor* are the latency model's own quantiles for a whole streamed
	// answer (see latencyFloor).
	FloorP50, FloorP95, FloorP99 time.Duration
}

func brownoutConditionsNow(opt BrownoutOptions) BrownoutConditions {
	c := BrownoutConditions{
		Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadAvgStart: readLoadAvg(),
		RequestsPerPhase: opt.RequestsPerPhase, Rate: opt.Rate, TimeScale: opt.TimeScale, Phase: opt.phase(), Seed: opt.Seed,
	}
	c.FloorP50, c.FloorP95, c.FloorP99 = latencyFloor(opt.Seed, 100_000)
	return c
}
