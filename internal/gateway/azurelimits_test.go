package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/ratelimit"
	"github.com/llmux/llmux/internal/sim"
)

// azureEnv is a gateway over the simulator with one Azure deployment "z"
// (route "az", no waiting) whose limits equal the simulator key's, and
// one OpenAI deployment "o" with the same limits. Gateway and simulator
// share a clock that starts on a whole minute.
type azureEnv struct {
	g     *Gateway
	sim   *sim.Server
	url   string
	clock *fakeClock
}

func newAzureEnv(t *testing.T, rpm, tpm int) *azureEnv {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)} // 03:20:00 UTC, a whole minute
	s, err := sim.New(sim.Config{Seed: 1, Now: clock.now, Keys: []sim.Key{
		{Key: "sim-z", Provider: "azure", RPM: rpm, TPM: tpm},
		{Key: "sim-o", Provider: "openai", RPM: rpm, TPM: tpm},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	lim := config.Limits{RPM: rpm, TPM: tpm}
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		AdminKey:     "admin-secret",
		RateLimit:    config.RateLimit{Backend: "memory", Replicas: 1, QueueSize: 100},
		Accounts: []config.Account{
			{Name: "z", Provider: "azure", BaseURL: srv.URL, APIKey: "sim-z", APIVersion: "2024-10-21"},
			{Name: "o", Provider: "openai", BaseURL: srv.URL + "/v1", APIKey: "sim-o"},
		},
		Deployments: []config.Deployment{
			{Name: "z", Account: "z", Model: "gpt-4o-mini", Family: "gpt-4o-mini", ContextWindow: 128000, MaxOutput: 4096, Limits: lim},
			{Name: "o", Account: "o", Model: "gpt-4o-mini", Family: "gpt-4o-mini", ContextWindow: 128000, MaxOutput: 4096, Limits: lim},
		},
		Routes: []config.Route{{Name: "az", Deployments: []string{"z"}}, {Name: "oa", Deployments: []string{"o"}}},
		Keys:   []config.Key{{Name: "k", Key: "sk-client"}},
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Now: clock.now, Limiter: ratelimit.NewMemory(clock.now)})
	if err != nil {
		t.Fatal(err)
	}
	return &azureEnv{g: g, sim: s, url: srv.URL, clock: clock}
}

// direct sends a chat request to the simulator's Azure deployment
// without llmux (another client of the same Azure resource).
func (e *azureEnv) direct(t *testing.T, maxTokens int) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
		strings.NewReader(chat("gpt-4o-mini", maxTokens)))
	req.Header.Set("api-key", "sim-z")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("direct request: %d", resp.StatusCode)
	}
}

func (e *azureEnv) buckets(t *testing.T, name string) map[string]lvl {
	t.Helper()
	req := httptest.NewRequest("GET", "/admin/limits", nil)
	req.Header.Set("Authorization", "Bearer admin-secret")
	rec := httptest.NewRecorder()
	e.g.ServeHTTP(rec, req)
	var view limitsView
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil || rec.Code != 200 {
		t.Fatalf("admin/limits: %d %s", rec.Code, rec.Body)
	}
	for _, d := range view.Deployments {
		if d.Name == name {
			return d.Buckets
		}
	}
	t.Fatalf("no deployment %s in %s", name, rec.Body)
	return nil
}

func TestDepLimitsAzureWindows(t *testing.T) {
	env := newAzureEnv(t, 120, 6000)
	want := ratelimit.Limits{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	if got := env.g.depLimits(&env.g.cfg.Deployments[0]); got != want {
		t.Fatalf("azure depLimits = %+v, want %+v", got, want)
	}
	if got := env.g.depLimits(&env.g.cfg.Deployments[1]); got != (ratelimit.Limits{RPM: 120, TPM: 6000}) {
		t.Fatalf("openai depLimits = %+v, want buckets", got)
	}
	b := env.buckets(t, "z")
	if b["rpm"] != (lvl{Limit: 20, Available: 20, ResetMS: 10000}) || b["tpm"] != (lvl{Limit: 6000, Available: 6000, ResetMS: 60000}) {
		t.Fatalf("azure buckets = %+v", b)
	}
}

// A continuous bucket refills during the minute; Azure's token window
// does not. llmux must refuse what Azure would 429.
func TestAzureTokenWindowNotRefilled(t *testing.T) {
	env := newAzureEnv(t, 600, 1000)
	n := 0
	for ; n < 10; n++ {
		rec := post(env.g, "/v1/chat/completions", chat("az", 300))
		if rec.Code == 429 {
			break
		}
		if rec.Code != 200 {
			t.Fatalf("request %d: %d %s", n, rec.Code, rec.Body)
		}
	}
	if n != 3 { // about 310 tokens each of 1000
		t.Fatalf("%d requests fit the first window, want 3", n)
	}
	// Half a minute later a bucket would hold 500 tokens again.
	env.clock.advance(30 * time.Second)
	rec := post(env.g, "/v1/chat/completions", chat("az", 300))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("mid-window: %d, Retry-After %q, want 429 and 30: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	env.clock.advance(30 * time.Second) // the next window
	for i := range 3 {
		if rec := post(env.g, "/v1/chat/completions", chat("az", 300)); rec.Code != 200 {
			t.Fatalf("next window, request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if st := env.sim.Stats(); st.Totals.RateLimited != 0 {
		t.Fatalf("the simulator sent %d 429s; llmux must refuse before Azure does", st.Totals.RateLimited)
	}
}

// Azure allows RPM/6 requests per 10-second window.
func TestAzureRequestWindow(t *testing.T) {
	env := newAzureEnv(t, 60, 1_000_000)
	for i := range 10 {
		if rec := post(env.g, "/v1/chat/completions", chat("az", 10)); rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post(env.g, "/v1/chat/completions", chat("az", 10))
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "10" {
		t.Fatalf("11th request: %d, Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	env.clock.advance(10 * time.Second)
	if rec := post(env.g, "/v1/chat/completions", chat("az", 10)); rec.Code != 200 {
		t.Fatalf("next window: %d %s", rec.Code, rec.Body)
	}
	if st := env.sim.Stats(); st.Totals.RateLimited != 0 {
		t.Fatalf("the simulator sent %d 429s", st.Totals.RateLimited)
	}
}

// Azure's headers report the current windows' remaining requests and
// tokens; llmux learns both, so traffic it did not send (another client
// of the same resource) is counted too.
func TestAzureLearnsWindowHeaders(t *testing.T) {
	env := newAzureEnv(t, 60, 1000)
	for range 8 {
		env.direct(t, 50) // 8 of the window's 10 requests, about 480 tokens
	}
	if rec := post(env.g, "/v1/chat/completions", chat("az", 100)); rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	b := env.buckets(t, "z")
	if b["rpm"].Limit != 10 || b["rpm"].Available != 1 {
		t.Fatalf("rpm after learning = %+v, want 1 of 10 left", b["rpm"])
	}
	if b["tpm"].Available > 1000-480-100 {
		t.Fatalf("tpm after learning = %+v, want what the simulator counted", b["tpm"])
	}
	if rec := post(env.g, "/v1/chat/completions", chat("az", 10)); rec.Code != 200 {
		t.Fatalf("10th request: %d %s", rec.Code, rec.Body)
	}
	if rec := post(env.g, "/v1/chat/completions", chat("az", 10)); rec.Code != 429 {
		t.Fatalf("11th request: %d, want llmux's 429", rec.Code)
	}
	if st := env.sim.Stats(); st.Totals.RateLimited != 0 {
		t.Fatalf("the simulator sent %d 429s", st.Totals.RateLimited)
	}
}

func TestObservedAzure(t *testing.T) {
	up := &upstream{dep: &config.Deployment{Name: "z"}, adapter: &provider.Azure{}}
	l := provider.Limits{
		Requests: provider.Bucket{Known: true, Limit: 20, Remaining: 7},
		Tokens:   provider.Bucket{Known: true, Limit: 6000, Remaining: 100},
	}
	obs, ok := observed(up, l)
	want := ratelimit.Observed{RequestsRemaining: 7, RequestsLimit: 120, TokensRemaining: 100, TokensLimit: 6000,
		InputRemaining: -1, OutputRemaining: -1}
	if !ok || obs != want {
		t.Fatalf("observed = %+v, %v; want %+v (the window's 20 requests are 120 per minute)", obs, ok, want)
	}
	obs, ok = observed(up, provider.Limits{Requests: provider.Bucket{Known: true, Limit: 20, Remaining: 0}})
	if !ok || obs.RequestsRemaining != 0 || obs.RequestsLimit != 120 || obs.TokensRemaining != -1 {
		t.Fatalf("requests only: %+v, %v", obs, ok)
	}
	if _, ok := observed(up, provider.Limits{}); ok {
		t.Fatal("no headers observed something")
	}
}
