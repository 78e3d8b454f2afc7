package bench

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// LimitsRedisLoss runs the Redis-loss benchmark of issue 12 (`llmux bench
// limits --redis-loss`): the limits benchmark's accounts, workload and
// clock, the llmux strategy only, with several replicas sharing their
// limits through one redis-server (default 3 replicas at 1.5× for 7 clock
// minutes). KillAt into the phase the redis-server is killed (SIGKILL),
// and DownFor later a new, empty one is started on the same port, so the
// replicas limit locally at their shares in between and return to Redis
// after it. One phase per seed (seeds; none: opt.Seed), one after the
// other, on one redis-server that each phase kills and restarts.
//
// It measures per seed, in each period of the phase (before the loss, its
// first second, the rest of the loss, after the restart), the provider's
// 429s, the requests served and the capacity used, and when each replica
// switched to local limiting and back.
//
// Zero fields of opt take LimitsRedisLoss's defaults; it takes one load,
// one replica count (at least 2) and one queue target. It stops
// everything it started before it returns.
func LimitsRedisLoss(ctx context.Context, opt LimitsOptions, seeds []int64) (*RedisLossReport, error) {
	opt = opt.withDefaults(runRedisLoss)
	if len(seeds) == 0 {
		seeds = []int64{opt.Seed}
	}
	if err := validateRedisLoss(opt); err != nil {
		return nil, err
	}
	opt.Seed = seeds[0]
	rep := &RedisLossReport{Conditions: limitsConditionsNow(opt)}
	c := &rep.Conditions
	c.RedisLoss, c.KillAt, c.DownFor, c.Seeds = true, opt.KillAt, opt.DownFor, seeds
	rp, err := startRedis(ctx, opt.RedisServer)
	if err != nil {
		return nil, err
	}
	out := &redisOutage{killAt: opt.KillAt, downFor: opt.DownFor, redis: rp}
	defer func() { out.redis.stop() }() // the one running after the last restart
	c.Redis = "redis-server " + rp.version + " on " + rp.addr + ", no persistence"
	_, capacity := capacities()
	spec := phaseSpec{replicas: opt.Replicas[0], strategy: StrategyLLMux, load: opt.Loads[0],
		maxWait: opt.MaxWait, queueTarget: opt.QueueTargets[0], outage: out}
	for _, seed := range seeds {
		opt.Seed = seed
		reqs, err := workload(seed, spec.load*capacity, opt.Phase)
		if err != nil {
			return nil, err
		}
		rec, err := recordPhase(ctx, spec, opt, reqs, rp.addr)
		if err != nil {
			return nil, fmt.Errorf("bench limits --redis-loss: seed %d: %w", seed, err)
		}
		ph := measureLoss(rec, reqs, seed)
		rep.Seeds = append(rep.Seeds, ph)
		if opt.Progress != nil {
			fmt.Fprintln(opt.Progress, ph.progressLine())
		}
	}
	c.LoadAvgEnd = readLoadAvg()
	rep.Bars = lossBars(rep.Seeds)
	return rep, nil
}

// validateRedisLoss checks opt (with its defaults) for LimitsRedisLoss.
func validateRedisLoss(opt LimitsOptions) error {
	if err := opt.validate(); err != nil {
		return err
	}
	switch {
	case len(opt.Loads) != 1 || len(opt.Replicas) != 1 || len(opt.QueueTargets) != 1:
		return fmt.Errorf("bench limits --redis-loss: %d loads, %d replica counts, %d queue targets: takes one of each",
			len(opt.Loads), len(opt.Replicas), len(opt.QueueTargets))
	case opt.Replicas[0] < 2:
		return fmt.Errorf("bench limits --redis-loss: replicas %d: at least 2 share Redis", opt.Replicas[0])
	case opt.KillAt <= 0 || opt.DownFor <= 0:
		return fmt.Errorf("bench limits --redis-loss: kill at %s, down for %s: both must be positive", opt.KillAt, opt.DownFor)
	case opt.KillAt+opt.DownFor+time.Second >= opt.Phase:
		return fmt.Errorf("bench limits --redis-loss: kill at %s + down for %s: Redis must be back at least 1s before the phase (%s) ends",
			opt.KillAt, opt.DownFor, opt.Phase)
	}
	return nil
}

// redisOutage kills a run's redis-server during a phase and starts a
// new, empty one on the same port; the gateways' clients reconnect to it.
// It owns the server: redis is the one running, replaced at each restart.
type redisOutage struct {
	killAt, downFor time.Duration
	redis           *redisProc
}

// outageRecord is when an outage happened, in clock time, and what the
// simulator had counted at its boundaries.
type outageRecord struct {
	killed    time.Time // redis-server was sent SIGKILL
	restarted time.Time // a new one was started
	answering time.Time // it answered
	atKill    sim.Stats
	afterKill sim.Stats // 1s after killed
	atRestart sim.Stats
	err       error
}

// start runs the outage alongside a phase that starts at start, in a
// goroutine; wait waits for it (cancelling it first if cancel, when the
// phase ended early) and returns what it recorded. A nil outage does
// nothing.
func (o *redisOutage) start(ctx context.Context, e *phaseEnv, start time.Time) (wait func(cancel bool) outageRecord) {
	if o == nil {
		return func(bool) outageRecord { return outageRecord{} }
	}
	ctx, stop := context.WithCancel(ctx)
	var rec outageRecord
	done := make(chan struct{})
	go func() { defer close(done); rec = o.run(ctx, e, start) }()
	return func(cancel bool) outageRecord {
		if cancel {
			stop()
		}
		<-done
		stop()
		if cancel {
			rec.err = nil // the phase's error is the one to report
		}
		return rec
	}
}

// run kills the server killAt after start, snapshots the simulator's
// counts at the kill, a second later and at the restart, and restarts
// the server downFor after the kill was due.
func (o *redisOutage) run(ctx context.Context, e *phaseEnv, start time.Time) (rec outageRecord) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if rec.err = e.clock.sleepUntil(ctx, timer, start.Add(o.killAt)); rec.err != nil {
		return rec
	}
	rec.killed = e.clock.Now()
	rec.atKill = e.sim.Stats()
	o.redis.stop()
	if rec.err = e.clock.sleepUntil(ctx, timer, rec.killed.Add(time.Second)); rec.err != nil {
		return rec
	}
	rec.afterKill = e.sim.Stats()
	if rec.err = e.clock.sleepUntil(ctx, timer, start.Add(o.killAt+o.downFor)); rec.err != nil {
		return rec
	}
	rec.restarted = e.clock.Now()
	rec.atRestart = e.sim.Stats()
	p, err := o.redis.restart(ctx)
	if err != nil {
		rec.err = fmt.Errorf("bench: restart redis-server: %w", err)
		return rec
	}
	o.redis, rec.answering = p, e.clock.Now()
	return rec
}

// degradedLog records, per replica sharing Redis, when its Resilient
// limited locally: Resilient logs one warning when it switches to local
// limiting and one info line (with reseed_keys) when it is back on Redis.
type degradedLog struct {
	clock *simClock
	mu    sync.Mutex
	spans [][]degradedSpan // by replica
}

// degradedSpan is one time a replica limited locally, in clock time; to
// is zero while it still does.
type degradedSpan struct {
	from, to time.Time
	reseeded int64 // keys re-seeded in Redis at the recovery
}

func newDegradedLog(c *simClock) *degradedLog { return &degradedLog{clock: c} }

// replica returns the log handler of the next replica: it records the
// switches and passes every record next wants on.
func (l *degradedLog) replica(next slog.Handler) slog.Handler {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spans = append(l.spans, nil)
	return &degradedHandler{log: l, i: len(l.spans) - 1, next: next}
}

// copySpans returns a copy of the spans by replica.
func (l *degradedLog) copySpans() [][]degradedSpan {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]degradedSpan, len(l.spans))
	for i, s := range l.spans {
		out[i] = slices.Clone(s)
	}
	return out
}

func (l *degradedLog) note(i int, r slog.Record) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	spans := l.spans[i]
	open := len(spans) > 0 && spans[len(spans)-1].to.IsZero()
	switch {
	case r.Level >= slog.LevelWarn && !open:
		l.spans[i] = append(spans, degradedSpan{from: now})
	case r.Level == slog.LevelInfo && open:
		last := &spans[len(spans)-1]
		last.to = now
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reseed_keys" && a.Value.Kind() == slog.KindInt64 {
				last.reseeded = a.Value.Int64()
			}
			return true
		})
	}
}

// degradedHandler is one replica's handler of a degradedLog.
type degradedHandler struct {
	log  *degradedLog
	i    int
	next slog.Handler
}

func (h *degradedHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *degradedHandler) Handle(ctx context.Context, r slog.Record) error {
	h.log.note(h.i, r)
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *degradedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &degradedHandler{log: h.log, i: h.i, next: h.next.WithAttrs(as)}
}

func (h *degradedHandler) WithGroup(name string) slog.Handler {
	return &degradedHandler{log: h.log, i: h.i, next: h.next.WithGroup(name)}
}
