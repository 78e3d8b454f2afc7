package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/server"
)

// Credentials and names of the benchmark's own configuration.
const (
	simKey    = "sim-bench"
	clientKey = "sk-bench"
	route     = "bench"
	model     = "gpt-4o-mini"
	maxTokens = 32
)

// target is one endpoint the load is driven against.
type target struct {
	name string // direct, proxy or llmux
	url  string // the chat completions URL
	auth string // the Authorization header
	// body is the request body by mode; llmux gets the route name as
	// model, the others the upstream model.
	body [numModes][]byte
}

// env is everything a run starts: the simulator and llmux (one
// server.Server) and the reverse proxy with its listener.
type env struct {
	srv       *server.Server
	proxy     *http.Server
	proxyAddr string
	proxyDone chan error
	proxyTr   *http.Transport
	targets   []target
}

// benchConfig is llmux configured with one simulated OpenAI account
// without limits or latency, one deployment, one route and one key.
func benchConfig() *config.Config {
	scale := 0.0
	return &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 32 << 20,
		Accounts:     []config.Account{{Name: "bench-openai", Provider: config.ProviderOpenAI, BaseURL: config.SimulatorBaseURL, APIKey: simKey}},
		Deployments: []config.Deployment{{Name: "bench/gpt", Account: "bench-openai", Model: model,
			ContextWindow: 128000, MaxOutput: 16384, Weight: 1}},
		Routes: []config.Route{{Name: route, Deployments: []string{"bench/gpt"}, Strategy: "round-robin"}},
		Keys:   []config.Key{{Name: "bench", Key: clientKey}},
		Simulator: &config.Simulator{TimeScale: &scale,
			Keys: []config.SimKey{{Key: simKey, Provider: config.ProviderOpenAI}}},
	}
}

// startEnv starts the simulator, llmux and the reverse proxy.
func startEnv(ctx context.Context) (*env, error) {
	discard := slog.New(slog.DiscardHandler)
	srv, err := server.Start(ctx, benchConfig(), discard)
	if err != nil {
		return nil, fmt.Errorf("bench: start llmux: %w", err)
	}
	e := &env{srv: srv, proxyDone: make(chan error, 1)}
	// The proxy gets the transport llmux uses upstream, so both hops pool
	// connections alike and only what sits between differs.
	e.proxyTr = gateway.NewHTTPClient().Transport.(*http.Transport)
	errLog := log.New(io.Discard, "", 0) // failures reach the client as 502 and are counted there
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.close()
		return nil, fmt.Errorf("bench: proxy listen: %w", err)
	}
	e.proxyAddr = ln.Addr().String()
	simURL := &url.URL{Scheme: "http", Host: srv.SimAddr}
	e.proxy = &http.Server{Handler: newProxy(simURL, e.proxyTr, errLog), ReadHeaderTimeout: 30 * time.Second, ErrorLog: errLog}
	go func() { e.proxyDone <- e.proxy.Serve(ln) }()
	e.targets, err = e.makeTargets()
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// newProxy returns the bare reverse proxy to upstream over tr, flushing
// every write as for SSE: the baseline llmux is measured against.
//
// It serves in full duplex because the transport reads the request body
// concurrently with the response: having sent Content-Length bytes, it
// reads once more to check the body is not longer. An HTTP/1 server by
// default drains and closes the request body when the handler starts its
// response, so when the upstream answers fast and that extra read comes
// late (a busy machine), it fails with "invalid Read on closed Body", and
// the transport closes the upstream connection under the response it is
// still relaying: the client gets a 200 stream cut by "unexpected EOF"
// (golang.org/issue/40747). Full duplex leaves the body open until the
// handler returns. llmux reads the whole body before it sends upstream,
// so it never needs this.
func newProxy(upstream *url.URL, tr http.RoundTripper, errLog *log.Logger) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.FlushInterval = -1
	rp.Transport = tr
	rp.ErrorLog = errLog
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Fails only where requests are full duplex anyway (HTTP/2).
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	})
}

func (e *env) makeTargets() ([]target, error) {
	const path = "/v1/chat/completions"
	upstream, err := chatBodies(model)
	if err != nil {
		return nil, err
	}
	viaRoute, err := chatBodies(route)
	if err != nil {
		return nil, err
	}
	return []target{
		{name: "direct", url: "http://" + e.srv.SimAddr + path, auth: "Bearer " + simKey, body: upstream},
		{name: "proxy", url: "http://" + e.proxyAddr + path, auth: "Bearer " + simKey, body: upstream},
		{name: "llmux", url: "http://" + e.srv.Addr + path, auth: "Bearer " + clientKey, body: viaRoute},
	}, nil
}

// close stops the proxy, then llmux and the simulator, and waits for
// their serving goroutines.
func (e *env) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if e.proxy != nil {
		errs = append(errs, e.proxy.Shutdown(ctx))
		if err := <-e.proxyDone; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if e.proxyTr != nil {
		e.proxyTr.CloseIdleConnections()
	}
	errs = append(errs, e.srv.Close(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: shut down: %w", err)
	}
	return nil
}

// chatMessage and chatRequest are the benchmark's request: a short system
// prompt and a user question, about 300 bytes, as a chat client sends.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model     string        `json:"model"`
	Messages  []chatMessage `json:"messages"`
	MaxTokens int           `json:"max_tokens"`
	Stream    bool          `json:"stream,omitempty"`
}

// chatBodies returns the non-streaming and the streaming body for model.
func chatBodies(model string) ([numModes][]byte, error) {
	req := chatRequest{
		Model: model,
		Messages: []chatMessage{
			{Role: "system", Content: "You are the support assistant of an online bookshop. Answer in one or two short sentences and never invent prices."},
			{Role: "user", Content: "I liked The Left Hand of Darkness. Which other Le Guin novel should I read next, and why?"},
		},
		MaxTokens: maxTokens,
	}
	var out [numModes][]byte
	for m := range numModes {
		req.Stream = m == modeStream
		b, err := json.Marshal(req)
		if err != nil {
			return out, fmt.Errorf("bench: encode body: %w", err)
		}
		out[m] = b
	}
	return out, nil
}
