package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// limitServer is a simulator with one extra key k on an injected clock.
func limitServer(t *testing.T, k Key) (*Server, *clock) {
	t.Helper()
	clk := newClock()
	s := newTestServer(t, func(c *Config) {
		c.Keys = append(c.Keys, k)
		c.Now = clk.Now
	})
	return s, clk
}

// step is one request in a limiter scenario, after advancing the clock.
type step struct {
	advance time.Duration
	status  int
	headers map[string]string // exact header values expected
	body    []string          // substrings of the body
}

func runSteps(t *testing.T, s *Server, clk *clock, c call, steps []step) {
	t.Helper()
	for i, st := range steps {
		clk.Advance(st.advance)
		w := serve(s, c)
		if w.Code != st.status {
			t.Fatalf("step %d: status %d, want %d: %s", i, w.Code, st.status, w.Body)
		}
		for k, v := range st.headers {
			if got := w.Header().Get(k); got != v {
				t.Errorf("step %d: %s = %q, want %q", i, k, got, v)
			}
		}
		for _, b := range st.body {
			if !strings.Contains(w.Body.String(), b) {
				t.Errorf("step %d: body %s lacks %q", i, w.Body, b)
			}
		}
	}
}

const limitedChat = `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"Hello there"}]}` // charge 9+100

func TestOpenAIRequestBucket(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "sk-rpm-limited-000", Provider: ProviderOpenAI, RPM: 3})
	c := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-rpm-limited-000"}, body: limitedChat}
	runSteps(t, s, clk, c, []step{
		{status: 200, headers: map[string]string{"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "2", "x-ratelimit-reset-requests": "20s"}},
		{status: 200},
		{status: 200, headers: map[string]string{"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0s"}},
		{status: 429,
			headers: map[string]string{"retry-after": "20", "x-ratelimit-remaining-requests": "0"},
			body: []string{`"message":"Rate limit reached for gpt-4o-mini in organization org-sim on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more."`,
				`"type":"requests"`, `"param":null`, `"code":"rate_limit_exceeded"`}},
		{advance: 19 * time.Second, status: 429, body: []string{"Please try again in 1s."}},
		{advance: time.Second, status: 200, headers: map[string]string{"x-ratelimit-remaining-requests": "0"}},
	})
	if st := s.Stats().Keys["sk-rpm-limited-000"]; st.RateLimited != 2 || st.OK != 4 {
		t.Errorf("stats %+v, want 2 rate limited and 4 ok", st)
	}
}

func TestOpenAITokenBucket(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "sk-tpm-limited-000", Provider: ProviderOpenAI, TPM: 300})
	c := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-tpm-limited-000"}, body: limitedChat}
	runSteps(t, s, clk, c, []step{
		{status: 200, headers: map[string]string{"x-ratelimit-limit-tokens": "300", "x-ratelimit-remaining-tokens": "191", "x-ratelimit-reset-tokens": "21.8s"}},
		{status: 200, headers: map[string]string{"x-ratelimit-remaining-tokens": "82", "x-ratelimit-reset-tokens": "43.6s"}},
		{status: 429, headers: map[string]string{"retry-after": "6"},
			body: []string{"on tokens per min (TPM): Limit 300, Used 218, Requested 109. Please try again in 5.4s.", `"type":"tokens"`}},
		{advance: 5400 * time.Millisecond, status: 200, headers: map[string]string{"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m0s"}},
	})
	// No max_tokens: charged 4096 per choice, more than the whole limit.
	w := serve(s, call{path: "/v1/chat/completions", header: c.header, body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}]}`})
	if w.Code != 429 || !strings.Contains(w.Body.String(), "Request too large for gpt-4o-mini in organization org-sim on tokens per min (TPM): Limit 300, Requested 4105.") {
		t.Errorf("too large: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("retry-after") != "" {
		t.Error("a request that can never succeed got retry-after")
	}
}

func TestOpenAIResetHeaderFormat(t *testing.T) {
	// providers.md §1.7: 1/5000 × 60 s = 12ms after one request.
	s, _ := limitServer(t, Key{Key: "sk-rpm-5000-00000", Provider: ProviderOpenAI, RPM: 5000, TPM: 160000})
	w := serve(s, call{path: "/v1/embeddings", header: map[string]string{"Authorization": "Bearer sk-rpm-5000-00000"},
		body: `{"model":"text-embedding-3-small","input":"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123"}`})
	if got := w.Header().Get("x-ratelimit-reset-requests"); got != "12ms" {
		t.Errorf("reset-requests %q, want 12ms", got)
	}
	if got := w.Header().Get("x-ratelimit-reset-tokens"); got != "9ms" {
		t.Errorf("reset-tokens %q, want 9ms (24 of 160000)", got)
	}
}

func TestAzureRequestWindow(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "azure-rpm-12", Provider: ProviderAzure, RPM: 12})
	c := call{path: "/openai/deployments/gpt/chat/completions?api-version=2024-10-21", header: map[string]string{"api-key": "azure-rpm-12"}, body: limitedChat}
	// The clock starts at 03:04:05: the 10 s window ends in 5 s.
	runSteps(t, s, clk, c, []step{
		{status: 200, headers: map[string]string{"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "5"}},
		{status: 200},
		{status: 429, headers: map[string]string{"retry-after": "5", "retry-after-ms": "5000", "x-ratelimit-remaining-requests": "0"},
			body: []string{`{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 5 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}`}},
		{advance: 5 * time.Second, status: 200, headers: map[string]string{"x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "10"}},
	})
}

func TestAzureTokenWindow(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "azure-tpm-250", Provider: ProviderAzure, TPM: 250})
	c := call{path: "/openai/v1/chat/completions", header: map[string]string{"api-key": "azure-tpm-250"}, body: limitedChat}
	runSteps(t, s, clk, c, []step{
		{status: 200, headers: map[string]string{"x-ratelimit-limit-tokens": "250", "x-ratelimit-remaining-tokens": "141", "x-ratelimit-reset-tokens": "55"}},
		{status: 200, headers: map[string]string{"x-ratelimit-remaining-tokens": "32"}},
		// A fixed window does not refill gradually: 54 s later it is still full.
		{advance: 54 * time.Second, status: 429, headers: map[string]string{"retry-after": "1", "retry-after-ms": "1000"},
			body: []string{"under Azure OpenAI API version v1 have exceeded token rate limit", "Please retry after 1 seconds."}},
		{advance: time.Second, status: 200, headers: map[string]string{"x-ratelimit-remaining-tokens": "141", "x-ratelimit-reset-tokens": "60"}},
	})
}

const limitedMessages = `{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"Hello there"}]}` // 9 in, 8 out

func anthropicCall(key, body string) call {
	return call{path: "/v1/messages", header: map[string]string{"x-api-key": key, "anthropic-version": "2023-06-01"}, body: body}
}

func TestAnthropicRequestBucket(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "ant-rpm-2", Provider: ProviderAnthropic, RPM: 2})
	runSteps(t, s, clk, anthropicCall("ant-rpm-2", limitedMessages), []step{
		{status: 200, headers: map[string]string{"anthropic-ratelimit-requests-limit": "2", "anthropic-ratelimit-requests-remaining": "1",
			"anthropic-ratelimit-requests-reset": "2026-01-02T03:04:35Z"}},
		{status: 200},
		{status: 429, headers: map[string]string{"retry-after": "30", "anthropic-ratelimit-requests-reset": "2026-01-02T03:05:05Z"},
			body: []string{`{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization (`,
				`) of 2 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.`, `"request_id":"req_`}},
		{advance: 30 * time.Second, status: 200},
	})
}

func TestAnthropicInputBucket(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "ant-itpm-30", Provider: ProviderAnthropic, ITPM: 30})
	runSteps(t, s, clk, anthropicCall("ant-itpm-30", limitedMessages), []step{
		{status: 200, headers: map[string]string{"anthropic-ratelimit-input-tokens-limit": "30", "anthropic-ratelimit-input-tokens-remaining": "21",
			"anthropic-ratelimit-tokens-limit": "30"}},
		{status: 200},
		{status: 200},
		{status: 429, headers: map[string]string{"retry-after": "12"}, body: []string{"of 30 input tokens per minute"}},
		{advance: 12 * time.Second, status: 200},
	})
}

func TestAnthropicOutputBucketChargesActualOutput(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "ant-otpm-10", Provider: ProviderAnthropic, OTPM: 10})
	// max_tokens does not count against OTPM: a huge one is admitted.
	huge := `{"model":"c","max_tokens":100000,"messages":[{"role":"user","content":"Hello there"}],"stop_sequences":["reply"]}`
	runSteps(t, s, clk, anthropicCall("ant-otpm-10", huge), []step{
		{status: 200, headers: map[string]string{"anthropic-ratelimit-output-tokens-remaining": "8"}}, // "sim " is 2 tokens
	})
	runSteps(t, s, clk, anthropicCall("ant-otpm-10", limitedMessages), []step{
		{status: 200, headers: map[string]string{"anthropic-ratelimit-output-tokens-remaining": "0"}},
		{status: 429, headers: map[string]string{"retry-after": "6"}, body: []string{"of 10 output tokens per minute"}},
		// Admitted with one token available, it produces 8: the bucket goes 7 into debt.
		{advance: 6 * time.Second, status: 200, headers: map[string]string{"anthropic-ratelimit-output-tokens-remaining": "0"}},
		{status: 429, headers: map[string]string{"retry-after": "48"}},
		{advance: 48 * time.Second, status: 200},
	})
}

func TestAnthropicStreamSettlesOutput(t *testing.T) {
	s, _ := limitServer(t, Key{Key: "ant-otpm-100", Provider: ProviderAnthropic, OTPM: 100})
	body := `{"model":"c","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}`
	w := serve(s, anthropicCall("ant-otpm-100", body))
	if w.Code != 200 {
		t.Fatalf("stream: %d", w.Code)
	}
	w = serve(s, anthropicCall("ant-otpm-100", limitedMessages))
	if got := w.Header().Get("anthropic-ratelimit-output-tokens-remaining"); got != "84" {
		t.Errorf("after a streamed 8 and a plain 8 output tokens: remaining %q, want 84", got)
	}
}

func TestRateLimitedRequestsCostNothing(t *testing.T) {
	s, clk := limitServer(t, Key{Key: "sk-rpm-one-000000", Provider: ProviderOpenAI, RPM: 1, TPM: 1000})
	c := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-rpm-one-000000"}, body: limitedChat}
	runSteps(t, s, clk, c, []step{
		{status: 200, headers: map[string]string{"x-ratelimit-remaining-tokens": "891"}},
		{status: 429, headers: map[string]string{"x-ratelimit-remaining-tokens": "891"}},
		{status: 429, headers: map[string]string{"x-ratelimit-remaining-tokens": "891"}},
	})
}

func TestLimitHeadersOnEveryMeteredResponse(t *testing.T) {
	s := newTestServer(t, nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, c := range []call{
		{path: "/v1/chat/completions", header: openaiAuth(), body: `{}`},
		{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"m","input":"x"}`},
		{path: "/openai/v1/embeddings", header: azureAuth(), body: `{"model":"m","input":"x"}`},
		{path: "/v1/messages", header: anthropicAuth(), body: `{}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("x-ratelimit-limit-requests") == "" && resp.Header.Get("anthropic-ratelimit-requests-limit") == "" {
			t.Errorf("%s (%d): no rate-limit headers", c.path, resp.StatusCode)
		}
	}
}
