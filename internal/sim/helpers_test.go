package sim

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test keys, one per provider, with limits large enough not to interfere.
const (
	openaiKey    = "sk-test-openai-0123456789"
	azureKey     = "azure-test-key-0123456789"
	anthropicKey = "sk-ant-test-0123456789"
)

// epoch is the injected "now" of every test that does not move time.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testKeys() []Key {
	return []Key{
		{Key: openaiKey, Provider: ProviderOpenAI, RPM: 1000, TPM: 1000000},
		{Key: azureKey, Provider: ProviderAzure, RPM: 6000, TPM: 1000000},
		{Key: anthropicKey, Provider: ProviderAnthropic, RPM: 1000, ITPM: 1000000, OTPM: 200000},
	}
}

// newTestServer returns a simulator with the test keys, no delays and the
// frozen clock, and modify applied to its config.
func newTestServer(t testing.TB, modify func(*Config)) *Server {
	t.Helper()
	cfg := Config{Seed: 1, Keys: testKeys(), Now: func() time.Time { return epoch }}
	if modify != nil {
		modify(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// call is one request to the simulator.
type call struct {
	method, path string
	header       map[string]string
	body         string
}

// auth headers per provider.
func openaiAuth() map[string]string { return map[string]string{"Authorization": "Bearer " + openaiKey} }
func azureAuth() map[string]string  { return map[string]string{"api-key": azureKey} }
func anthropicAuth() map[string]string {
	return map[string]string{"x-api-key": anthropicKey, "anthropic-version": "2023-06-01"}
}

func (c call) request() *http.Request {
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	r := httptest.NewRequest(method, c.path, strings.NewReader(c.body))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	return r
}

// serve runs c through s in process.
func serve(s http.Handler, c call) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, c.request())
	return w
}

// dump renders a response as the golden files hold it: status, headers
// sorted (Date left out), a blank line, the raw body.
func dump(status int, h http.Header, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP %d %s\n", status, http.StatusText(status))
	names := make([]string, 0, len(h))
	for k := range h {
		if k != "Date" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString(strings.ToLower(k) + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.Bytes()
}
