package bench

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/server"
	"github.com/llmux/llmux/internal/sim"
)

// brownoutAccount is one provider account of the brownout benchmark and
// the price llmux's deployment on it is configured with.
type brownoutAccount struct {
	name, provider, model string
	price                 config.Price
}

// brownoutAccounts: provider A (openai-1) browns out, provider B
// (azure-1) goes down, provider C (anthropic-1) stays healthy. Prices are
// list prices per 1M tokens (Azure's regional deployments cost 10% more).
var brownoutAccounts = []brownoutAccount{
	{name: "openai-1", provider: sim.ProviderOpenAI, model: "gpt-4o-mini", price: config.Price{Input: 0.15, Output: 0.60}},
	{name: "azure-1", provider: sim.ProviderAzure, model: "gpt-4o-mini", price: config.Price{Input: 0.165, Output: 0.66}},
	{name: "anthropic-1", provider: sim.ProviderAnthropic, model: "claude-haiku-4-5", price: config.Price{Input: 1, Output: 5}},
}

// Indexes into brownoutAccounts of the providers that fail.
const (
	brownedAccount = 0 // A
	downAccount    = 1 // B
	healthyAccount = 2 // C
)

// brownoutLatency is the simulator's latency model, provider time: time
// to first token log-normal with median 800ms and p99 3s, capped at 15s,
// then 60 tokens per second.
var brownoutLatency = sim.Latency{TTFTMedian: 800 * time.Millisecond, TTFTP99: 3 * time.Second,
	TTFTMax: 15 * time.Second, TokensPerSecond: 60}

// The faults, provider time.
const (
	brownoutSlow     = 15 * time.Second // added to provider A's first token
	brownoutErrRate  = 0.3              // of provider A's requests answered 500
	outage503Rate    = 0.5              // of provider B's requests answered 503; the rest reset
	brownoutClientID = "sk-bench-brownout"
	brownoutRoute    = "chat"
)

// simKeyName is the simulator key of account a for mode m; with a phase,
// the key the shim files that phase's requests under.
func simKeyName(m, a int, phase string) string {
	k := "sim-brownout-" + brownoutModes[m].slug + "-" + brownoutAccounts[a].name
	if phase != "" {
		k += "-" + phase
	}
	return k
}

// brownoutSimKeys are every mode's accounts, once without a phase (what
// the gateways send) and once per phase (what the shim makes of it). No
// key has limits: rate limiting is not what this benchmark measures.
func brownoutSimKeys() []sim.Key {
	var keys []sim.Key
	for m := range brownoutModes {
		for a, acct := range brownoutAccounts {
			keys = append(keys, sim.Key{Key: simKeyName(m, a, ""), Provider: acct.provider})
			for _, p := range brownoutPhases {
				keys = append(keys, sim.Key{Key: simKeyName(m, a, p), Provider: acct.provider})
			}
		}
	}
	return keys
}

// brownoutFaults is the simulator's fault set during phase p: on every
// key of the failing accounts. The simulator applies the first matching
// fault whose draw succeeds, so the status fault goes first and the
// always-on one after it.
func brownoutFaults(p int) []sim.Fault {
	var faults []sim.Fault
	each := func(a int, add func(key string)) {
		for m := range brownoutModes {
			add(simKeyName(m, a, ""))
			for _, ph := range brownoutPhases {
				add(simKeyName(m, a, ph))
			}
		}
	}
	switch brownoutPhases[p] {
	case PhaseOutage:
		each(downAccount, func(k string) {
			faults = append(faults, sim.Fault{Kind: sim.FaultStatus, Status: http.StatusServiceUnavailable, Rate: outage503Rate, Key: k},
				sim.Fault{Kind: sim.FaultReset, Key: k})
		})
		fallthrough
	case PhaseBrownout:
		each(brownedAccount, func(k string) {
			faults = append(faults, sim.Fault{Kind: sim.FaultStatus, Status: http.StatusInternalServerError, Rate: brownoutErrRate, Key: k},
				sim.Fault{Kind: sim.FaultSlowFirstToken, Delay: brownoutSlow, Key: k})
		})
	}
	return faults
}

// brownoutEnv is what a run starts: the simulator behind the phase shim,
// and one gateway per mode, each on its own loopback listener.
type brownoutEnv struct {
	*phaseEnv // the clock, the simulator, the servers and the warnings
	shim      *phaseShim
	urls      []string // chat completions URL by mode
	registry  []*prometheus.Registry
	upstream  []*http.Client
}

// startBrownout starts the simulator and the gateways.
func startBrownout(opt BrownoutOptions) (*brownoutEnv, error) {
	clock := newSimClock(1 / opt.TimeScale)
	e := &brownoutEnv{phaseEnv: &phaseEnv{clock: clock, warns: &warnCounter{}}}
	s, err := sim.New(sim.Config{Seed: opt.Seed, TimeScale: opt.TimeScale, Latency: brownoutLatency,
		Keys: brownoutSimKeys(), Now: clock.Now})
	if err != nil {
		return nil, fmt.Errorf("bench: simulator: %w", err)
	}
	e.sim = s
	e.shim = newPhaseShim(s, clock)
	simAddr, err := e.serve(e.shim)
	if err != nil {
		e.close()
		return nil, err
	}
	for m := range brownoutModes {
		cfg, err := brownoutConfig(m, "http://"+simAddr)
		if err != nil {
			e.close()
			return nil, err
		}
		reg, client := prometheus.NewRegistry(), gateway.NewHTTPClient()
		gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(e.warns), Now: clock.Now,
			TimeScale: opt.TimeScale, Registry: reg, Client: client})
		if err != nil {
			e.close()
			return nil, fmt.Errorf("bench: gateway %s: %w", brownoutModes[m].name, err)
		}
		e.registry, e.upstream = append(e.registry, reg), append(e.upstream, client)
		addr, err := e.serve(gw)
		if err != nil {
			e.close()
			return nil, err
		}
		e.urls = append(e.urls, "http://"+addr+"/v1/chat/completions")
	}
	return e, nil
}

// close stops the gateways, then the simulator, and drops the gateways'
// idle upstream connections.
func (e *brownoutEnv) close() error {
	err := e.phaseEnv.close()
	for _, c := range e.upstream {
		c.CloseIdleConnections()
	}
	return err
}

// hedges returns llmux_hedges_total of mode m's gateway.
func (e *brownoutEnv) hedges(m int) float64 {
	mfs, err := e.registry[m].Gather()
	if err != nil {
		return 0
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "llmux_hedges_total" {
			for _, x := range mf.GetMetric() {
				sum += x.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// brownoutConfig is mode m's gateway: one deployment per account, one
// route over all three, no limits. Its durations (first-token timeout,
// hedge delay) are provider time, as the gateway's clock runs: the
// gateway turns them into real timers with Options.TimeScale.
func brownoutConfig(m int, simURL string) (*config.Config, error) {
	mode := brownoutModes[m]
	cfg := &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 32 << 20,
		RateLimit:    config.RateLimit{Backend: config.BackendMemory, Replicas: 1, QueueSize: 10000},
		Keys:         []config.Key{{Name: "bench", Key: brownoutClientID}},
	}
	retries := mode.retries
	route := config.Route{Name: brownoutRoute, Strategy: mode.strategy, MaxAttempts: mode.maxAttempts,
		Retries: &retries, Timeouts: config.Timeouts{FirstToken: mode.firstToken}}
	if mode.hedge != nil {
		h := *mode.hedge
		route.Hedge = &h
	}
	for a, acct := range brownoutAccounts {
		cfg.Accounts = append(cfg.Accounts, config.Account{Name: acct.name, Provider: acct.provider,
			BaseURL: config.SimulatorBaseURL, APIKey: config.Secret(simKeyName(m, a, "")), Timeout: 10 * time.Minute})
		dep := config.Deployment{Name: acct.name + "/" + acct.model, Account: acct.name, Model: acct.model,
			Family: acct.model, ContextWindow: 128_000, MaxOutput: 16_384, Price: acct.price, Weight: 1}
		if acct.provider == sim.ProviderAnthropic {
			dep.ContextWindow, dep.MaxOutput = 200_000, 8_192
		}
		cfg.Deployments = append(cfg.Deployments, dep)
		route.Deployments = append(route.Deployments, dep.Name)
	}
	cfg.Routes = []config.Route{route}
	server.PointAtSimulator(cfg, simURL)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %s config: %w", mode.name, err)
	}
	return cfg, nil
}

// phaseShim stands in front of the simulator and files each upstream
// request under the simulator key of the phase its client request
// arrived in, so that the simulator's own counts (requests, tokens) come
// out per phase even for retries and hedges that reach it after the
// phase ended. The client request's number travels in its text (see
// requestTag); the shim rewrites the credential header and forwards the
// request unchanged otherwise. It also notes when each upstream request
// arrived, for the traces of the slowest requests.
type phaseShim struct {
	next  http.Handler
	clock *simClock
	// phaseOf is the phase of each client request by number; set before
	// the first request and read-only after.
	phaseOf []int
	// keys maps the gateways' simulator keys to mode and account.
	keys map[string][2]int
	// untagged counts upstream requests without a known tag or key; they
	// reach the simulator unchanged and count in no phase.
	untagged atomic.Int64

	mu   sync.Mutex
	hops [][][]upstreamHop // by mode, then client request
}

// upstreamHop is one upstream request of a client request.
type upstreamHop struct {
	account int
	at      time.Time // on the run's clock
}

func newPhaseShim(next http.Handler, clock *simClock) *phaseShim {
	s := &phaseShim{next: next, clock: clock, keys: map[string][2]int{}}
	for m := range brownoutModes {
		for a := range brownoutAccounts {
			s.keys[simKeyName(m, a, "")] = [2]int{m, a}
		}
	}
	return s
}

// expect sets the phase of each client request before the run.
func (s *phaseShim) expect(calls []brownoutCall) {
	s.phaseOf = make([]int, len(calls))
	for i, c := range calls {
		s.phaseOf[i] = c.phase
	}
	s.hops = make([][][]upstreamHop, len(brownoutModes))
	for m := range s.hops {
		s.hops[m] = make([][]upstreamHop, len(calls))
	}
}

// credentialHeaders are where the three providers' adapters put the key.
var credentialHeaders = []string{"Authorization", "Api-Key", "X-Api-Key"}

func (s *phaseShim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := s.clock.Now()
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		http.Error(w, "bench shim: read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	id, ok := parseTag(body)
	if ok && id < len(s.phaseOf) && s.refile(r, id, at) {
		s.next.ServeHTTP(w, r)
		return
	}
	s.untagged.Add(1)
	s.next.ServeHTTP(w, r)
}

// refile puts r under its phase's key and notes the hop; false if r
// carries none of the gateways' keys.
func (s *phaseShim) refile(r *http.Request, id int, at time.Time) bool {
	for _, h := range credentialHeaders {
		v := r.Header.Get(h)
		key := strings.TrimPrefix(v, "Bearer ")
		ma, ok := s.keys[key]
		if !ok {
			continue
		}
		r.Header.Set(h, strings.TrimSuffix(v, key)+simKeyName(ma[0], ma[1], brownoutPhases[s.phaseOf[id]]))
		s.mu.Lock()
		s.hops[ma[0]][id] = append(s.hops[ma[0]][id], upstreamHop{account: ma[1], at: at})
		s.mu.Unlock()
		return true
	}
	return false
}

// tagPrefix starts every client request's user message, followed by the
// request's number: plain text, so it survives translation to Anthropic.
const tagPrefix = "bench-ref-"

func requestTag(id int) string { return fmt.Sprintf("%s%06d ", tagPrefix, id) }

// parseTag finds the request number in an upstream body.
func parseTag(body []byte) (int, bool) {
	i := bytes.Index(body, []byte(tagPrefix))
	if i < 0 {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range body[i+len(tagPrefix):] {
		if c < '0' || c > '9' || digits == 9 {
			break
		}
		n, digits = n*10+int(c-'0'), digits+1
	}
	return n, digits > 0
}

// latencyFloor is what the latency model alone gives for a whole
// streamed answer from a healthy provider, with no gateway, no network
// and no time compression: time to first token (log-normal, as the
// simulator draws it) plus the reply's pacing (5 to 60 tokens, uniform;
// the simulator sends the first two-token chunk with the first token and
// paces the rest at TokensPerSecond). The quantiles of n draws are the
// yardstick the healthy phase's latencies can be held against.
func latencyFloor(seed int64, n int) (p50, p95, p99 time.Duration) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x666c6f6f72))
	l := brownoutLatency
	mu := math.Log(l.TTFTMedian.Seconds())
	sigma := math.Log(float64(l.TTFTP99)/float64(l.TTFTMedian)) / 2.326
	d := make([]time.Duration, n)
	for i := range d {
		ttft := min(time.Duration(math.Exp(mu+sigma*rng.NormFloat64())*float64(time.Second)), l.TTFTMax)
		tokens := 5 + rng.IntN(56)
		d[i] = ttft + time.Duration(float64(tokens-2)/l.TokensPerSecond*float64(time.Second))
	}
	return quantile(d, 0.50), quantile(d, 0.95), quantile(d, 0.99)
}
