package codeindex

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// httpEmbedder calls an OpenAI-compatible embeddings endpoint:
// POST {base}/v1/embeddings {"model": M, "input": [...]}.
type httpEmbedder struct {
	url    string
	model  string
	key    secret
	client *http.Client
	batch  int
	// retries bounds the attempts after a 429 or 5xx answer; wait sleeps
	// between them (replaced in tests).
	retries int
	wait    func(ctx context.Context, d time.Duration) error
}

// secret is an API key that never prints.
type secret string

func (secret) String() string               { return "[redacted]" }
func (secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (s secret) GoString() string           { return s.String() }
func (s secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// NewHTTPEmbedder returns an Embedder for an OpenAI-compatible embeddings
// API at baseURL ("https://api.openai.com" or ".../v1"), sending apiKey
// (if not empty) as a bearer token. It sends batches of up to 64 texts and
// retries 429 and 5xx answers up to 5 times, waiting as retry-after-ms or
// retry-after say (else exponential backoff from 1 s, at most 60 s).
func NewHTTPEmbedder(baseURL, apiKey, model string) Embedder {
	u := strings.TrimRight(baseURL, "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	return &httpEmbedder{
		url: u + "/embeddings", model: model, key: secret(apiKey),
		client: &http.Client{Timeout: 2 * time.Minute}, batch: 64, retries: 5, wait: sleepCtx,
	}
}

func (e *httpEmbedder) Name() string { return "http:" + e.model }

// String describes the embedder without its key (fmt would print
// unexported fields raw, bypassing secret's own String).
func (e *httpEmbedder) String() string   { return "embeddings " + e.model + " at " + e.url }
func (e *httpEmbedder) GoString() string { return e.String() }

// Embed returns one vector per text, in order.
func (e *httpEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for lo := 0; lo < len(texts); lo += e.batch {
		vs, err := e.embedBatch(ctx, texts[lo:min(lo+e.batch, len(texts))])
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

type embedRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embedResponse struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

func (e *httpEmbedder) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, _ := json.Marshal(embedRequest{Model: e.model, Input: texts})
	for attempt := 0; ; attempt++ {
		resp, err := e.post(ctx, body)
		if err != nil {
			return nil, fmt.Errorf("codeindex: embeddings: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("codeindex: embeddings: read: %w", err)
		}
		if resp.StatusCode == http.StatusOK {
			return decodeEmbeddings(data, len(texts))
		}
		retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if !retryable || attempt >= e.retries {
			return nil, fmt.Errorf("codeindex: embeddings: %s: %s", resp.Status, snippetOf(data))
		}
		if err := e.wait(ctx, retryDelay(resp.Header, attempt)); err != nil {
			return nil, err
		}
	}
}

func (e *httpEmbedder) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+string(e.key))
	}
	return e.client.Do(req)
}

func decodeEmbeddings(data []byte, n int) ([][]float32, error) {
	var r embedResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("codeindex: embeddings: decode: %w", err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("codeindex: embeddings: %d vectors for %d inputs", len(r.Data), n)
	}
	out := make([][]float32, n)
	for i, d := range r.Data {
		idx := d.Index
		if idx < 0 || idx >= n || out[idx] != nil {
			idx = i // servers that omit or repeat the index answer in order
		}
		out[idx] = d.Embedding
	}
	for i, v := range out {
		if len(v) == 0 || len(v) != len(out[0]) {
			return nil, fmt.Errorf("codeindex: embeddings: vector %d has %d dimensions", i, len(v))
		}
	}
	return out, nil
}

// retryDelay reads retry-after-ms, then retry-after (seconds or an HTTP
// date); without either it backs off exponentially. It is capped at 60 s.
func retryDelay(h http.Header, attempt int) time.Duration {
	const maxDelay = 60 * time.Second
	d := time.Second << min(attempt, 6)
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
		d = time.Duration(ms * float64(time.Millisecond))
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = time.Until(t)
		}
	}
	return max(0, min(d, maxDelay))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func snippetOf(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
