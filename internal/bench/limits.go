package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/llmux/llmux/internal/tokens"
)

// LimitsOptions configure a limits run (`llmux bench limits`). Zero
// fields take the defaults.
//
// The run compresses time: one accelerated clock, now = t0 + real
// elapsed × Speedup, drives the simulator's buckets and latencies, the
// gateways' buckets and queue timers, and Redis's scripts, so that a
// phase of several clock minutes (several refills of every per-minute
// limit) takes seconds. Every duration printed or in the JSON line is
// clock time.
//
// Each phase (replicas × load × strategy) gets a fresh simulator (its
// buckets start full, as a real account's do after a quiet minute) and
// fresh limiter state. Requests arrive open-loop (Poisson) at Load × the
// aggregate capacity for Phase; then arrivals stop and the requests in
// flight finish (bounded: see drainLimit).
type LimitsOptions struct {
	// Speedup is clock seconds per real second. Default 30.
	Speedup float64
	// Phase is how long requests arrive in each phase, in clock time.
	// Default 4m.
	Phase time.Duration
	// Loads are the offered loads as multiples of the aggregate capacity.
	// Default 0.8, 1.0, 1.5.
	Loads []float64
	// Replicas are the gateway counts to run; every count above 1 shares
	// its limits through one Redis. Default 1, 3.
	Replicas []int
	// Seed seeds the workload and the simulator. Default 1.
	Seed int64
	// MaxWait is the llmux route's max_wait, in clock time. Default 20s;
	// 60s for LimitsOverload.
	MaxWait time.Duration
	// QueueTargets are the llmux route's queue_target values to run, in
	// clock time; 0 turns the standing-delay control off. Default 2s (the
	// config's default); for LimitsOverload 2s and 0, the second for
	// comparison. Limits takes one only.
	QueueTargets []time.Duration
	// KillAt and DownFor time LimitsRedisLoss's outage, in clock time:
	// redis-server is killed KillAt after the phase starts and restarted,
	// empty, DownFor later. Defaults 2m30s and 2m40s; the other runs
	// ignore them.
	KillAt, DownFor time.Duration
	// RedisServer is the redis-server binary; empty means "redis-server"
	// on PATH. It is started on a free loopback port for the run and
	// killed at its end.
	RedisServer string
	// Progress, if not nil, receives a line after each phase.
	Progress io.Writer
}

// Defaults of LimitsOptions.
const (
	DefaultSpeedup     = 30
	DefaultPhase       = 4 * time.Minute
	DefaultMaxWait     = 20 * time.Second
	DefaultQueueTarget = 2 * time.Second
)

// Defaults of LimitsOptions for LimitsOverload: the 1.5× phase of issue 12,
// twice as long, one replica, max_wait 60s, queue_target 2s and off.
const (
	DefaultOverloadPhase   = 8 * time.Minute
	DefaultOverloadMaxWait = time.Minute
	DefaultOverloadLoad    = 1.5
)

// Defaults of LimitsOptions for LimitsRedisLoss: issue 12's Redis loss,
// three replicas at 1.5× for 7 clock minutes, Redis killed 2m30s in for
// 2m40s.
const (
	DefaultRedisLossPhase    = 7 * time.Minute
	DefaultRedisLossLoad     = 1.5
	DefaultRedisLossReplicas = 3
	DefaultRedisLossKillAt   = 150 * time.Second
	DefaultRedisLossDownFor  = 160 * time.Second
)

// DefaultLoads and DefaultReplicas are the defaults of LimitsOptions.
var (
	DefaultLoads    = []float64{0.8, 1.0, 1.5}
	DefaultReplicas = []int{1, 3}
)

// limitsStrategies run in this order at every load, so that noise on the
// machine falls on both alike.
var limitsStrategies = []string{StrategyLLMux, StrategyRoundRobin}

// limitsRun names the runs that take LimitsOptions, whose defaults
// differ.
type limitsRun int

const (
	runLimits    limitsRun = iota // Limits
	runOverload                   // LimitsOverload
	runRedisLoss                  // LimitsRedisLoss
)

// withDefaults fills in the defaults of run.
func (o LimitsOptions) withDefaults(run limitsRun) LimitsOptions {
	if o.Speedup == 0 {
		o.Speedup = DefaultSpeedup
	}
	phase, maxWait, loads, replicas, targets := DefaultPhase, DefaultMaxWait, DefaultLoads, DefaultReplicas, []time.Duration{DefaultQueueTarget}
	switch run {
	case runOverload:
		phase, maxWait, loads, replicas = DefaultOverloadPhase, DefaultOverloadMaxWait, []float64{DefaultOverloadLoad}, []int{1}
		targets = []time.Duration{DefaultQueueTarget, 0}
	case runRedisLoss:
		phase, loads, replicas = DefaultRedisLossPhase, []float64{DefaultRedisLossLoad}, []int{DefaultRedisLossReplicas}
		if o.KillAt == 0 {
			o.KillAt = DefaultRedisLossKillAt
		}
		if o.DownFor == 0 {
			o.DownFor = DefaultRedisLossDownFor
		}
	}
	if o.Phase == 0 {
		o.Phase = phase
	}
	if o.MaxWait == 0 {
		o.MaxWait = maxWait
	}
	if len(o.Loads) == 0 {
		o.Loads = loads
	}
	if len(o.Replicas) == 0 {
		o.Replicas = replicas
	}
	if len(o.QueueTargets) == 0 {
		o.QueueTargets = targets
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

func (o LimitsOptions) validate() error {
	var errs []error
	if o.Speedup <= 0 {
		errs = append(errs, fmt.Errorf("speedup %g: must be positive", o.Speedup))
	}
	if o.Phase <= 0 {
		errs = append(errs, fmt.Errorf("phase %s: must be positive", o.Phase))
	}
	if o.MaxWait <= 0 {
		errs = append(errs, fmt.Errorf("max wait %s: must be positive", o.MaxWait))
	}
	for _, t := range o.QueueTargets {
		if t < 0 {
			errs = append(errs, fmt.Errorf("queue target %s: must be at least 0", t))
		}
	}
	for _, l := range o.Loads {
		if l <= 0 {
			errs = append(errs, fmt.Errorf("load %g: must be positive", l))
		}
	}
	for _, r := range o.Replicas {
		if r < 1 {
			errs = append(errs, fmt.Errorf("replicas %d: must be at least 1", r))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench limits: %w", err)
	}
	return nil
}

// Limits runs the limits benchmark and returns its report. It stops
// everything it started (servers, redis-server, goroutines) before it
// returns; if ctx ends first it returns ctx's error.
func Limits(ctx context.Context, opt LimitsOptions) (*LimitsReport, error) {
	opt = opt.withDefaults(runLimits)
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if len(opt.QueueTargets) > 1 {
		return nil, fmt.Errorf("bench limits: %d queue targets: only the overload run takes several", len(opt.QueueTargets))
	}
	rep := &LimitsReport{Conditions: limitsConditionsNow(opt)}
	redisAddr, stop, err := limitsRedis(ctx, opt, &rep.Conditions)
	if err != nil {
		return nil, err
	}
	defer stop()
	_, capacity := capacities()
	for _, replicas := range opt.Replicas {
		for _, load := range opt.Loads {
			reqs, err := workload(opt.Seed, load*capacity, opt.Phase)
			if err != nil {
				return nil, err
			}
			for _, strategy := range limitsStrategies {
				spec := phaseSpec{replicas: replicas, strategy: strategy, load: load, maxWait: opt.MaxWait, queueTarget: opt.QueueTargets[0]}
				ph, err := runPhase(ctx, spec, opt, reqs, redisAddr)
				if err != nil {
					return nil, err
				}
				rep.Phases = append(rep.Phases, *ph)
				if opt.Progress != nil {
					fmt.Fprintln(opt.Progress, ph.progressLine())
				}
			}
		}
	}
	rep.Conditions.LoadAvgEnd = readLoadAvg()
	rep.Bars = limitsBars(rep.Phases)
	return rep, nil
}

// limitsRedis starts the redis-server a run with more than one replica
// needs, and notes it in c; stop stops it (a no-op without one).
func limitsRedis(ctx context.Context, opt LimitsOptions, c *LimitsConditions) (addr string, stop func(), err error) {
	if slices.Max(opt.Replicas) <= 1 {
		return "", func() {}, nil
	}
	rp, err := startRedis(ctx, opt.RedisServer)
	if err != nil {
		return "", nil, err
	}
	c.Redis = "redis-server " + rp.version + " on " + rp.addr + ", no persistence"
	return rp.addr, rp.stop, nil
}

// LimitsConditions are what a limits run ran on and with.
type LimitsConditions struct {
	Date, Go, GOOS, GOARCH         string
	NumCPU, GOMAXPROCS             int
	LoadAvgStart, LoadAvgEnd       string
	Speedup                        float64
	Phase                          time.Duration
	Loads                          []float64
	Replicas                       []int
	Seed                           int64
	MaxWait                        time.Duration   // the llmux route's max_wait
	QueueTargets                   []time.Duration // the llmux route's queue_target values
	Overload                       bool            // a LimitsOverload run
	RedisLoss                      bool            // a LimitsRedisLoss run
	KillAt, DownFor                time.Duration   // its outage
	Seeds                          []int64         // its seeds
	Redis                          string          // empty when no phase used Redis
	MeanPrompt, MeanMaxTokens      float64
	MeanOutput                     float64
	CapacityPerMinute              float64 // aggregate, requests per clock minute
	Accounts                       []accountCapacity
	EstimateOpenAI, EstimateClaude float64 // llmux's estimate ÷ the simulator's charge, over a sample of the mix
}

func limitsConditionsNow(opt LimitsOptions) LimitsConditions {
	accts, capacity := capacities()
	c := LimitsConditions{
		Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadAvgStart: readLoadAvg(),
		Speedup: opt.Speedup, Phase: opt.Phase, Loads: opt.Loads, Replicas: opt.Replicas, Seed: opt.Seed,
		MaxWait: opt.MaxWait, QueueTargets: opt.QueueTargets,
		MeanPrompt: meanPrompt(), MeanMaxTokens: meanMaxTokens(), MeanOutput: mixMeanOutput,
		CapacityPerMinute: capacity, Accounts: accts,
	}
	c.EstimateOpenAI, c.EstimateClaude = estimateRatios(opt.Seed)
	return c
}

// estimateRatios compares llmux's charge estimate with what the
// simulator charges, over 500 requests of the mix: TPM (prompt +
// max_tokens) for the OpenAI family, the prompt (ITPM) for Claude. Above
// 1, llmux reserves more than the provider counts; below 1, it admits
// more than the provider will.
func estimateRatios(seed int64) (openai, claude float64) {
	reqs, err := workload(seed+1, 500, time.Minute)
	if err != nil {
		return 0, 0
	}
	est := tokens.NewEstimator()
	var simTPM, simIn, gwTPM, gwIn float64
	for _, r := range reqs {
		o, err1 := est.OpenAIChat(r.body, "gpt-4o-mini", 16_384)
		c, err2 := est.OpenAIChat(r.body, "claude-haiku-4-5", 8_192)
		if err1 != nil || err2 != nil {
			return 0, 0
		}
		simTPM += float64(r.prompt + r.maxTokens)
		simIn += float64(r.prompt)
		gwTPM += float64(o.Input + o.Output)
		gwIn += float64(c.Input)
	}
	return gwTPM / simTPM, gwIn / simIn
}
