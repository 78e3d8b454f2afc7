package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

// recordingUpstream answers like OpenAI and keeps the last body it got.
type recordingUpstream struct {
	mu   sync.Mutex
	body []byte
	srv  *httptest.Server
}

const (
	okChat   = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`
	okStream = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
		"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n" +
		"data: [DONE]\n\n"
)

func newRecordingUpstream(t testing.TB) *recordingUpstream {
	u := &recordingUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.body = b
		u.mu.Unlock()
		var scan struct {
			Stream bool `json:"stream"`
		}
		json.Unmarshal(b, &scan)
		if scan.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, okStream)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okChat)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *recordingUpstream) last() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.body
}

func newTestGateway(t testing.TB, upstreamURL string) *Gateway {
	cfg := &config.Config{
		MaxBodyBytes: 1 << 20,
		Accounts:     []config.Account{{Name: "oa", Provider: "openai", BaseURL: upstreamURL + "/v1", APIKey: "sk-upstream-secret"}},
		Deployments: []config.Deployment{{Name: "oa/gpt", Account: "oa", Model: "gpt-4o-mini",
			ContextWindow: 128000, MaxOutput: 4096}},
		Routes: []config.Route{{Name: "chat", Deployments: []string{"oa/gpt"}}},
		Keys:   []config.Key{{Name: "k", Key: "sk-client"}},
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func post(g http.Handler, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-client")
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	return rec
}

// Pass-through changes only the model: unknown fields, their order and
// formatting survive.
func TestPassThroughKeepsBody(t *testing.T) {
	up := newRecordingUpstream(t)
	g := newTestGateway(t, up.srv.URL)
	in := `{"model":"chat",  "messages":[{"role":"user","content":"hi"}],"x_future_field":{"a":[1,2]},"temperature":0.5}`
	rec := post(g, "/v1/chat/completions", in)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	want := `{"model":"gpt-4o-mini",  "messages":[{"role":"user","content":"hi"}],"x_future_field":{"a":[1,2]},"temperature":0.5}`
	if got := string(up.last()); got != want {
		t.Fatalf("upstream got\n%s\nwant\n%s", got, want)
	}
	if rec.Body.String() != okChat {
		t.Fatalf("client got a changed body:\n%s", rec.Body)
	}
	if rec.Header().Get(headerDeployment) != "oa/gpt" || rec.Header().Get(headerAttempts) != "1" {
		t.Fatalf("headers %v", rec.Header())
	}
}

// llmux asks an OpenAI upstream for the usage chunk to meter every stream,
// and removes it again when the client did not ask.
func TestStreamUsageInjectedAndStripped(t *testing.T) {
	up := newRecordingUpstream(t)
	g := newTestGateway(t, up.srv.URL)

	rec := post(g, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if !bytes.Contains(up.last(), []byte(`"stream_options":{"include_usage":true}`)) {
		t.Fatalf("upstream body lacks include_usage: %s", up.last())
	}
	if bytes.Contains(rec.Body.Bytes(), []byte("usage")) {
		t.Fatalf("client got usage it did not ask for:\n%s", rec.Body)
	}
	if n := strings.Count(rec.Body.String(), "data: "); n != 4 {
		t.Fatalf("client got %d events, want 4 (3 chunks + [DONE]):\n%s", n, rec.Body)
	}

	rec = post(g, "/v1/chat/completions", `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Body.String() != okStream {
		t.Fatalf("with include_usage the stream must pass unchanged; got:\n%s", rec.Body)
	}
}

func TestRequestIDsUnique(t *testing.T) {
	up := newRecordingUpstream(t)
	g := newTestGateway(t, up.srv.URL)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		rec := post(g, "/v1/chat/completions", `{}`)
		id := rec.Header().Get(headerRequestID)
		if id == "" || seen[id] {
			t.Fatalf("request id %q empty or repeated", id)
		}
		seen[id] = true
	}
}

// FuzzChatRequest: whatever the body, the gateway answers with a status
// below 500 and a JSON body in the client's format, and never panics.
func FuzzChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"chat","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
		`{"model":"chat","max_tokens":-1,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"chat","messages":[]}`, `{"model":["chat"]}`, `null`, `[]`, `{"model":"chat","messages":"x"}`,
		`{"model":"chat","messages":[{"role":"user","content":null}],"stream_options":{"include_usage":"yes"}}`,
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	up := newRecordingUpstream(f)
	g := newTestGateway(f, up.srv.URL)
	f.Fuzz(func(t *testing.T, body string, anthropic bool) {
		path := "/v1/chat/completions"
		if anthropic {
			path = "/v1/messages"
		}
		rec := post(g, path, body)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if rec.Code != 200 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error body is not JSON: %s", rec.Body)
		}
		if strings.Contains(rec.Body.String(), "sk-upstream-secret") {
			t.Fatal("provider key in a response")
		}
	})
}

func TestDecodeUsage(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
		want int
	}{
		{"openai", okChat, true, 5},
		{"spaced key", `{"choices":[], "usage" : {"prompt_tokens": 9}}`, true, 9},
		{"quoted in content", `{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":1}"}}],"usage":{"prompt_tokens":3}}`, true, 3},
		{"absent", `{"choices":[]}`, false, 0},
		{"null", `{"usage":null}`, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u struct {
				PromptTokens int `json:"prompt_tokens"`
			}
			ok := decodeUsage([]byte(tt.body), &u)
			if ok != tt.ok || u.PromptTokens != tt.want {
				t.Fatalf("decodeUsage = %v, %d; want %v, %d", ok, u.PromptTokens, tt.ok, tt.want)
			}
		})
	}
}

func TestCutOnce(t *testing.T) {
	tests := []struct{ in, pat, want string }{
		{`{"a":1,"usage":null}`, `,"usage":null`, `{"a":1}`},
		{`{"usage":null,"a":1}`, `"usage":null,`, `{"a":1}`},
		{`{"a":1}`, `,"usage":null`, `{"a":1}`},
	}
	for _, tt := range tests {
		if got := string(cutOnce([]byte(tt.in), []byte(tt.pat))); got != tt.want {
			t.Errorf("cutOnce(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
