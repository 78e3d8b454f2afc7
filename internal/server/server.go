// Package server runs one llmux process from a config: the in-process
// provider simulator when the config has a simulator section, the gateway,
// and the HTTP listener with graceful shutdown. cmd/llmux, the benchmarks
// and the end-to-end tests all start llmux through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/sim"
)

// Server is a started llmux. Close it to stop everything it started.
type Server struct {
	// Addr is the gateway's listen address (host:port).
	Addr string
	// SimAddr is the in-process simulator's address, if one runs.
	SimAddr string
	// Sim is the in-process simulator, if one runs.
	Sim *sim.Server

	gw      *http.Server
	simSrv  *http.Server
	redis   *redis.Client
	serving chan error
	// stopWatch stops watching the prompt repository; nil if not watched.
	stopWatch func()
}

// limiter sets the gateway's limiter from the config: in memory, or in
// Redis with a local fallback at 1/replicas of each limit while Redis is
// unreachable.
func (s *Server) limiter(cfg *config.Config, log *slog.Logger, opts *gateway.Options) error {
	if cfg.RateLimit.Backend != config.BackendRedis {
		return nil
	}
	rc := cfg.RateLimit.Redis
	s.redis = redis.NewClient(&redis.Options{
		Addr:          rc.Addr,
		Password:      rc.Password.Reveal(),
		DB:            rc.DB,
		DialTimeout:   time.Second,
		ReadTimeout:   500 * time.Millisecond,
		WriteTimeout:  500 * time.Millisecond,
		PoolSize:      64,
		MaxRetries:    -1, // a failed call falls back to local limits at once
		DialerRetries: 1,  // and does not retry the dial 5 times first
	})
	res := ratelimit.NewResilient(ratelimit.NewRedis(s.redis, rc.Prefix), cfg.RateLimit.Replicas, log, nil)
	opts.Limiter, opts.LimiterStatus = res, res
	log.Info("rate limits shared through redis", "addr", rc.Addr, "replicas", cfg.RateLimit.Replicas)
	return nil
}

// Start starts llmux on cfg.Listen. cfg is modified: accounts whose
// base_url is "simulator" get the simulator's address.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{serving: make(chan error, 2)}
	if cfg.Simulator != nil {
		if err := s.startSim(cfg, log); err != nil {
			return nil, err
		}
	}
	opts := gateway.Options{Config: cfg, Logger: log}
	if err := s.limiter(cfg, log, &opts); err != nil {
		s.Close(ctx)
		return nil, err
	}
	if err := s.promptsAndGuards(cfg, log, &opts); err != nil {
		s.Close(ctx)
		return nil, err
	}
	gw, err := gateway.New(opts)
	if err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("server: listen on %s: %w", cfg.Listen, err)
	}
	s.Addr = ln.Addr().String()
	s.gw = &http.Server{Handler: gw, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() { s.serving <- s.gw.Serve(ln) }()
	log.Info("llmux serving", "addr", s.Addr, "routes", len(cfg.Routes), "deployments", len(cfg.Deployments))
	return s, nil
}

func (s *Server) startSim(cfg *config.Config, log *slog.Logger) error {
	simCfg, err := SimConfig(cfg.Simulator)
	if err != nil {
		return err
	}
	srv, err := sim.New(simCfg)
	if err != nil {
		return fmt.Errorf("server: simulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("server: simulator listen: %w", err)
	}
	s.Sim = srv
	s.SimAddr = ln.Addr().String()
	s.simSrv = &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	go func() { s.serving <- s.simSrv.Serve(ln) }()
	PointAtSimulator(cfg, "http://"+s.SimAddr)
	log.Info("simulator serving", "addr", s.SimAddr, "keys", len(simCfg.Keys))
	return nil
}

// PointAtSimulator replaces base_url "simulator" with the simulator's URL
// in the form each provider's SDK uses.
func PointAtSimulator(cfg *config.Config, simURL string) {
	for i := range cfg.Accounts {
		a := &cfg.Accounts[i]
		if a.BaseURL != config.SimulatorBaseURL {
			continue
		}
		switch a.Provider {
		case config.ProviderOpenAI, config.ProviderOpenAICompatible:
			a.BaseURL = simURL + "/v1"
		default: // azure (classic deployment URLs), anthropic
			a.BaseURL = simURL
		}
		if a.Provider == config.ProviderAzure && a.APIVersion == "" {
			a.APIVersion = "2024-10-21"
		}
	}
}

// SimConfig converts the config file's simulator section.
func SimConfig(c *config.Simulator) (sim.Config, error) {
	out := sim.Config{
		Seed: c.Seed,
		Latency: sim.Latency{
			TTFTMedian:      c.Latency.TTFTMedian,
			TTFTP99:         c.Latency.TTFTP99,
			TTFTMax:         c.Latency.TTFTMax,
			TokensPerSecond: c.Latency.TokensPerSecond,
		},
		TimeScale: 1,
	}
	if c.TimeScale != nil {
		out.TimeScale = *c.TimeScale
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, sim.Key{Key: k.Key.Reveal(), Provider: k.Provider, RPM: k.RPM, TPM: k.TPM, ITPM: k.ITPM, OTPM: k.OTPM})
	}
	for _, f := range c.Faults {
		out.Faults = append(out.Faults, sim.Fault{Kind: f.Kind, Status: f.Status, Rate: f.Rate, Key: f.Key, Model: f.Model, Times: f.Times, AfterTokens: f.AfterTokens, Delay: f.Delay, RetryAfter: f.RetryAfter})
	}
	return out, nil
}

// Wait blocks until ctx is done or a listener fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.serving:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Close shuts the gateway down gracefully (in-flight requests finish
// until ctx ends), then the simulator.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.gw != nil {
		errs = append(errs, s.gw.Shutdown(ctx))
	}
	if s.simSrv != nil {
		errs = append(errs, s.simSrv.Shutdown(ctx))
	}
	if s.redis != nil {
		errs = append(errs, s.redis.Close())
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	return errors.Join(errs...)
}
