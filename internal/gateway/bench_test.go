package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/sim"
)

// BenchmarkOverhead serves the same chat request three ways, in the
// style of httputil's BenchmarkServeHTTP (the handler called in-process
// with a ResponseRecorder):
//
//	direct  the simulator's own handler (the upstream's cost, no hop)
//	proxy   a bare httputil.ReverseProxy → simulator on loopback
//	llmux   the gateway → simulator on loopback
//
// Everything runs in this process, so allocs/op count the simulator's
// and the loopback server's allocations too: compare proxy with llmux for
// what the gateway adds, and either with direct for the cost of a hop.
//
//	go test -run '^$' -bench Overhead -benchmem ./internal/gateway/
func BenchmarkOverhead(b *testing.B) {
	const simKey, clientKey = "sim-bench", "sk-bench"
	s, err := sim.New(sim.Config{Keys: []sim.Key{{Key: simKey, Provider: sim.ProviderOpenAI}}}) // TimeScale 0: no latency
	if err != nil {
		b.Fatal(err)
	}
	upstream := httptest.NewServer(s)
	defer upstream.Close()

	gw, err := gateway.New(gateway.Options{Config: benchConfig(upstream.URL+"/v1", simKey, clientKey), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(upstream.URL)
	if err != nil {
		b.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.FlushInterval = -1
	// The transport llmux uses upstream, so both hops pool alike.
	tr := gateway.NewHTTPClient().Transport.(*http.Transport)
	defer tr.CloseIdleConnections()
	proxy.Transport = tr

	targets := []struct {
		name    string
		handler http.Handler
		auth    string
		model   string
	}{
		{"direct", s, simKey, "gpt-4o-mini"},
		{"proxy", proxy, simKey, "gpt-4o-mini"},
		{"llmux", gw, clientKey, "bench"},
	}
	for _, t := range targets {
		b.Run(t.name, func(b *testing.B) {
			for _, stream := range []bool{false, true} {
				name := "json"
				if stream {
					name = "stream"
				}
				b.Run(name, func(b *testing.B) {
					benchServe(b, t.handler, "Bearer "+t.auth, chatBody(b, t.model, stream), stream)
				})
			}
		})
	}
}

// BenchmarkHandler isolates the handlers from the network and the
// simulator, like httputil's BenchmarkServeHTTP: the gateway and a bare
// httputil.ReverseProxy each get a transport that replays an answer the
// simulator gave once. What is left is each handler's own work per
// request (plus building the request and the recorder, alike for both).
func BenchmarkHandler(b *testing.B) {
	const simKey, clientKey = "sim-bench", "sk-bench"
	s, err := sim.New(sim.Config{Keys: []sim.Key{{Key: simKey, Provider: sim.ProviderOpenAI}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, stream := range []bool{false, true} {
		name := "json"
		if stream {
			name = "stream"
		}
		rt := recordAnswer(b, s, "Bearer "+simKey, chatBody(b, "gpt-4o-mini", stream))
		gw, err := gateway.New(gateway.Options{
			Config: benchConfig("http://upstream.invalid/v1", simKey, clientKey),
			Client: &http.Client{Transport: rt},
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "upstream.invalid"})
		proxy.FlushInterval = -1
		proxy.Transport = rt
		b.Run("proxy/"+name, func(b *testing.B) {
			benchServe(b, proxy, "Bearer "+simKey, chatBody(b, "gpt-4o-mini", stream), stream)
		})
		b.Run("llmux/"+name, func(b *testing.B) {
			benchServe(b, gw, "Bearer "+clientKey, chatBody(b, "bench", stream), stream)
		})
	}
}

// replay is a RoundTripper that answers every request with one recorded
// response.
type replay struct {
	status int
	header http.Header
	body   []byte
}

func (t *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		StatusCode:    t.status,
		Header:        t.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Request:       req,
	}, nil
}

// recordAnswer asks the simulator once and returns a transport replaying
// its answer.
func recordAnswer(b *testing.B, s http.Handler, auth string, body []byte) *replay {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
	r.Header.Set("Authorization", auth)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		b.Fatalf("simulator: status %d, body %.300s", w.Code, w.Body.Bytes())
	}
	return &replay{status: w.Code, header: w.Result().Header, body: w.Body.Bytes()}
}

// benchServe serves body through h b.N times; the first answer is checked
// in full, the rest by status.
func benchServe(b *testing.B, h http.Handler, auth string, body []byte, stream bool) {
	serve := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := serve()
	if w.Code != http.StatusOK || !complete(w.Body.Bytes(), stream) {
		b.Fatalf("status %d, body %.300s", w.Code, w.Body.Bytes())
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(); w.Code != http.StatusOK {
			b.Fatalf("status %d, body %.300s", w.Code, w.Body.Bytes())
		}
	}
}

func complete(body []byte, stream bool) bool {
	if stream {
		return bytes.HasSuffix(bytes.TrimSpace(body), []byte("data: [DONE]"))
	}
	return bytes.Contains(body, []byte(`"choices"`))
}

// chatBody is the request of `llmux bench overhead`: a system prompt and
// a user question (~300 bytes), max_tokens 32.
func chatBody(b *testing.B, model string, stream bool) []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	body, err := json.Marshal(struct {
		Model     string    `json:"model"`
		Messages  []message `json:"messages"`
		MaxTokens int       `json:"max_tokens"`
		Stream    bool      `json:"stream,omitempty"`
	}{
		Model: model,
		Messages: []message{
			{"system", "You are the support assistant of an online bookshop. Answer in one or two short sentences and never invent prices."},
			{"user", "I liked The Left Hand of Darkness. Which other Le Guin novel should I read next, and why?"},
		},
		MaxTokens: 32,
		Stream:    stream,
	})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// benchConfig is one OpenAI account at baseURL, one deployment, route
// "bench" and client key clientKey; no limits.
func benchConfig(baseURL, simKey, clientKey string) *config.Config {
	return &config.Config{
		MaxBodyBytes: 32 << 20,
		Accounts:     []config.Account{{Name: "bench-openai", Provider: config.ProviderOpenAI, BaseURL: baseURL, APIKey: config.Secret(simKey)}},
		Deployments: []config.Deployment{{Name: "bench/gpt", Account: "bench-openai", Model: "gpt-4o-mini",
			ContextWindow: 128000, MaxOutput: 16384, Weight: 1}},
		Routes: []config.Route{{Name: "bench", Deployments: []string{"bench/gpt"}, Strategy: "round-robin"}},
		Keys:   []config.Key{{Name: "bench", Key: config.Secret(clientKey)}},
	}
}
