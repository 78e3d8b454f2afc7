package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// wire is one provider surface the fault matrix runs on.
type wire struct {
	name  string
	model string // what a fault's Model matches: the body's model, or Azure's deployment
	call  func(stream bool, messages string) call
}

// wires are OpenAI, Azure (classic route: the deployment is in the path)
// and Anthropic, each asking model for an answer to messages (a JSON
// array).
var wires = []wire{
	{"openai", "gpt-4o-mini", func(stream bool, messages string) call {
		return call{path: "/v1/chat/completions", header: openaiAuth(),
			body: fmt.Sprintf(`{"model":"gpt-4o-mini","stream":%v,"stream_options":%s,"messages":%s}`, stream, usageOption(stream), messages)}
	}},
	{"azure", "my-gpt", func(stream bool, messages string) call {
		return call{path: "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21", header: azureAuth(),
			body: fmt.Sprintf(`{"stream":%v,"stream_options":%s,"messages":%s}`, stream, usageOption(stream), messages)}
	}},
	{"anthropic", "claude-sonnet-4-5", func(stream bool, messages string) call {
		return call{path: "/v1/messages", header: anthropicAuth(),
			body: fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":100,"stream":%v,"messages":%s}`, stream, messages)}
	}},
}

func usageOption(stream bool) string {
	if stream {
		return `{"include_usage":true}`
	}
	return "null"
}

const (
	helloMessages   = `[{"role":"user","content":"Hello there"}]`
	prefillMessages = `[{"role":"user","content":"Hello there"},{"role":"assistant","content":"sim reply"}]`
)

// requestID hides Anthropic's request_id, which the seed decides.
var requestID = regexp.MustCompile(`"request_id":"req_[0-9A-Za-z]+"`)

// TestErrorFaults runs every fault that answers with an error status on
// every wire, streamed and not: the exact body, and retry-after and
// retry-after-ms present with the right values or absent.
func TestErrorFaults(t *testing.T) {
	const (
		// "Hello there" is a 9-token prompt on every wire.
		oaiContext    = `{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 128009 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`
		antContext    = `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 200009 tokens > 200000 maximum"},"request_id":"req_X"}`
		oaiFilter     = `{"error":{"message":"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.","type":"invalid_request_error","param":"prompt","code":"content_filter"}}`
		azureFilter   = `{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":true,"severity":"medium"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}}}`
		oaiPrefill    = `{"error":{"message":"This model does not support assistant message prefill. The conversation must end with a user message.","type":"invalid_request_error","param":"messages","code":null}}`
		antPrefill    = `{"type":"error","error":{"type":"invalid_request_error","message":"This model does not support assistant message prefill. The conversation must end with a user message."},"request_id":"req_X"}`
		oai503        = `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":null}}`
		azure503      = `{"error":{"code":"503","message":"The service is temporarily unable to process your request. Please try again later."}}`
		ant503        = `{"type":"error","error":{"type":"api_error","message":"Internal server error"},"request_id":"req_X"}`
		ant429        = `{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached (simulated fault)."},"request_id":"req_X"}`
		ant429Retry   = `{"type":"error","error":{"type":"rate_limit_error","message":"Rate limit reached (simulated fault). Please try again in 1.5s."},"request_id":"req_X"}`
		oai429        = `{"error":{"message":"Rate limit reached (simulated fault).","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
		oai429Retry   = `{"error":{"message":"Rate limit reached (simulated fault). Please try again in 1.5s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
		azure429      = `{"error":{"code":"429","message":"Rate limit is exceeded."}}`
		azure429Retry = `{"error":{"code":"429","message":"Rate limit is exceeded. Try again in 2 seconds."}}`
	)
	retry := 1500 * time.Millisecond
	tests := []struct {
		name     string
		fault    Fault
		messages string
		status   int
		bodies   [3]string // openai, azure, anthropic
		retry    [3]string // retry-after, "" = absent
		retryMS  [3]string // retry-after-ms, "" = absent
	}{
		{"429 with retry_after", Fault{Kind: FaultStatus, Status: 429, RetryAfter: retry}, helloMessages, 429,
			[3]string{oai429Retry, azure429Retry, ant429Retry}, [3]string{"2", "2", "2"}, [3]string{"1500", "1500", ""}},
		{"429 without retry_after", Fault{Kind: FaultStatus, Status: 429}, helloMessages, 429,
			[3]string{oai429, azure429, ant429}, [3]string{}, [3]string{}},
		{"503 without retry_after", Fault{Kind: FaultStatus, Status: 503}, helloMessages, 503,
			[3]string{oai503, azure503, ant503}, [3]string{}, [3]string{}},
		{"context_length", Fault{Kind: FaultContextLength}, helloMessages, 400,
			[3]string{oaiContext, oaiContext, antContext}, [3]string{}, [3]string{}},
		{"content_filter", Fault{Kind: FaultContentFilter}, helloMessages, 400,
			[3]string{oaiFilter, azureFilter, ""}, [3]string{}, [3]string{}}, // anthropic: TestContentFilterAnthropicRefuses
		{"prefill_rejected", Fault{Kind: FaultPrefillRejected}, prefillMessages, 400,
			[3]string{oaiPrefill, oaiPrefill, antPrefill}, [3]string{}, [3]string{}},
		{"flapping, failing period", Fault{Kind: FaultFlapping, Delay: time.Minute}, helloMessages, 503,
			[3]string{oai503, azure503, ant503}, [3]string{}, [3]string{}},
	}
	for _, tc := range tests {
		for i, wr := range wires {
			if tc.bodies[i] == "" {
				continue
			}
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", tc.name, wr.name, stream), func(t *testing.T) {
					s := newTestServer(t, func(c *Config) { c.Faults = []Fault{tc.fault} })
					w := serve(s, wr.call(stream, tc.messages))
					body := requestID.ReplaceAllString(w.Body.String(), `"request_id":"req_X"`)
					if w.Code != tc.status || body != tc.bodies[i] {
						t.Errorf("got %d %s\nwant %d %s", w.Code, body, tc.status, tc.bodies[i])
					}
					if ct := w.Header().Get("Content-Type"); ct != "application/json" {
						t.Errorf("content-type %q", ct)
					}
					for _, h := range []struct{ name, want string }{{"retry-after", tc.retry[i]}, {"retry-after-ms", tc.retryMS[i]}} {
						got, present := w.Header()[http.CanonicalHeaderKey(h.name)]
						if h.want == "" && present || h.want != "" && (len(got) != 1 || got[0] != h.want) {
							t.Errorf("%s: %q (present %v), want %q", h.name, got, present, h.want)
						}
					}
				})
			}
		}
	}
}

// cleanResponse is c answered by a server without faults: with the same
// seed and Rate 1 faults (which draw nothing), ids and timestamps match
// the faulted server's byte for byte.
func cleanResponse(t *testing.T, c call) string {
	t.Helper()
	w := serve(newTestServer(t, nil), c)
	if w.Code != 200 {
		t.Fatalf("clean server: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// events splits an SSE body into its events, each with its blank line.
func events(body string) []string {
	var evs []string
	for _, ev := range strings.SplitAfter(body, "\n\n") {
		if ev != "" {
			evs = append(evs, ev)
		}
	}
	return evs
}

// eventData is the data of one event.
func eventData(ev string) string {
	for _, line := range strings.Split(ev, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return d
		}
	}
	return ""
}

func TestMalformedEvent(t *testing.T) {
	for _, wr := range wires {
		for _, after := range []int{0, 4, 1000} {
			t.Run(fmt.Sprintf("%s/after=%d", wr.name, after), func(t *testing.T) {
				s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultMalformedEvent, AfterTokens: after}} })
				c := wr.call(true, helloMessages)
				w := serve(s, c)
				clean := events(cleanResponse(t, c))
				got := events(w.Body.String())
				if w.Code != 200 || len(got) != len(clean)+1 {
					t.Fatalf("%d with %d events, want 200 with the %d clean ones plus one:\n%s", w.Code, len(got), len(clean), w.Body)
				}
				bad := -1
				for i, ev := range got {
					if d := eventData(ev); d != "[DONE]" && !json.Valid([]byte(d)) {
						if bad >= 0 {
							t.Fatalf("a second malformed event: %q", ev)
						}
						bad = i
					}
				}
				if bad < 0 {
					t.Fatal("no malformed event")
				}
				// The bad event is the next one cut short; the rest is the
				// clean stream, byte for byte.
				next := got[bad+1]
				wantBad := strings.Replace(next, eventData(next), string(truncated([]byte(eventData(next)))), 1)
				if got[bad] != wantBad {
					t.Errorf("malformed event %q, want %q", got[bad], wantBad)
				}
				rest := append(append([]string(nil), got[:bad]...), got[bad+1:]...)
				if strings.Join(rest, "") != strings.Join(clean, "") {
					t.Errorf("without the malformed event the stream differs from a clean one:\n%s", w.Body)
				}
				text, _, _ := streamText(strings.NewReader(strings.Join(got[:bad], "")))
				if after == 4 && text != "sim reply to: Hello" {
					t.Errorf("text before the malformed event %q, want the first 4 tokens", text)
				}
				if after == 0 && text != "" {
					t.Errorf("text before the malformed event %q, want none", text)
				}
				if st := s.Stats(); st.Totals.OK != 1 || st.Models[wr.model].Faults != 1 {
					t.Errorf("stats %+v, want one ok request with a fault", st)
				}
			})
		}
	}
}

func TestMalformedEventIsCutAfterDelta(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultMalformedEvent, AfterTokens: 2}} })
	w := serve(s, wires[0].call(true, helloMessages))
	if !strings.Contains(w.Body.String(), `"choices":[{"index":0,"delta":`+"\n\n") {
		t.Errorf("no event cut after \"delta\": %s", w.Body)
	}
}

func TestNoDone(t *testing.T) {
	for _, wr := range wires {
		t.Run(wr.name, func(t *testing.T) {
			s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultNoDone}} })
			c := wr.call(true, helloMessages)
			w := serve(s, c)
			clean := events(cleanResponse(t, c))
			want := strings.Join(clean[:len(clean)-1], "")
			if w.Code != 200 || w.Body.String() != want {
				t.Fatalf("got %d\n%s\nwant the clean stream without its last event:\n%s", w.Code, w.Body, want)
			}
			last := clean[len(clean)-1]
			if wr.name == "anthropic" {
				if last != "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n" {
					t.Errorf("dropped %q, want message_stop", last)
				}
				if !strings.Contains(w.Body.String(), `"stop_reason":"end_turn"`) || !strings.Contains(w.Body.String(), `"output_tokens":`) {
					t.Error("message_delta with stop_reason and usage missing")
				}
			} else {
				if last != "data: [DONE]\n\n" {
					t.Errorf("dropped %q, want [DONE]", last)
				}
				evs := events(w.Body.String())
				if !strings.Contains(evs[len(evs)-2], `"finish_reason":"stop"`) || !strings.Contains(evs[len(evs)-1], `"choices":[],"usage":{`) {
					t.Errorf("the finish chunk and the usage chunk should end the stream:\n%s", w.Body)
				}
			}
		})
	}
}

// TestNoDoneClosesCleanly reads a no_done stream over a real connection:
// it ends with a clean EOF, not a reset.
func TestNoDoneClosesCleanly(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultNoDone}} })
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, wr := range wires {
		resp, err := post(context.Background(), srv, wr.call(true, helloMessages))
		if err != nil {
			t.Fatal(err)
		}
		text, done, err := streamText(resp.Body)
		resp.Body.Close()
		if err != nil || done || !strings.HasPrefix(text, "sim reply to: Hello there") {
			t.Errorf("%s: text %q done %v err %v, want the whole text, no end marker, a clean EOF", wr.name, text, done, err)
		}
	}
}

// TestStreamOnlyFaultsSkipNonStream: non-stream requests are served as
// if malformed_event and no_done were not there, and do not use them up.
func TestStreamOnlyFaultsSkipNonStream(t *testing.T) {
	for _, kind := range []string{FaultMalformedEvent, FaultNoDone} {
		for _, wr := range wires {
			s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: kind, Times: 1}} })
			c := wr.call(false, helloMessages)
			if got, want := serve(s, c).Body.String(), cleanResponse(t, c); got != want {
				t.Errorf("%s %s non-stream: %s, want %s", kind, wr.name, got, want)
			}
			if st := s.Stats().Models[wr.model]; st.Faults != 0 {
				t.Errorf("%s %s: the fault was counted on a non-stream request", kind, wr.name)
			}
		}
	}
}

// rawExchange sends c over a plain TCP connection and returns every byte
// the server sent before closing it.
func rawExchange(t *testing.T, srv *httptest.Server, c call) ([]byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", c.path, len(c.body))
	for k, v := range c.header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n" + c.body)
	start := time.Now()
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(bufio.NewReader(conn))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
	return got, time.Since(start)
}

func TestResetBeforeHeaders(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultResetBeforeHeaders, AfterTokens: 5}} })
	srv := httptest.NewServer(s)
	defer srv.Close()
	n := 0
	for _, wr := range wires {
		for _, stream := range []bool{false, true} {
			if got, _ := rawExchange(t, srv, wr.call(stream, helloMessages)); len(got) != 0 {
				t.Errorf("%s stream=%v: the server sent %q, want no byte", wr.name, stream, got)
			}
			n++
		}
	}
	if st := s.Stats().Totals; st.Errors != int64(n) {
		t.Errorf("stats %+v, want %d errors", st, n)
	}
}

func TestNoResponse(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.TimeScale, c.Latency = 1, fastLatency
		c.Faults = []Fault{{Kind: FaultNoResponse, Delay: 40 * time.Millisecond}}
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, wr := range wires {
		for _, stream := range []bool{false, true} {
			got, took := rawExchange(t, srv, wr.call(stream, helloMessages))
			if len(got) != 0 || took < 40*time.Millisecond {
				t.Errorf("%s stream=%v: %q after %v, want no byte and a close after the 40ms delay", wr.name, stream, got, took)
			}
		}
	}
}

func TestNoResponseUntilClientGivesUp(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultNoResponse}} })
	srv := httptest.NewServer(s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := post(ctx, srv, wires[2].call(true, helloMessages)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the client's deadline", err)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not return after the client gave up")
	}
	if st := s.Stats().Totals; st.Errors != 1 {
		t.Errorf("stats %+v, want one error", st)
	}
}

// TestContentFilterAnthropicRefuses: Anthropic has no content-filter
// error; the fault ends the reply with stop_reason refusal after
// AfterTokens tokens (none by default).
func TestContentFilterAnthropicRefuses(t *testing.T) {
	tests := []struct {
		after  int
		stream bool
		want   string
	}{
		{0, false, `"content":[],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":1,`},
		{4, false, `"content":[{"type":"text","text":"sim reply to: Hello"}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":4,`},
		{4, true, `"delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"input_tokens":9,"output_tokens":4,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`},
	}
	for _, tc := range tests {
		s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultContentFilter, AfterTokens: tc.after}} })
		w := serve(s, wires[2].call(tc.stream, helloMessages))
		if w.Code != 200 || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("after %d stream %v: %d %s\nwant it to contain %s", tc.after, tc.stream, w.Code, w.Body, tc.want)
		}
		if tc.stream {
			if text, done, err := streamText(w.Body); text != "sim reply to: Hello" || !done || err != nil {
				t.Errorf("refused stream: %q done %v err %v", text, done, err)
			}
		}
	}
}

// TestEmbeddingFaults: context_length has the embeddings wording there;
// content_filter and prefill_rejected never match embeddings.
func TestEmbeddingFaults(t *testing.T) {
	emb := call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"text-embedding-3-small","input":"hello world"}`}
	s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultContextLength}} })
	w := serve(s, emb)
	want := `{"error":{"message":"This model's maximum context length is 8192 tokens, however you requested 8195 tokens (8195 in your prompt; 0 for the completion). Please reduce your prompt; or completion length.","type":"invalid_request_error","param":null,"code":null}}`
	if w.Code != 400 || w.Body.String() != want {
		t.Errorf("embeddings context_length: %d %s", w.Code, w.Body)
	}
	s = newTestServer(t, func(c *Config) {
		c.Faults = []Fault{{Kind: FaultContentFilter}, {Kind: FaultPrefillRejected}, {Kind: FaultMalformedEvent}}
	})
	if w := serve(s, emb); w.Code != 200 {
		t.Errorf("chat-only faults hit embeddings: %d %s", w.Code, w.Body)
	}
}

func TestFaultTimes(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Faults = []Fault{
			{Kind: FaultPrefillRejected, Times: 1},
			{Kind: FaultStatus, Status: 500, Times: 2},
		}
	})
	hello, prefill := wires[2].call(false, helloMessages), wires[2].call(false, prefillMessages)
	steps := []struct {
		c    call
		want int
	}{
		{hello, 500},   // prefill_rejected does not match: the 500 takes it
		{prefill, 400}, // the prefill is rejected once
		{prefill, 500}, // then the second 500
		{hello, 200},   // both used up
		{prefill, 200},
		{hello, 200},
	}
	for i, st := range steps {
		if w := serve(s, st.c); w.Code != st.want {
			t.Errorf("request %d: %d %s, want %d", i, w.Code, w.Body, st.want)
		}
	}
	if st := s.Stats().Models["claude-sonnet-4-5"]; st.Requests != 6 || st.Faults != 3 {
		t.Errorf("model stats %+v, want 6 requests, 3 faulted", st)
	}
	// Replacing the set starts the counts afresh.
	s.SetFaults([]Fault{{Kind: FaultStatus, Status: 503, Times: 1}})
	if w := serve(s, hello); w.Code != 503 {
		t.Errorf("after SetFaults: %d", w.Code)
	}
	if w := serve(s, hello); w.Code != 200 {
		t.Errorf("after SetFaults, second request: %d", w.Code)
	}
}

func TestFaultModel(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Faults = []Fault{
			{Kind: FaultStatus, Status: 500, Model: "gpt-4o-mini"},
			{Kind: FaultStatus, Status: 429, Model: "my-gpt"},
			{Kind: FaultStatus, Status: 529, Model: "claude-sonnet-4-5"},
		}
	})
	for _, tc := range []struct {
		c    call
		want int
	}{
		{wires[0].call(false, helloMessages), 500},
		{wires[1].call(false, helloMessages), 429}, // the deployment in the path
		{call{path: "/openai/v1/chat/completions", header: azureAuth(), body: `{"model":"my-gpt","messages":` + helloMessages + `}`}, 429}, // v1: the body's model
		{wires[2].call(false, helloMessages), 529},
		{call{path: "/v1/chat/completions", header: openaiAuth(), body: `{"model":"gpt-4o","messages":` + helloMessages + `}`}, 200},
		{call{path: "/openai/deployments/other/chat/completions?api-version=2024-10-21", header: azureAuth(), body: `{"messages":` + helloMessages + `}`}, 200},
		{call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"gpt-4o-mini","input":"x"}`}, 500},
	} {
		if w := serve(s, tc.c); w.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.c.path, tc.c.body, w.Code, tc.want)
		}
	}
}

// TestFlapping alternates 503 and healthy periods on the injected clock:
// Delay times TimeScale each, failing first, from when the faults were
// set; TimeScale 0 leaves the period at Delay.
func TestFlapping(t *testing.T) {
	for _, tc := range []struct {
		scale  float64
		period time.Duration
	}{{0, 10 * time.Second}, {0.5, 5 * time.Second}} {
		clk := newClock()
		s := newTestServer(t, func(c *Config) {
			c.Now, c.TimeScale, c.Latency = clk.Now, tc.scale, fastLatency
			c.Faults = []Fault{{Kind: FaultFlapping, Delay: 10 * time.Second}}
		})
		p := tc.period
		at := time.Duration(0)
		for _, step := range []struct {
			t    time.Duration
			want int
		}{{0, 503}, {p - time.Millisecond, 503}, {p, 200}, {2*p - time.Millisecond, 200}, {2 * p, 503}, {3*p + time.Second, 200}, {10 * p, 503}} {
			clk.Advance(step.t - at)
			at = step.t
			for _, wr := range wires {
				if w := serve(s, wr.call(false, helloMessages)); w.Code != step.want {
					t.Errorf("scale %v, %s at %v: %d, want %d", tc.scale, wr.name, step.t, w.Code, step.want)
				}
			}
		}
	}
}

func TestNewFaultValidation(t *testing.T) {
	tests := []struct {
		fault Fault
		want  string
	}{
		{Fault{Kind: FaultFlapping}, "faults[0].delay: required for kind flapping"},
		{Fault{Kind: FaultStall, RetryAfter: time.Second}, "faults[0].retry_after: only used by kind status"},
		{Fault{Kind: FaultStatus, Times: -1}, "must not be negative"},
		{Fault{Kind: FaultStatus, RetryAfter: -time.Second}, "must not be negative"},
	}
	for _, tc := range tests {
		if _, err := New(Config{Faults: []Fault{tc.fault}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.fault, err, tc.want)
		}
	}
	for _, kind := range []string{FaultResetBeforeHeaders, FaultNoResponse, FaultMalformedEvent, FaultNoDone,
		FaultContextLength, FaultContentFilter, FaultPrefillRejected} {
		if _, err := New(Config{Faults: []Fault{{Kind: kind}}}); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
}

func TestAdminFaultsNewFields(t *testing.T) {
	s := newTestServer(t, nil)
	body := `[{"kind":"status","status":429,"model":"gpt-4o-mini","times":1,"retry_after":"2s"},{"kind":"flapping","delay":"1m"}]`
	if w := serve(s, call{method: "PUT", path: "/sim/faults", body: body}); w.Code != 200 {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	want := `[{"kind":"status","status":429,"rate":1,"model":"gpt-4o-mini","times":1,"retry_after":"2s"},{"kind":"flapping","rate":1,"delay":"1m0s"}]`
	if got := strings.TrimSpace(serve(s, call{method: "GET", path: "/sim/faults"}).Body.String()); got != want {
		t.Errorf("GET /sim/faults = %s, want %s", got, want)
	}
	w := serve(s, wires[0].call(false, helloMessages))
	if w.Code != 429 || w.Header().Get("retry-after") != "2" || w.Header().Get("retry-after-ms") != "2000" {
		t.Errorf("first request: %d retry-after %q %q", w.Code, w.Header().Get("retry-after"), w.Header().Get("retry-after-ms"))
	}
	if w := serve(s, wires[0].call(false, helloMessages)); w.Code != 503 {
		t.Errorf("second request: %d, want flapping's 503 once the 429 is used up", w.Code)
	}
	for _, bad := range []string{`[{"kind":"flapping"}]`, `[{"kind":"reset","retry_after":"1s"}]`, `[{"kind":"status","retry_after":"soon"}]`, `[{"kind":"status","times":-2}]`} {
		if w := serve(s, call{method: "PUT", path: "/sim/faults", body: bad}); w.Code != 400 {
			t.Errorf("PUT %s: %d %s, want 400", bad, w.Code, w.Body)
		}
	}
}

// TestPrefillRejectedServesOthers: a conversation ending with a user
// message is served as usual, byte for byte, and does not use the fault.
func TestPrefillRejectedServesOthers(t *testing.T) {
	for _, wr := range wires {
		for _, stream := range []bool{false, true} {
			s := newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultPrefillRejected, Times: 1}} })
			c := wr.call(stream, helloMessages)
			if got, want := serve(s, c).Body.String(), cleanResponse(t, c); got != want {
				t.Errorf("%s stream=%v: %s\nwant %s", wr.name, stream, got, want)
			}
			if w := serve(s, wr.call(stream, prefillMessages)); w.Code != 400 {
				t.Errorf("%s stream=%v: the prefill got %d after a user-last request, want the unused fault's 400", wr.name, stream, w.Code)
			}
		}
	}
}
