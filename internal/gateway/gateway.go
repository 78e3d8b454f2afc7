package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/guard"
	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/router"
	"github.com/llmux/llmux/internal/tokens"
)

// Options are a Gateway's parts. Nil fields get documented defaults.
type Options struct {
	// Config is validated configuration; required.
	Config *config.Config
	// Client sends upstream requests. Default: a client with a tuned
	// transport (see NewHTTPClient).
	Client *http.Client
	// Logger receives one line per request. Default slog.Default().
	Logger *slog.Logger
	// Registry receives the gateway's metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Limiter holds the deployments' and keys' buckets. Default: an
	// in-memory store (one process).
	Limiter ratelimit.Store
	// LimiterStatus reports whether a shared limiter fell back to local
	// limits (a *ratelimit.Resilient); nil when not applicable.
	LimiterStatus interface{ Degraded() bool }
	// Estimator estimates tokens. Default tokens.NewEstimator().
	Estimator *tokens.Estimator
	// Prompts is the prompt repository requests may name; nil: none.
	Prompts PromptSource
	// Guardrails are the compiled guardrails of the config; nil: none.
	Guardrails *guard.Set
	// Redactor replaces secrets by placeholders on routes that redact
	// (the default); nil: no redaction.
	Redactor Redactor
	// TimeScale is real seconds per second of Now, for simulations whose
	// clock runs faster than real time (benchmarks compress minutes of
	// rate-limit refill into seconds). Default 1.
	TimeScale float64
}

// Gateway serves the client APIs. Create it with New.
type Gateway struct {
	cfg       *config.Config
	log       *slog.Logger
	now       func() time.Time
	router    *router.Router
	health    *health.Tracker
	upstreams map[string]*upstream
	keys      map[string]*config.Key
	metrics   *metrics
	registry  *prometheus.Registry
	ids       *idSource
	started   time.Time
	mux       *http.ServeMux

	limiter       ratelimit.Store
	limiterStatus interface{ Degraded() bool }
	estimator     *tokens.Estimator
	queues        map[string]*router.Queue
	tiers         map[string]int
	routeCfg      map[string]*config.Route
	hedges        map[string]*hedgePolicy // per route; nil: no hedging
	timeScale     float64

	prompts  PromptSource
	guards   *guard.Set
	redactor Redactor

	// noPrefill holds the deployments that refused a prefill (learned
	// from their 400), by name.
	noPrefill sync.Map
}

// Redactor replaces the secrets of a JSON request body by placeholders;
// the vault puts them back (nil vault: nothing found). *guard.Redactor is
// one.
type Redactor interface {
	Redact(body []byte) ([]byte, *guard.Vault, error)
}

// upstream is one deployment with the adapter of its account.
type upstream struct {
	dep     *config.Deployment
	adapter provider.Adapter
}

// New builds a Gateway.
func New(opt Options) (*Gateway, error) {
	if opt.Client == nil {
		opt.Client = NewHTTPClient()
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Limiter == nil {
		opt.Limiter = ratelimit.NewMemory(opt.Now)
	}
	if opt.Estimator == nil {
		opt.Estimator = tokens.NewEstimator()
	}
	if opt.TimeScale <= 0 {
		opt.TimeScale = 1
	}
	g := &Gateway{
		cfg:       opt.Config,
		log:       opt.Logger,
		now:       opt.Now,
		health:    health.NewTracker(opt.Now),
		upstreams: make(map[string]*upstream),
		keys:      make(map[string]*config.Key),
		registry:  opt.Registry,
		ids:       newIDSource(),
		started:   opt.Now(),

		limiter:       opt.Limiter,
		limiterStatus: opt.LimiterStatus,
		estimator:     opt.Estimator,
		queues:        make(map[string]*router.Queue),
		tiers:         make(map[string]int),
		routeCfg:      make(map[string]*config.Route),
		hedges:        make(map[string]*hedgePolicy),
		timeScale:     opt.TimeScale,

		prompts:  opt.Prompts,
		guards:   opt.Guardrails,
		redactor: opt.Redactor,
	}
	for i, rc := range opt.Config.Routes {
		g.routeCfg[rc.Name] = &opt.Config.Routes[i]
		g.queues[rc.Name] = router.NewQueue(opt.Config.RateLimit.QueueSize)
		g.queues[rc.Name].SetTimeScale(opt.TimeScale)
		if h := rc.Hedge; h != nil {
			g.hedges[rc.Name] = &hedgePolicy{after: h.After, useP95: h.P95,
				budget: newHedgeBudget(h.Budget, time.Minute, opt.Now)}
		}
	}
	for i, t := range opt.Config.Tiers {
		g.tiers[t] = i
	}
	if err := g.buildUpstreams(opt.Client); err != nil {
		return nil, err
	}
	r, err := router.New(opt.Config, g.health)
	if err != nil {
		return nil, err
	}
	g.router = r
	if opt.Config.RateLimit.Backend != config.BackendRedis {
		r.Headroom = headroom{g: g}
	}
	r.Latency = latency{g: g}
	for i := range opt.Config.Keys {
		k := &opt.Config.Keys[i]
		g.keys[k.Key.Reveal()] = k
	}
	g.metrics = newMetrics(opt.Registry)
	opt.Registry.MustRegister(newLimitsCollector(g))
	g.mux = g.routes()
	return g, nil
}

func (g *Gateway) buildUpstreams(client *http.Client) error {
	adapters := make(map[string]provider.Adapter, len(g.cfg.Accounts))
	for _, acc := range g.cfg.Accounts {
		a, err := provider.New(acc, client)
		if err != nil {
			return err
		}
		adapters[acc.Name] = a
	}
	for i := range g.cfg.Deployments {
		d := &g.cfg.Deployments[i]
		a, ok := adapters[d.Account]
		if !ok {
			return &configError{what: "deployment " + d.Name + ": unknown account " + d.Account}
		}
		g.upstreams[d.Name] = &upstream{dep: d, adapter: a}
	}
	return nil
}

type configError struct{ what string }

func (e *configError) Error() string { return "gateway: " + e.what }

func (g *Gateway) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", g.handleChat(formatOpenAI))
	mux.HandleFunc("POST /v1/messages", g.handleChat(formatAnthropic))
	mux.HandleFunc("POST /v1/prompts/{name}/completions", g.handleChat(formatOpenAI))
	mux.HandleFunc("POST /v1/embeddings", g.handleEmbeddings)
	mux.HandleFunc("GET /v1/models", g.handleModels)
	mux.HandleFunc("GET /admin/limits", g.handleAdminLimits)
	mux.HandleFunc("POST /admin/route/explain", g.handleExplain)
	mux.HandleFunc("GET /healthz", g.handleHealthz)
	mux.HandleFunc("GET /readyz", g.handleReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	// Known paths with the wrong method get 405 in the client's format;
	// anything else 404.
	mux.HandleFunc("/v1/chat/completions", g.methodNotAllowed(formatOpenAI, "POST"))
	mux.HandleFunc("/v1/messages", g.methodNotAllowed(formatAnthropic, "POST"))
	mux.HandleFunc("/v1/embeddings", g.methodNotAllowed(formatOpenAI, "POST"))
	mux.HandleFunc("/v1/models", g.methodNotAllowed(formatOpenAI, "GET"))
	mux.HandleFunc("/", g.notFound)
	return mux
}

// ServeHTTP stamps the request id and dispatches.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(headerRequestID, g.ids.next())
	g.mux.ServeHTTP(w, r)
}

// connectTimeoutKey carries an attempt's connect timeout to the dialer:
// the transport is shared by every account, so the bound travels with the
// request.
type connectTimeoutKey struct{}

// NewHTTPClient returns the upstream client: many idle connections per
// host (one account takes most of the traffic), HTTP/2 when offered, no
// overall timeout (streams are long; per-account timeouts apply).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dial := t.DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration); ok && d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return dial(ctx, network, addr)
	}
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0
	return &http.Client{Transport: t}
}

func (g *Gateway) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// handleReadyz reports ready when every route has at least one deployment
// out of cooldown.
func (g *Gateway) handleReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	for _, rc := range g.cfg.Routes {
		deps, _ := g.router.Route(rc.Name)
		ok := false
		for _, d := range deps {
			if g.health.Available(d.Name) {
				ok = true
				break
			}
		}
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable","route":` + quote(rc.Name) + `}`))
			return
		}
	}
	w.Write([]byte(`{"status":"ready"}`))
}
