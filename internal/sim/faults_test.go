package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestStatusFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		call   call
		status int
		body   string
	}{
		{"openai 500", Fault{Kind: FaultStatus, Status: 500}, chatReq(chatBody), 500,
			`{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}`},
		{"openai 503", Fault{Kind: FaultStatus, Status: 503}, chatReq(chatBody), 503,
			`{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`},
		{"openai default status", Fault{Kind: FaultStatus}, chatReq(chatBody), 500, `"type":"server_error"`},
		{"anthropic 529", Fault{Kind: FaultStatus, Status: 529}, messagesCallOf(messagesBody), 529,
			`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_`},
		{"anthropic 500", Fault{Kind: FaultStatus, Status: 500}, messagesCallOf(messagesBody), 500, `"type":"api_error"`},
		{"azure 503", Fault{Kind: FaultStatus, Status: 503}, call{path: "/openai/v1/chat/completions", header: azureAuth(), body: chatBody}, 503,
			`{"error":{"code":"503","message":"The service is temporarily unable to process your request. Please try again later."}}`},
		{"azure 500", Fault{Kind: FaultStatus, Status: 500}, call{path: "/openai/v1/chat/completions", header: azureAuth(), body: chatBody}, 500,
			`"type":"server_error"`},
		{"embeddings 502", Fault{Kind: FaultStatus, Status: 502}, call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"m","input":"x"}`}, 502, "Bad gateway."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(c *Config) { c.Faults = []Fault{tc.fault} })
			w := serve(s, tc.call)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("got %d %s, want %d with %s", w.Code, w.Body, tc.status, tc.body)
			}
		})
	}
}

func TestFaultRateAndKey(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultStatus, Status: 500, Rate: 0.5, Key: openaiKey}}
	})
	failed := 0
	for range 200 {
		if serve(s, chatReq(chatBody)).Code == 500 {
			failed++
		}
	}
	if failed < 70 || failed > 130 {
		t.Errorf("%d of 200 requests failed at rate 0.5", failed)
	}
	for range 20 {
		if w := serve(s, messagesCallOf(messagesBody)); w.Code != 200 {
			t.Fatalf("a fault for another key hit the anthropic key: %d", w.Code)
		}
	}
	if st := s.Stats().Keys[openaiKey]; st.Errors != int64(failed) || st.OK != int64(200-failed) {
		t.Errorf("stats %+v after %d faults", st, failed)
	}
}

// post sends c to a real server and returns the response (or error).
func post(ctx context.Context, srv *httptest.Server, c call) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		return nil, err
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return srv.Client().Do(req)
}

func TestResetBeforeResponse(t *testing.T) {
	for _, c := range []call{chatReq(chatBody), chatReq(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`), messagesCallOf(messagesBody)} {
		s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultReset}} })
		srv := httptest.NewServer(s)
		resp, err := post(context.Background(), srv, c)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: got a response (%d), want a dropped connection", c.path, resp.StatusCode)
		}
		srv.Close()
		if st := s.Stats().Totals; st.Errors != 1 {
			t.Errorf("stats %+v, want one error", st)
		}
	}
}

// streamText reads an SSE body and returns the concatenated text deltas
// of OpenAI or Anthropic events, whether [DONE] or message_stop arrived,
// and the read error.
func streamText(r io.Reader) (text string, done bool, err error) {
	sc := bufio.NewScanner(r)
	var b strings.Builder
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" || strings.Contains(data, `"type":"message_stop"`) {
			done = true
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
			Delta struct{ Text string } `json:"delta"`
		}
		if json.Unmarshal([]byte(data), &ev) != nil {
			return b.String(), done, errors.New("bad event data: " + data)
		}
		for _, c := range ev.Choices {
			b.WriteString(c.Delta.Content)
		}
		b.WriteString(ev.Delta.Text)
	}
	return b.String(), done, sc.Err()
}

func TestResetMidStream(t *testing.T) {
	for _, c := range []call{
		chatReq(`{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello there"}]}`),
		messagesCallOf(`{"model":"c","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}`),
	} {
		s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultReset, AfterTokens: 4}} })
		srv := httptest.NewServer(s)
		resp, err := post(context.Background(), srv, c)
		if err != nil {
			t.Fatal(err)
		}
		text, done, err := streamText(resp.Body)
		resp.Body.Close()
		if done || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: done=%v err=%v, want a cut stream", c.path, done, err)
		}
		if text != "sim reply to: Hello" {
			t.Errorf("%s: received %q before the reset, want the first 4 tokens", c.path, text)
		}
		srv.Close()
		if st := s.Stats().Totals; st.Errors != 1 || st.OutputTokens != 4 {
			t.Errorf("stats %+v, want one error with 4 output tokens", st)
		}
	}
}

func TestStallUntilClientCancels(t *testing.T) {
	base := runtime.NumGoroutine()
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultStall, AfterTokens: 2}} })
	srv := httptest.NewServer(s)
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := post(ctx, srv, chatReq(`{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello there"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	// Read up to the stall: the role chunk and one 2-token chunk.
	br := bufio.NewReader(resp.Body)
	for events := 0; events < 2; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read before the stall: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	cancel()
	resp.Body.Close()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }() // Close waits for every handler to return
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled handler did not return after the client cancelled")
	}
	waitGoroutines(t, base)
	if st := s.Stats().Totals; st.Errors != 1 || st.OutputTokens != 2 {
		t.Errorf("stats %+v, want one error after 2 tokens", st)
	}
}

func TestStallNonStreamUntilClientCancels(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultStall}} })
	srv := httptest.NewServer(s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := post(ctx, srv, messagesCallOf(messagesBody)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the client's deadline", err)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled handler did not return after the client gave up")
	}
}

// waitGoroutines waits (briefly) for the goroutine count to drop back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for runtime.NumGoroutine() > base {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("goroutines: %d, started with %d", runtime.NumGoroutine(), base)
		}
	}
}

// fastLatency makes real-time tests quick: TTFT 1µs, a million tokens/s.
var fastLatency = Latency{TTFTMedian: time.Microsecond, TTFTP99: time.Microsecond, TTFTMax: time.Microsecond, TokensPerSecond: 1e6}

func TestTimedFaults(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		stream bool
	}{
		{"stall mid-stream", Fault{Kind: FaultStall, AfterTokens: 2, Delay: 40 * time.Millisecond}, true},
		{"stall non-stream", Fault{Kind: FaultStall, Delay: 40 * time.Millisecond}, false},
		{"slow first token stream", Fault{Kind: FaultSlowFirstToken, Delay: 40 * time.Millisecond}, true},
		{"slow first token", Fault{Kind: FaultSlowFirstToken, Delay: 40 * time.Millisecond}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(c *Config) {
				c.TimeScale, c.Latency, c.Faults = 1, fastLatency, []Fault{tc.fault}
			})
			body := `{"model":"m","messages":[{"role":"user","content":"Hello there"}]}`
			if tc.stream {
				body = `{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello there"}]}`
			}
			start := time.Now()
			w := serve(s, chatReq(body))
			if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
				t.Errorf("answered in %v, want at least the 40ms delay", elapsed)
			}
			if w.Code != 200 || (tc.stream && !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n")) {
				t.Errorf("the delayed response did not complete: %d %s", w.Code, w.Body)
			}
		})
	}
}

func TestTimeScaleZeroSkipsFaultDelays(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultSlowFirstToken, Delay: time.Hour}, {Kind: FaultStall, Delay: time.Hour}}
	})
	if w := serve(s, chatReq(chatBody)); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
}

func TestGarbage(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultGarbage}} })
	w := serve(s, chatReq(chatBody))
	if w.Code != 200 || json.Valid(w.Body.Bytes()) {
		t.Errorf("non-stream garbage: %d valid=%v", w.Code, json.Valid(w.Body.Bytes()))
	}
	w = serve(s, messagesCallOf(`{"model":"c","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}`))
	if _, _, err := streamText(bytes.NewReader(w.Body.Bytes())); w.Code != 200 || err == nil {
		t.Errorf("stream garbage parsed cleanly: %d %q", w.Code, w.Body)
	}
	if st := s.Stats().Totals; st.Errors != 2 {
		t.Errorf("garbage counted as %+v, want 2 errors", st)
	}
}

func TestAdminFaults(t *testing.T) {
	s := newTestServer(t, nil)
	w := serve(s, call{method: "PUT", path: "/sim/faults", body: `[{"kind":"status","status":529,"key":"` + anthropicKey + `"},{"kind":"stall","delay":"2s","after_tokens":3}]`})
	if w.Code != 200 {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	want := `[{"kind":"status","status":529,"rate":1,"key":"` + anthropicKey + `"},{"kind":"stall","rate":1,"after_tokens":3,"delay":"2s"}]`
	if got := serve(s, call{method: "GET", path: "/sim/faults"}).Body.String(); strings.TrimSpace(got) != want {
		t.Errorf("GET /sim/faults = %s, want %s", got, want)
	}
	if w := serve(s, messagesCallOf(messagesBody)); w.Code != 529 {
		t.Errorf("fault not applied: %d", w.Code)
	}
	for _, bad := range []string{`[{"kind":"boom"}]`, `[{"kind":"stall","delay":"soon"}]`, `[{"kind":"reset","color":"red"}]`, `{`} {
		if w := serve(s, call{method: "PUT", path: "/sim/faults", body: bad}); w.Code != 400 || !strings.Contains(w.Body.String(), `"error":"sim: faults:`) {
			t.Errorf("PUT %s: %d %s, want 400", bad, w.Code, w.Body)
		}
	}
	if w := serve(s, call{method: "DELETE", path: "/sim/faults"}); w.Code != 204 {
		t.Errorf("DELETE: %d", w.Code)
	}
	if w := serve(s, messagesCallOf(messagesBody)); w.Code != 200 {
		t.Errorf("fault survived DELETE: %d", w.Code)
	}
	s.SetFaults([]Fault{{Kind: "nonsense"}, {Kind: FaultStatus, Status: 503}})
	if w := serve(s, chatReq(chatBody)); w.Code != 503 {
		t.Errorf("SetFaults: %d, want 503 (the invalid fault dropped)", w.Code)
	}
}
