package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/llmux/llmux/internal/api/sse"
)

// fuzzPaths are the request handlers every fuzz input is sent to.
var fuzzPaths = []call{
	{path: "/v1/chat/completions", header: openaiAuth()},
	{path: "/v1/embeddings", header: openaiAuth()},
	{path: "/openai/deployments/dep/chat/completions?api-version=2024-10-21", header: azureAuth()},
	{path: "/openai/v1/embeddings", header: azureAuth()},
	{path: "/v1/messages", header: anthropicAuth()},
	{path: "/v1/messages/count_tokens", header: anthropicAuth()},
}

// FuzzHandlers sends arbitrary bodies to every request handler. A body
// must never panic a handler; one that is not JSON must get 400; every
// answer must be a 200 or a 400, in JSON or a well-formed event stream.
// Seeds: the golden requests and testdata/fuzz/FuzzHandlers.
func FuzzHandlers(f *testing.F) {
	for _, tc := range goldenCases {
		if tc.call.body != "" {
			f.Add([]byte(tc.call.body))
		}
	}
	for _, s := range []string{``, `{`, `null`, `[]`, `{"model":1}`, `{"messages":"x"}`, `{"input":[[1],["a"]]}`,
		`{"model":"m","max_tokens":3,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x"}]}]}`} {
		f.Add([]byte(s))
	}
	keys := []Key{{Key: openaiKey, Provider: ProviderOpenAI}, {Key: azureKey, Provider: ProviderAzure}, {Key: anthropicKey, Provider: ProviderAnthropic}}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newTestServer(t, func(c *Config) { c.Keys = keys })
		for _, p := range fuzzPaths {
			p.body = string(body)
			w := serve(s, p)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%s: status %d: %s", p.path, w.Code, w.Body)
			}
			if !json.Valid(body) && w.Code != http.StatusBadRequest {
				t.Fatalf("%s: invalid JSON answered %d", p.path, w.Code)
			}
			checkWellFormed(t, p.path, w.Header().Get("Content-Type"), w.Body.Bytes())
		}
	})
}

// checkWellFormed fails unless body is one JSON value or an event stream
// whose every data is JSON (or [DONE]).
func checkWellFormed(t *testing.T, path, contentType string, body []byte) {
	t.Helper()
	if contentType != "text/event-stream" {
		if !json.Valid(body) {
			t.Fatalf("%s: body is not JSON: %q", path, body)
		}
		return
	}
	r := sse.NewReader(bytes.NewReader(body))
	for {
		ev, err := r.Next()
		if err != nil {
			return
		}
		if !json.Valid(ev.Data) && !bytes.Equal(ev.Data, []byte("[DONE]")) {
			t.Fatalf("%s: event data is not JSON: %q", path, ev.Data)
		}
	}
}
