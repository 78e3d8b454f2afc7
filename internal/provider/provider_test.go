package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// recorded is what a fake upstream saw.
type recorded struct {
	method, path, query string
	header              http.Header
	body                string
}

func upstream(t *testing.T, status int, respHeader map[string]string, respBody string) (*httptest.Server, *recorded) {
	t.Helper()
	rec := &recorded{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*rec = recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(b)}
		for k, v := range respHeader {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, respBody)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func TestAdaptersBuildRequests(t *testing.T) {
	tests := []struct {
		name      string
		provider  string
		basePath  string
		version   string
		op        Op
		wantPath  string
		wantQuery string
		wantAuth  map[string]string
		absent    []string
	}{
		{"openai chat", "openai", "/v1", "", OpChat, "/v1/chat/completions", "",
			map[string]string{"Authorization": "Bearer sk-secret"}, []string{"api-key", "x-api-key"}},
		{"openai embeddings", "openai", "/v1", "", OpEmbeddings, "/v1/embeddings", "",
			map[string]string{"Authorization": "Bearer sk-secret"}, nil},
		{"compatible", "openai-compatible", "/v1", "", OpChat, "/v1/chat/completions", "",
			map[string]string{"Authorization": "Bearer sk-secret"}, nil},
		{"azure classic", "azure", "", "2024-10-21", OpChat, "/openai/deployments/my-dep/chat/completions", "api-version=2024-10-21",
			map[string]string{"api-key": "sk-secret"}, []string{"Authorization"}},
		{"azure classic embeddings", "azure", "", "2024-10-21", OpEmbeddings, "/openai/deployments/my-dep/embeddings", "api-version=2024-10-21",
			map[string]string{"api-key": "sk-secret"}, nil},
		{"azure v1", "azure", "/openai/v1", "", OpChat, "/openai/v1/chat/completions", "",
			map[string]string{"api-key": "sk-secret"}, []string{"Authorization"}},
		{"anthropic", "anthropic", "", "", OpChat, "/v1/messages", "",
			map[string]string{"x-api-key": "sk-secret", "anthropic-version": "2023-06-01"}, []string{"Authorization"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, rec := upstream(t, 200, map[string]string{"Content-Type": "application/json"}, `{}`)
			a, err := New(config.Account{Name: "acc", Provider: tt.provider, BaseURL: srv.URL + tt.basePath,
				APIKey: "sk-secret", APIVersion: tt.version, Headers: map[string]string{"X-Extra": "1"}}, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.Send(context.Background(), &Request{Op: tt.op, Model: "my-dep", Body: []byte(`{"model":"my-dep"}`)})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if rec.path != tt.wantPath || rec.query != tt.wantQuery {
				t.Errorf("sent to %s?%s, want %s?%s", rec.path, rec.query, tt.wantPath, tt.wantQuery)
			}
			for k, v := range tt.wantAuth {
				if got := rec.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.absent {
				if rec.header.Get(k) != "" {
					t.Errorf("header %s sent, want absent", k)
				}
			}
			if rec.header.Get("X-Extra") != "1" || rec.body != `{"model":"my-dep"}` {
				t.Errorf("extra header %q body %q not forwarded", rec.header.Get("X-Extra"), rec.body)
			}
		})
	}
}

func TestAnthropicRejectsEmbeddings(t *testing.T) {
	a, _ := New(config.Account{Name: "a", Provider: "anthropic", BaseURL: "http://127.0.0.1:1", APIKey: "k"}, http.DefaultClient)
	_, err := a.Send(context.Background(), &Request{Op: OpEmbeddings})
	var pe *Error
	if !errors.As(err, &pe) || pe.Class != ClassClient {
		t.Fatalf("err = %v, want a client-class *Error", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   Class
		code   string
	}{
		{"openai tpm 429", 429, nil, `{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`, ClassRateLimited, "rate_limit_exceeded"},
		{"openai quota 429", 429, nil, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`, ClassAccount, "insufficient_quota"},
		{"azure 429", 429, nil, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation..."}}`, ClassRateLimited, "429"},
		{"anthropic 429", 429, nil, `{"type":"error","error":{"type":"rate_limit_error","message":"..."}}`, ClassRateLimited, "rate_limit_error"},
		{"anthropic spend cap", 429, nil, `{"type":"error","error":{"type":"rate_limit_error","message":"...","details":{"error_code":"enforced_spend_limit_reached"}}}`, ClassAccount, "enforced_spend_limit_reached"},
		{"anthropic 529", 529, nil, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, ClassRetryable, "overloaded_error"},
		{"500", 500, nil, `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`, ClassRetryable, "server_error"},
		{"503 garbage", 503, nil, `<html>`, ClassRetryable, ""},
		{"408", 408, nil, ``, ClassRetryable, ""},
		{"401 bad provider key", 401, nil, `{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}`, ClassAccount, "invalid_api_key"},
		{"404 deployment", 404, nil, `{"error":{"code":"DeploymentNotFound","message":"..."}}`, ClassAccount, "DeploymentNotFound"},
		{"400 context", 400, nil, `{"error":{"message":"maximum context length","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`, ClassClient, "context_length_exceeded"},
		{"400 should-retry", 400, map[string]string{"x-should-retry": "true"}, `{}`, ClassRetryable, ""},
		{"422", 422, nil, `{}`, ClassClient, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := upstream(t, tt.status, tt.header, tt.body)
			a, _ := New(config.Account{Name: "acc", Provider: "openai", BaseURL: srv.URL, APIKey: "sk-secret"}, srv.Client())
			_, err := a.Send(context.Background(), &Request{Op: OpChat, Body: []byte(`{}`)})
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Class != tt.want || pe.Code != tt.code || pe.Status != tt.status {
				t.Errorf("class %v code %q status %d, want %v %q %d", pe.Class, pe.Code, pe.Status, tt.want, tt.code, tt.status)
			}
			if string(pe.Body) != tt.body {
				t.Errorf("body = %q, want the upstream body", pe.Body)
			}
			if strings.Contains(pe.Error(), "sk-secret") {
				t.Errorf("error %q contains the provider key", pe.Error())
			}
		})
	}
}

func TestTransportFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close() // reset before any response
	}))
	defer srv.Close()
	a, _ := New(config.Account{Name: "acc", Provider: "anthropic", BaseURL: srv.URL, APIKey: "sk-secret"}, srv.Client())
	_, err := a.Send(context.Background(), &Request{Op: OpChat, Body: []byte(`{}`)})
	var pe *Error
	if !errors.As(err, &pe) || pe.Class != ClassRetryable || pe.Status != 0 {
		t.Fatalf("err = %#v, want retryable transport error", err)
	}
	if strings.Contains(err.Error(), "sk-secret") {
		t.Fatalf("error %q contains the key", err)
	}
}

func TestTimeoutAppliesAndBodyCloseReleases(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	a, _ := New(config.Account{Name: "acc", Provider: "openai", BaseURL: srv.URL, APIKey: "k", Timeout: 50 * time.Millisecond}, srv.Client())
	_, err := a.Send(context.Background(), &Request{Op: OpChat, Body: []byte(`{}`)})
	var pe *Error
	if !errors.As(err, &pe) || pe.Class != ClassRetryable || !IsTimeout(err) {
		t.Fatalf("err = %v, want retryable timeout", err)
	}
}

func TestParseLimits(t *testing.T) {
	now := time.Date(2025, 8, 21, 12, 40, 0, 0, time.UTC)
	tests := []struct {
		name   string
		parse  func(http.Header, time.Time) Limits
		header map[string]string
		check  func(t *testing.T, l Limits)
	}{
		{"openai go durations", parseOpenAILimits, map[string]string{
			"x-ratelimit-limit-requests": "5000", "x-ratelimit-remaining-requests": "4999", "x-ratelimit-reset-requests": "12ms",
			"x-ratelimit-limit-tokens": "160000", "x-ratelimit-remaining-tokens": "159976", "x-ratelimit-reset-tokens": "1m51.535s",
		}, func(t *testing.T, l Limits) {
			want := Limits{Requests: Bucket{true, 5000, 4999, 12 * time.Millisecond},
				Tokens: Bucket{true, 160000, 159976, time.Minute + 51535*time.Millisecond}}
			if l != want {
				t.Errorf("got %+v, want %+v", l, want)
			}
		}},
		{"azure seconds and -1", parseAzureLimits, map[string]string{
			"x-ratelimit-limit-requests": "20", "x-ratelimit-remaining-requests": "19", "x-ratelimit-reset-requests": "10",
			"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "0",
			"retry-after-ms": "2000", "retry-after": "60",
		}, func(t *testing.T, l Limits) {
			if l.Requests != (Bucket{true, 20, 19, 10 * time.Second}) || l.Tokens.Known {
				t.Errorf("got %+v", l)
			}
			if l.RetryAfter != 2*time.Second {
				t.Errorf("retry-after-ms must win: %v", l.RetryAfter)
			}
		}},
		{"anthropic rfc3339", parseAnthropicLimits, map[string]string{
			"anthropic-ratelimit-requests-limit": "1000", "anthropic-ratelimit-requests-remaining": "999",
			"anthropic-ratelimit-requests-reset":     "2025-08-21T12:40:59Z",
			"anthropic-ratelimit-input-tokens-limit": "80000", "anthropic-ratelimit-input-tokens-remaining": "80000",
			"anthropic-ratelimit-input-tokens-reset":  "2025-08-21T12:40:00Z",
			"anthropic-ratelimit-output-tokens-limit": "16000", "anthropic-ratelimit-output-tokens-remaining": "16000",
			"anthropic-ratelimit-output-tokens-reset": "garbage",
			"retry-after": "7",
		}, func(t *testing.T, l Limits) {
			if l.Requests != (Bucket{true, 1000, 999, 59 * time.Second}) {
				t.Errorf("requests %+v", l.Requests)
			}
			if l.InputTokens != (Bucket{true, 80000, 80000, 0}) || l.OutputTokens != (Bucket{true, 16000, 16000, 0}) {
				t.Errorf("tokens %+v %+v", l.InputTokens, l.OutputTokens)
			}
			if l.RetryAfter != 7*time.Second || l.Tokens.Known {
				t.Errorf("retry %v tokens %+v", l.RetryAfter, l.Tokens)
			}
		}},
		{"retry-after http date", parseOpenAILimits, map[string]string{
			"retry-after": now.Add(30 * time.Second).Format(http.TimeFormat),
		}, func(t *testing.T, l Limits) {
			if l.RetryAfter != 30*time.Second {
				t.Errorf("RetryAfter = %v, want 30s", l.RetryAfter)
			}
		}},
		{"garbage everywhere", parseOpenAILimits, map[string]string{
			"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "1",
			"retry-after": "soon", "retry-after-ms": "-5",
		}, func(t *testing.T, l Limits) {
			if l != (Limits{}) {
				t.Errorf("got %+v, want zero", l)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			tt.check(t, tt.parse(h, now))
		})
	}
}

func FuzzParseLimits(f *testing.F) {
	f.Add("5000", "4999", "12ms", "2000", "1")
	f.Add("-1", "-1", "0", "", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("1e99", "NaN", "2025-08-21T12:40:59Z", "1e300", "Inf")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retryMs, retry string) {
		h := http.Header{}
		h.Set("x-ratelimit-limit-tokens", limit)
		h.Set("x-ratelimit-remaining-tokens", remaining)
		h.Set("x-ratelimit-reset-tokens", reset)
		h.Set("anthropic-ratelimit-tokens-limit", limit)
		h.Set("anthropic-ratelimit-tokens-remaining", remaining)
		h.Set("anthropic-ratelimit-tokens-reset", reset)
		h.Set("retry-after-ms", retryMs)
		h.Set("retry-after", retry)
		now := time.Now()
		for _, p := range []func(http.Header, time.Time) Limits{parseOpenAILimits, parseAzureLimits, parseAnthropicLimits} {
			l := p(h, now)
			if l.RetryAfter < 0 || l.Tokens.Reset < 0 || l.Tokens.Remaining < 0 {
				t.Fatalf("negative value from %q: %+v", []string{limit, remaining, reset, retryMs, retry}, l)
			}
		}
	})
}
