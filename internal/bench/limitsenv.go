package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/server"
	"github.com/llmux/llmux/internal/sim"
)

// Strategies of the limits benchmark.
const (
	// StrategyLLMux is llmux as configured for production: per-deployment
	// buckets with the accounts' limits, the queue with max_wait, and
	// failover.
	StrategyLLMux = "llmux"
	// StrategyRoundRobin is the naive baseline: the same gateway with no
	// limits and no queue, i.e. round-robin that fails over to the next
	// deployment on an upstream 429 (and cools a deployment down for the
	// retry-after it was given).
	StrategyRoundRobin = "round-robin"
)

const (
	limitsRoute     = "chat"
	limitsClientKey = "sk-bench-limits"
)

// simClock is the accelerated clock every part of a phase shares:
// t0 + real time elapsed × speedup.
type simClock struct {
	t0, start time.Time
	speedup   float64
}

// newSimClock starts a clock at 30 seconds past a whole minute, so that
// Azure's clock-aligned minute windows do not start with the phase.
func newSimClock(speedup float64) *simClock {
	now := time.Now()
	return &simClock{t0: now.UTC().Truncate(time.Minute).Add(30 * time.Second), start: now, speedup: speedup}
}

// Now returns the clock's time.
func (c *simClock) Now() time.Time {
	return c.t0.Add(time.Duration(float64(time.Since(c.start)) * c.speedup))
}

// real converts a clock duration to real time.
func (c *simClock) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.speedup) }

// phaseEnv is what one phase starts: a fresh simulator (fresh provider
// buckets), fresh limiter state and the gateway replicas, each on its own
// loopback listener.
type phaseEnv struct {
	clock   *simClock
	sim     *sim.Server
	urls    []string // the replicas' chat completions URLs
	servers []*http.Server
	serving sync.WaitGroup
	redis   []*redis.Client
	warns   *warnCounter
	// refusals records the simulator's 429s by account and limit.
	refusals *refusals
	// degraded records when each replica's Resilient limited locally.
	degraded *degradedLog
}

// phaseSpec says what a phase runs. maxWait and queueTarget are the
// llmux route's (clock time); the round-robin baseline has no queue.
// outage, if not nil, kills and restarts the shared Redis during the
// phase.
type phaseSpec struct {
	replicas    int
	strategy    string
	load        float64
	maxWait     time.Duration
	queueTarget time.Duration
	outage      *redisOutage
}

// startPhase starts a phase's simulator and gateways. redisAddr is the
// shared Redis for more than one llmux replica; prefix namespaces the
// phase's keys in it.
func startPhase(spec phaseSpec, speedup float64, seed int64, redisAddr, prefix string) (*phaseEnv, error) {
	e := &phaseEnv{clock: newSimClock(speedup), warns: &warnCounter{}}
	e.degraded = newDegradedLog(e.clock)
	s, err := sim.New(sim.Config{Seed: seed, TimeScale: 1 / speedup, Latency: limitsLatency, Keys: simKeys(), Now: e.clock.Now})
	if err != nil {
		return nil, fmt.Errorf("bench: simulator: %w", err)
	}
	e.sim = s
	e.refusals = newRefusals(e.clock)
	simAddr, err := e.serve(e.refusals.wrap(s))
	if err != nil {
		e.close()
		return nil, err
	}
	for i := range spec.replicas {
		cfg := limitsConfig(spec, "http://"+simAddr)
		opts := gateway.Options{Config: cfg, Logger: slog.New(e.warns), Now: e.clock.Now, TimeScale: 1 / speedup}
		if spec.strategy == StrategyLLMux {
			e.limiter(&opts, spec.replicas, redisAddr, prefix)
		}
		gw, err := gateway.New(opts)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("bench: gateway replica %d: %w", i+1, err)
		}
		addr, err := e.serve(gw)
		if err != nil {
			e.close()
			return nil, err
		}
		e.urls = append(e.urls, "http://"+addr+"/v1/chat/completions")
	}
	return e, nil
}

// limiter gives one replica its limiter: a fresh in-process Memory for a
// single replica; for several, Redis shared by all of them (through
// Resilient, as `llmux serve` does), on the phase's clock rather than
// Redis's TIME so that Redis and the simulator agree on time. Resilient's
// switches to local limiting and back are recorded in e.degraded.
func (e *phaseEnv) limiter(opts *gateway.Options, replicas int, redisAddr, prefix string) {
	if replicas <= 1 {
		opts.Limiter = ratelimit.NewMemory(e.clock.Now)
		return
	}
	c := redis.NewClient(&redis.Options{Addr: redisAddr, DialTimeout: time.Second,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		PoolSize: benchRedisPool, MaxRetries: -1, DialerRetries: 1}) // as `llmux serve`, but the pool size
	e.redis = append(e.redis, c)
	store := ratelimit.NewRedis(c, prefix)
	store.Now = e.clock.Now
	res := ratelimit.NewResilient(store, replicas, slog.New(e.degraded.replica(e.warns)), e.clock.Now)
	opts.Limiter, opts.LimiterStatus = res, res
}

// benchRedisPool is the replicas' Redis pool size. `llmux serve` uses 64,
// but go-redis stops dialling after pool-size failed dials in a row and
// then tries once a real second until a dial succeeds. In a Redis outage
// (bench limits --redis-loss) Resilient probes once a clock second, so 64
// failed dials come after about a minute, and a real second is 30 clock
// seconds here: the replicas would come back up to 30 s after Redis, where
// in production they come back within about 2 s. 1024 dials is an outage
// of some 17 clock minutes.
const benchRedisPool = 1024

func simKeys() []sim.Key {
	var keys []sim.Key
	for _, a := range limitsAccounts {
		keys = append(keys, sim.Key{Key: a.simKey(), Provider: a.provider, RPM: a.rpm, TPM: a.tpm, ITPM: a.itpm, OTPM: a.otpm})
	}
	return keys
}

// limitsConfig is llmux's configuration for a phase's strategy: one
// deployment per account and one route over all of them. llmux's
// deployments carry the accounts' limits, and its route waits up to the
// phase's max_wait and holds its queue_target; ratelimit.replicas says how
// many replicas share the limits (as `llmux serve` is configured), which
// the queue's admission counts. The round-robin baseline has neither
// limits nor queue.
func limitsConfig(spec phaseSpec, simURL string) *config.Config {
	strategy := spec.strategy
	cfg := &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 32 << 20,
		RateLimit:    config.RateLimit{Backend: config.BackendMemory, Replicas: 1, QueueSize: 10000},
		Keys:         []config.Key{{Name: "bench", Key: limitsClientKey}},
	}
	route := config.Route{Name: limitsRoute, Strategy: config.StrategyRoundRobin, MaxAttempts: len(limitsAccounts)}
	if strategy == StrategyLLMux {
		route.MaxWait, route.QueueTarget = spec.maxWait, spec.queueTarget
		cfg.RateLimit.Replicas = spec.replicas
	}
	for _, a := range limitsAccounts {
		acc := config.Account{Name: a.name, Provider: a.provider, BaseURL: config.SimulatorBaseURL,
			APIKey: config.Secret(a.simKey()), Timeout: time.Minute}
		dep := config.Deployment{Name: a.name + "/" + a.model, Account: a.name, Model: a.model, Family: a.model,
			ContextWindow: 128_000, MaxOutput: 16_384, Weight: 1}
		if a.provider == sim.ProviderAnthropic {
			dep.ContextWindow, dep.MaxOutput = 200_000, 8_192
		}
		if strategy == StrategyLLMux {
			dep.Limits = config.Limits{RPM: a.rpm, TPM: a.tpm, ITPM: a.itpm, OTPM: a.otpm}
		}
		cfg.Accounts = append(cfg.Accounts, acc)
		cfg.Deployments = append(cfg.Deployments, dep)
		route.Deployments = append(route.Deployments, dep.Name)
	}
	cfg.Routes = []config.Route{route}
	server.PointAtSimulator(cfg, simURL)
	return cfg
}

// serve serves h on a new loopback listener and returns its address.
func (e *phaseEnv) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(e.warns, slog.LevelWarn)}
	e.servers = append(e.servers, srv)
	e.serving.Go(func() { _ = srv.Serve(ln) })
	return ln.Addr().String(), nil
}

// close stops the gateways, then the simulator, and waits for them.
//
// The simulator (servers[0]) is closed rather than shut down: once the
// gateways have stopped nothing is waiting for it, and the gateways'
// transports may hold connections to it that were dialled and never
// used, which Shutdown waits 5 seconds for.
func (e *phaseEnv) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for i := len(e.servers) - 1; i >= 1; i-- {
		if err := e.servers[i].Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(e.servers) > 0 {
		errs = append(errs, e.servers[0].Close())
	}
	e.serving.Wait()
	for _, c := range e.redis {
		errs = append(errs, c.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: shut down phase: %w", err)
	}
	return nil
}

// warnCounter is a slog handler that counts warnings and errors (the
// gateway's limiter failures, Resilient falling back to local limits,
// server errors) and keeps the first; it drops everything else.
type warnCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	first string
}

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if w.n.Add(1) == 1 {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += " " + a.String()
			return true
		})
		w.mu.Lock()
		w.first = msg
		w.mu.Unlock()
	}
	return nil
}

func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

// count returns the number of warnings and the first one.
func (w *warnCounter) count() (int64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n.Load(), w.first
}
