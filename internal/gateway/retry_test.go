package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// scriptedUpstream answers OpenAI chat requests with a script: the n-th
// request gets script[n] (the last entry repeats). It counts requests and
// keeps their bodies.
type scriptedUpstream struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter, body []byte)
	bodies [][]byte
	times  []time.Time
}

func (u *scriptedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	n := len(u.bodies)
	u.bodies = append(u.bodies, body)
	u.times = append(u.times, time.Now())
	step := u.script[min(n, len(u.script)-1)]
	u.mu.Unlock()
	step(w, body)
}

func (u *scriptedUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.bodies)
}

func statusStep(status int, retryAfter, body string) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, _ []byte) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func okStep(w http.ResponseWriter, _ []byte) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, okChat)
}

// streamStep streams text as OpenAI chunks; with cutAfter >= 0 it stops
// (closing the body) after that many content chunks.
func streamStep(words []string, cutAfter int) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		write := func(v any) {
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
		}
		chunk := func(delta map[string]any, finish any) map[string]any {
			return map[string]any{"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		}
		write(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
		for i, wd := range words {
			if i == cutAfter {
				return
			}
			write(chunk(map[string]any{"content": wd}, nil))
		}
		write(chunk(map[string]any{}, "stop"))
		write(map[string]any{"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []any{},
			"usage": map[string]any{"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}})
		io.WriteString(w, "data: [DONE]\n\n")
	}
}

// retryEnv is one route "chat" over deployment a (upstream ua), with a
// fallback route "other" over deployment b (upstream ub).
func retryEnv(t *testing.T, ua, ub http.Handler, edit func(*config.Config)) *Gateway {
	t.Helper()
	sa, sb := httptest.NewServer(ua), httptest.NewServer(ub)
	t.Cleanup(sa.Close)
	t.Cleanup(sb.Close)
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		RateLimit:    config.RateLimit{QueueSize: 10},
		Accounts: []config.Account{
			{Name: "pa", Provider: "openai", BaseURL: sa.URL + "/v1", APIKey: "k1"},
			{Name: "pb", Provider: "openai", BaseURL: sb.URL + "/v1", APIKey: "k2"},
		},
		Deployments: []config.Deployment{
			{Name: "a", Account: "pa", Model: "m", Family: "m", ContextWindow: 128000, MaxOutput: 100},
			{Name: "b", Account: "pb", Model: "m", Family: "m", ContextWindow: 128000, MaxOutput: 100},
		},
		Routes: []config.Route{
			{Name: "chat", Deployments: []string{"a"}, MaxAttempts: 3, Fallbacks: []string{"other"}},
			{Name: "other", Deployments: []string{"b"}},
		},
		Keys: []config.Key{{Name: "k", Key: "sk-client"}},
	}
	if edit != nil {
		edit(cfg)
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRetrySameDeployment(t *testing.T) {
	limited := `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`
	tests := []struct {
		name        string
		a           []func(http.ResponseWriter, []byte)
		edit        func(*config.Config)
		wantDep     string
		wantA       int
		wantMinWait time.Duration
		wantLog     string
	}{
		{"500 once then healthy: same deployment", []func(http.ResponseWriter, []byte){statusStep(500, "", `{"error":{"message":"boom"}}`), okStep},
			nil, "a", 2, 0, "a:retried(500), a:ok"},
		{"429 with Retry-After 1: waited out, same deployment", []func(http.ResponseWriter, []byte){statusStep(429, "1", limited), okStep},
			nil, "a", 2, 900 * time.Millisecond, "a:retried(429), a:ok"},
		{"429 without Retry-After: fallback at once", []func(http.ResponseWriter, []byte){statusStep(429, "", limited), okStep},
			nil, "b", 1, 0, "a:failed(429), b:ok"},
		{"429 with a Retry-After beyond the bound: fallback", []func(http.ResponseWriter, []byte){statusStep(429, "30", limited), okStep},
			nil, "b", 1, 0, "a:failed(429), b:ok"},
		{"500 twice: retries spent, fallback", []func(http.ResponseWriter, []byte){statusStep(500, "", `{}`)},
			nil, "b", 2, 0, "a:retried(500), a:failed(500), b:ok"},
		{"retries 0: fallback at once", []func(http.ResponseWriter, []byte){statusStep(500, "", `{}`), okStep},
			func(c *config.Config) { zero := 0; c.Routes[0].Retries = &zero }, "b", 1, 0, "a:failed(500), b:ok"},
		{"deployment retries override the route", []func(http.ResponseWriter, []byte){statusStep(503, "", `{}`), statusStep(503, "", `{}`), okStep},
			func(c *config.Config) { two := 2; c.Deployments[0].Retries = &two }, "a", 3, 0, "a:retried(503), a:retried(503), a:ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ua := &scriptedUpstream{script: tt.a}
			ub := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){okStep}}
			g := retryEnv(t, ua, ub, tt.edit)
			start := time.Now()
			rec := post(g, "/v1/chat/completions", chat("chat", 5))
			if rec.Code != 200 || rec.Header().Get(headerDeployment) != tt.wantDep {
				t.Fatalf("%d via %q: %s", rec.Code, rec.Header().Get(headerDeployment), rec.Body)
			}
			if ua.count() != tt.wantA {
				t.Errorf("deployment a saw %d requests, want %d", ua.count(), tt.wantA)
			}
			if got := rec.Header().Get(headerAttemptLog); got != tt.wantLog {
				t.Errorf("attempt log %q, want %q", got, tt.wantLog)
			}
			if el := time.Since(start); el < tt.wantMinWait {
				t.Errorf("answered after %v; the Retry-After asked for %v", el, tt.wantMinWait)
			}
		})
	}
}

// A 4xx that is the client's fault is never retried, on any deployment.
func TestClientErrorNotRetried(t *testing.T) {
	ua := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){statusStep(400, "", `{"error":{"message":"bad","type":"invalid_request_error","code":"invalid_value"}}`)}}
	ub := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){okStep}}
	g := retryEnv(t, ua, ub, nil)
	rec := post(g, "/v1/chat/completions", chat("chat", 5))
	if rec.Code != 400 || ua.count() != 1 || ub.count() != 0 {
		t.Fatalf("%d, a saw %d, b saw %d: %s", rec.Code, ua.count(), ub.count(), rec.Body)
	}
}

// An upstream context-length refusal goes to context_fallbacks (else the
// fallbacks), never resent unchanged.
func TestUpstreamContextLengthFallsBack(t *testing.T) {
	tooLong := `{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`
	for _, viaContext := range []bool{true, false} {
		ua := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){statusStep(400, "", tooLong)}}
		ub := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){okStep}}
		g := retryEnv(t, ua, ub, func(c *config.Config) {
			if viaContext {
				c.Routes[0].Fallbacks = nil
				c.Routes[0].ContextFallbacks = []string{"other"}
			}
		})
		rec := post(g, "/v1/chat/completions", chat("chat", 5))
		if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" || ua.count() != 1 {
			t.Fatalf("context_fallbacks=%v: %d via %q, a saw %d: %s", viaContext, rec.Code, rec.Header().Get(headerDeployment), ua.count(), rec.Body)
		}
	}
}

// A stream cut mid-answer is continued on the fallback: the client gets
// the whole answer once, with one [DONE], and the continuation regenerates
// (OpenAI takes no prefill) and sends only what extends the client's text.
func TestStreamCutContinues(t *testing.T) {
	words := []string{"one", " two", " three", " four", " five", " six"}
	for _, hold := range []bool{false, true} {
		ua := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){streamStep(words, 3)}}
		ub := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){streamStep(words, -1)}}
		g := retryEnv(t, ua, ub, func(c *config.Config) {
			zero := 0
			c.Routes[0].Retries = &zero
			c.Routes[0].HoldBack = hold
		})
		srv := httptest.NewServer(g)
		body := `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count"}]}`
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk-client")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		text, dones, usages, ids := parseOpenAIStream(t, string(raw))
		if text != strings.Join(words, "") || dones != 1 || usages != 1 || len(ids) != 1 {
			t.Fatalf("hold=%v: text %q, %d [DONE], %d usage chunks, ids %v:\n%s", hold, text, dones, usages, ids, raw)
		}
		log := resp.Trailer.Get(headerAttemptLog)
		want := "a:cut@13(cut), b:restarted@13(regenerate), b:ok"
		if hold {
			want = "a:held-back(cut), b:ok"
		}
		if log != want {
			t.Errorf("hold=%v: attempt log %q, want %q", hold, log, want)
		}
		if n := resp.Trailer.Get(headerAttempts); n != "2" {
			t.Errorf("hold=%v: x-llmux-attempts trailer %q, want 2 (the providers saw two requests)", hold, n)
		}
	}
}

func parseOpenAIStream(t *testing.T, raw string) (text string, dones, usages int, ids map[string]bool) {
	ids = map[string]bool{}
	for _, line := range strings.Split(raw, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			dones++
			continue
		}
		var c struct {
			ID      string `json:"id"`
			Error   any    `json:"error"`
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if c.Error != nil {
			t.Fatalf("error event: %s", data)
		}
		ids[c.ID] = true
		if c.Usage != nil {
			usages++
		}
		for _, ch := range c.Choices {
			text += ch.Delta.Content
		}
	}
	return text, dones, usages, ids
}

// A client that leaves while its request waits out a Retry-After stops
// the request at once: the handler returns and the deployment is not
// asked again.
func TestClientLeavesDuringRetryWait(t *testing.T) {
	limited := `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`
	ua := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){statusStep(429, "4", limited), okStep}}
	ub := &scriptedUpstream{script: []func(http.ResponseWriter, []byte){okStep}}
	g := retryEnv(t, ua, ub, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/chat/completions", strings.NewReader(chat("chat", 5)))
	req.Header.Set("Authorization", "Bearer sk-client")
	done := make(chan struct{})
	go func() {
		g.ServeHTTP(httptest.NewRecorder(), req)
		close(done)
	}()
	for ua.count() == 0 {
		time.Sleep(time.Millisecond) // until the 429 arrived
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the handler kept waiting out the Retry-After after the client left")
	}
	if ua.count() != 1 || ub.count() != 0 {
		t.Fatalf("after the client left: a saw %d requests, b %d; want 1 and 0", ua.count(), ub.count())
	}
}

// FuzzSplice feeds arbitrary events to a continuation's splicer over an
// arbitrary transcript: it may refuse (errDiverged) but never panics.
func FuzzSplice(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, fm := range []format{formatOpenAI, formatAnthropic} {
		evs := eventsFor(fm, r, "x", answer{text: "hello world", calls: []testCall{{"t", `{"a":1}`}}})
		for i := range evs {
			f.Add(uint8(fm), evs[0].name, evs[0].data, evs[i].name, evs[i].data, i%2 == 0)
		}
	}
	f.Fuzz(func(t *testing.T, fm uint8, name1 string, data1 []byte, name2 string, data2 []byte, prefill bool) {
		f2 := formatOpenAI
		if fm%2 == 1 {
			f2 = formatAnthropic
		}
		tr := readTranscript(f2, []recorded{{name: name1, data: data1}})
		mode := spliceRegenerate
		if prefill {
			mode = splicePrefill
		}
		sp := newSplicer(f2, &capture{}, tr, mode, " ")
		_ = sp.Event(name1, data1)
		_ = sp.Event(name2, data2)
	})
}
