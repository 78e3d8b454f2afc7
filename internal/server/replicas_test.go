package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/redistest"
	"github.com/llmux/llmux/internal/sim"
)

// replicaConfig is one gateway replica in front of a shared simulator,
// with its limiter in a shared Redis.
func replicaConfig(simURL, redisAddr string, rpm int) *config.Config {
	return &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 1 << 20,
		RateLimit: config.RateLimit{Backend: "redis", Replicas: 2, QueueSize: 100,
			Redis: config.Redis{Addr: redisAddr, Prefix: "llmux-test:"}},
		Accounts: []config.Account{{Name: "oa", Provider: "openai", BaseURL: simURL + "/v1", APIKey: "sim-shared"}},
		Deployments: []config.Deployment{{Name: "oa/gpt", Account: "oa", Model: "gpt-4o-mini", Family: "gpt-4o-mini",
			ContextWindow: 128000, MaxOutput: 4096, Limits: config.Limits{RPM: rpm, TPM: 10_000_000}}},
		Routes: []config.Route{{Name: "chat", Deployments: []string{"oa/gpt"}, MaxAttempts: 1, MaxWait: 0}},
		Keys:   []config.Key{{Name: "k", Key: clientKey}},
	}
}

// Two replicas sharing Redis keep one account's combined traffic under
// its limit: the provider never has to say 429.
func TestReplicasShareLimitsThroughRedis(t *testing.T) {
	rs := redistest.Start(t)
	s, err := sim.New(sim.Config{Seed: 1, Keys: []sim.Key{{Key: "sim-shared", Provider: "openai", RPM: 10, TPM: 10_000_000}}})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(s)
	defer simSrv.Close()

	var urls []string
	for i := 0; i < 2; i++ {
		srv, err := Start(context.Background(), replicaConfig(simSrv.URL, rs.Addr(), 10), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close(context.Background())
		urls = append(urls, "http://"+srv.Addr)
	}
	ok, limited := 0, 0
	for i := 0; i < 16; i++ {
		switch status := postChat(t, urls[i%2]); status {
		case 200:
			ok++
		case 429:
			limited++
		default:
			t.Fatalf("status %d", status)
		}
	}
	if ok != 10 || limited != 6 {
		t.Fatalf("%d served, %d refused; want exactly the account's 10 RPM served across both replicas", ok, limited)
	}
	if n := s.Stats().Totals.RateLimited; n != 0 {
		t.Fatalf("the provider sent %d 429s", n)
	}
}

// With Redis gone, each replica limits locally at its share and requests
// keep flowing; the degraded state shows in the metrics.
func TestRedisOutageFallsBackToLocalShare(t *testing.T) {
	rs := redistest.Start(t)
	s, err := sim.New(sim.Config{Seed: 1, Keys: []sim.Key{{Key: "sim-shared", Provider: "openai"}}})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(s)
	defer simSrv.Close()
	srv, err := Start(context.Background(), replicaConfig(simSrv.URL, rs.Addr(), 10), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	url := "http://" + srv.Addr
	if status := postChat(t, url); status != 200 {
		t.Fatalf("with redis: %d", status)
	}
	rs.Stop()
	ok := 0
	for i := 0; i < 10; i++ {
		if postChat(t, url) == 200 {
			ok++
		}
	}
	// RPM 10 over 2 replicas, one request spent while Redis was up: the
	// local share starts from this replica's share of what the shared
	// bucket last held, floor(9/2) = 4, not from a full share of 5.
	if ok != 4 {
		t.Fatalf("served %d during the outage, want the local share of what was left, 4", ok)
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "llmux_limiter_degraded 1") {
		t.Fatal("metrics do not show the degraded limiter")
	}
}

func postChat(t *testing.T, url string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions",
		strings.NewReader(`{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+clientKey)
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
