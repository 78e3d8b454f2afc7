package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/server"
	"github.com/llmux/llmux/internal/sim"
)

// Credentials and names of the fault matrix's configuration.
const (
	faultsClientKey    = "sk-bench-faults"
	faultsSimOpenAI    = "sim-faults-openai"
	faultsSimAnthropic = "sim-faults-anthropic"
	// faultsReference is the healthy route whose answer every cell's
	// text is compared with.
	faultsReference      = "reference"
	faultsReferenceModel = "fault-reference"
)

// faultsLatency is the simulator's latency model: a few milliseconds to
// the first token, then 2,000 tokens per second, so a healthy 59-token
// answer streams in ~30ms and never comes near the 1s timeouts.
var faultsLatency = sim.Latency{TTFTMedian: 2 * time.Millisecond, TTFTP99: 5 * time.Millisecond,
	TTFTMax: 10 * time.Millisecond, TokensPerSecond: 2000}

// faultsEnv is what a fault-matrix run starts: the simulator with every
// cell's faults and one gateway, each on its own loopback listener.
type faultsEnv struct {
	sim *sim.Server
	// url is the gateway's base URL (http://host:port).
	url      string
	servers  []*http.Server
	serving  sync.WaitGroup
	upstream *http.Client
}

// startFaults starts the simulator and the gateway for cells.
func startFaults(seed int64, cells []faultCell) (*faultsEnv, error) {
	var faults []sim.Fault
	for _, c := range cells {
		faults = append(faults, c.faults()...)
	}
	s, err := sim.New(sim.Config{Seed: seed, TimeScale: 1, Latency: faultsLatency, Faults: faults,
		Keys: []sim.Key{{Key: faultsSimOpenAI, Provider: sim.ProviderOpenAI}, {Key: faultsSimAnthropic, Provider: sim.ProviderAnthropic}}})
	if err != nil {
		return nil, fmt.Errorf("bench faults: simulator: %w", err)
	}
	e := &faultsEnv{sim: s, upstream: gateway.NewHTTPClient()}
	simAddr, err := e.serve(s)
	if err != nil {
		e.close()
		return nil, err
	}
	cfg, err := faultsConfig(cells, "http://"+simAddr)
	if err != nil {
		e.close()
		return nil, err
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Client: e.upstream})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("bench faults: gateway: %w", err)
	}
	addr, err := e.serve(gw)
	if err != nil {
		e.close()
		return nil, err
	}
	e.url = "http://" + addr
	return e, nil
}

// faultsConfig is the gateway's configuration: an OpenAI and an
// Anthropic account on the simulator, the healthy reference route, and
// per cell a route over its primary deployment and a fallback route
// over its fallback deployment, reached the way the cell's case says.
func faultsConfig(cells []faultCell, simURL string) (*config.Config, error) {
	cfg := &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 1 << 20,
		RateLimit:    config.RateLimit{Backend: config.BackendMemory, Replicas: 1, QueueSize: 1000},
		Keys:         []config.Key{{Name: "bench", Key: faultsClientKey}},
		Accounts: []config.Account{
			{Name: "openai", Provider: config.ProviderOpenAI, BaseURL: config.SimulatorBaseURL, APIKey: faultsSimOpenAI, Timeout: time.Minute},
			{Name: "anthropic", Provider: config.ProviderAnthropic, BaseURL: config.SimulatorBaseURL, APIKey: faultsSimAnthropic, Timeout: time.Minute},
		},
	}
	dep := func(name, account, model string) config.Deployment {
		return config.Deployment{Name: name, Account: account, Model: model, Family: model,
			ContextWindow: 128_000, MaxOutput: 4096, Weight: 1}
	}
	route := func(name, deployment string) config.Route {
		return config.Route{Name: name, Deployments: []string{deployment}, Strategy: config.StrategyRoundRobin,
			RetryBackoff: faultsRetryBackoff, Timeouts: config.Timeouts{FirstToken: faultsFirstToken, ChunkGap: faultsChunkGap}}
	}
	cfg.Deployments = append(cfg.Deployments, dep(faultsReference, "openai", faultsReferenceModel))
	cfg.Routes = append(cfg.Routes, route(faultsReference, faultsReference))
	for _, c := range cells {
		cfg.Deployments = append(cfg.Deployments, dep(c.primaryDeployment(), "openai", c.primaryModel()))
		r := route(c.route(), c.primaryDeployment())
		if c.c.continuationOff {
			r.Continuation.Mode = config.ContinuationOff
		}
		switch c.c.via {
		case viaFallbacks:
			r.Fallbacks = []string{c.fallbackRoute()}
		case viaContext:
			r.ContextFallbacks = []string{c.fallbackRoute()}
		case viaContentFilter:
			r.ContentFilterFallbacks = []string{c.fallbackRoute()}
		}
		cfg.Routes = append(cfg.Routes, r)
		if c.c.via == viaNone {
			continue
		}
		account := "openai"
		if c.c.anthropicFallback {
			account = "anthropic"
		}
		cfg.Deployments = append(cfg.Deployments, dep(c.fallbackDeployment(), account, c.fallbackModel()))
		cfg.Routes = append(cfg.Routes, route(c.fallbackRoute(), c.fallbackDeployment()))
	}
	server.PointAtSimulator(cfg, simURL)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench faults: config: %w", err)
	}
	return cfg, nil
}

// serve serves h on a new loopback listener and returns its address.
func (e *faultsEnv) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench faults: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelWarn)}
	e.servers = append(e.servers, srv)
	e.serving.Go(func() { _ = srv.Serve(ln) })
	return ln.Addr().String(), nil
}

// close stops the gateway, then the simulator, and waits for both.
func (e *faultsEnv) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for i := len(e.servers) - 1; i >= 0; i-- { // the gateway first, the simulator last
		if err := e.servers[i].Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		// A connection the gateway dialed but never used would hold the
		// simulator's Shutdown for 5s (net/http waits that long for a
		// new connection's first request).
		e.upstream.CloseIdleConnections()
	}
	e.serving.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench faults: shut down: %w", err)
	}
	return nil
}

// observeUpstream fills in what each cell's models saw, from the
// simulator's per-model counts.
func (e *faultsEnv) observeUpstream(cells []faultCell, obs []faultObs) {
	models := e.sim.Stats().Models
	for i, c := range cells {
		p := models[c.primaryModel()]
		obs[i].primary = p.Requests
		obs[i].fallback = models[c.fallbackModel()].Requests
		if len(p.Arrivals) >= 2 {
			obs[i].gap = p.Arrivals[1] - p.Arrivals[0]
		}
	}
}
