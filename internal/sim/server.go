package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Provider names a Key may have; each is the surface the key works on.
const (
	ProviderOpenAI    = "openai"
	ProviderAzure     = "azure"
	ProviderAnthropic = "anthropic"
)

// Config configures a Server. The zero value is a valid simulator with no
// keys (every request is refused with 401), no delays and no faults.
type Config struct {
	// Seed seeds every random choice: ids, latency samples, fault draws.
	// Two servers with the same Config answer the same request sequence
	// identically.
	Seed int64
	// TimeScale multiplies every delay: time to first token, token pacing
	// and fault delays. 0 means no delay at all; 0.01 makes a 6 s tail 60 ms.
	TimeScale float64
	// Latency is the latency model; zero fields take documented defaults.
	Latency Latency
	// Keys are the API keys the simulator accepts, each with its limits.
	Keys []Key
	// Faults are the initial fault set; see Fault and Server.SetFaults.
	Faults []Fault
	// Now returns the current time for rate limiting, timestamps and
	// processing times. Nil means time.Now. Delays always use real timers.
	Now func() time.Time
}

// Latency is the latency model. Time to first token (TTFT) is log-normal
// with the given median and 99th percentile, capped at TTFTMax; tokens then
// arrive at TokensPerSecond. Zero fields take the defaults 400ms, 6s, 15s
// and 80 tokens per second.
type Latency struct {
	TTFTMedian, TTFTP99, TTFTMax time.Duration
	TokensPerSecond              float64
}

// Key is an API key the simulator accepts on one provider's surface, with
// that provider's limits per minute; 0 means unlimited. OpenAI and Azure
// keys use RPM and TPM; Anthropic keys use RPM, ITPM and OTPM.
type Key struct {
	Key, Provider        string
	RPM, TPM, ITPM, OTPM int
}

// Server is the simulator, an http.Handler serving the OpenAI, Azure OpenAI
// and Anthropic APIs plus the /sim admin endpoints. It is safe for
// concurrent use and starts no goroutines: all work happens in the
// goroutine net/http gives each request.
type Server struct {
	cfg  Config
	now  func() time.Time
	lat  latencyModel
	keys map[string]*keyState
	mux  *http.ServeMux

	rngMu sync.Mutex
	rng   *rand.Rand

	faultMu sync.Mutex
	faults  []*faultState

	modelMu  sync.Mutex
	perModel map[string]*modelCounts
	started  time.Time // arrival offsets count from here

	unauthorized atomic.Int64
	fingerprint  string // system_fingerprint, fixed per server
	orgID        string // anthropic-organization-id, fixed per server
}

// keyState is one key with its limiter and counters.
type keyState struct {
	key    Key
	limits limiter
	stats  counters
}

// New validates cfg and returns a Server. It reports every problem at
// once: unknown providers or fault kinds, duplicate keys, negative limits,
// limits the key's provider does not have, an inconsistent latency model.
func New(cfg Config) (*Server, error) {
	var errs []error
	lat, err := newLatencyModel(cfg.Latency, cfg.TimeScale)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, validateKeys(cfg.Keys)...)
	errs = append(errs, validateFaults(cfg.Faults, cfg.Keys)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("sim: invalid config: %w", errors.Join(errs...))
	}
	s := &Server{
		cfg: cfg,
		now: cfg.Now,
		lat: lat,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6c6c6d7578)),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	s.setFaults(normalizeFaults(cfg.Faults))
	s.perModel = make(map[string]*modelCounts)
	s.fingerprint = "fp_" + s.randString(hexDigits, 10)
	s.orgID = s.uuid()
	s.keys = make(map[string]*keyState, len(cfg.Keys))
	start := s.started
	for _, k := range cfg.Keys {
		s.keys[k.Key] = &keyState{key: k, limits: newLimiter(k, start)}
	}
	s.mux = s.routes()
	return s, nil
}

func validateKeys(keys []Key) []error {
	var errs []error
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		field := fmt.Sprintf("keys[%d]", i)
		switch {
		case k.Key == "":
			errs = append(errs, fmt.Errorf("%s.key: empty", field))
		case seen[k.Key]:
			errs = append(errs, fmt.Errorf("%s.key: duplicate key", field))
		}
		seen[k.Key] = true
		if k.RPM < 0 || k.TPM < 0 || k.ITPM < 0 || k.OTPM < 0 {
			errs = append(errs, fmt.Errorf("%s: limits must not be negative", field))
		}
		switch k.Provider {
		case ProviderOpenAI, ProviderAzure:
			if k.ITPM != 0 || k.OTPM != 0 {
				errs = append(errs, fmt.Errorf("%s: provider %q has RPM and TPM limits, not ITPM/OTPM", field, k.Provider))
			}
		case ProviderAnthropic:
			if k.TPM != 0 {
				errs = append(errs, fmt.Errorf("%s: provider %q has RPM, ITPM and OTPM limits, not TPM", field, k.Provider))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.provider: unknown provider %q (want openai, azure or anthropic)", field, k.Provider))
		}
	}
	return errs
}

// ServeHTTP serves one request of any of the simulated APIs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// routes builds the request router. Unknown paths get a 404 in the shape of
// the provider the request looks like it was meant for.
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/chat/completions", s.openaiChat)
	m.HandleFunc("POST /v1/embeddings", s.openaiEmbeddings)
	m.HandleFunc("GET /v1/models", s.models)
	m.HandleFunc("POST /v1/messages", s.anthropicMessages)
	m.HandleFunc("POST /v1/messages/count_tokens", s.anthropicCountTokens)
	m.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.azureChat)
	m.HandleFunc("POST /openai/deployments/{deployment}/embeddings", s.azureEmbeddings)
	m.HandleFunc("POST /openai/v1/chat/completions", s.azureChat)
	m.HandleFunc("POST /openai/v1/embeddings", s.azureEmbeddings)
	m.HandleFunc("GET /openai/v1/models", s.azureModels)
	m.HandleFunc("GET /sim/stats", s.adminStats)
	m.HandleFunc("GET /sim/faults", s.adminGetFaults)
	m.HandleFunc("PUT /sim/faults", s.adminPutFaults)
	m.HandleFunc("DELETE /sim/faults", s.adminDeleteFaults)
	m.HandleFunc("/", s.notFound)
	return m
}
