package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"unknown provider", Config{Keys: []Key{{Key: "k", Provider: "gemini"}}}, []string{`keys[0].provider: unknown provider "gemini"`}},
		{"empty key", Config{Keys: []Key{{Provider: ProviderOpenAI}}}, []string{"keys[0].key: empty"}},
		{"duplicate key", Config{Keys: []Key{{Key: "k", Provider: ProviderOpenAI}, {Key: "k", Provider: ProviderAzure}}}, []string{"keys[1].key: duplicate key"}},
		{"negative limit", Config{Keys: []Key{{Key: "k", Provider: ProviderOpenAI, RPM: -1}}}, []string{"limits must not be negative"}},
		{"itpm on openai", Config{Keys: []Key{{Key: "k", Provider: ProviderOpenAI, ITPM: 5}}}, []string{"not ITPM/OTPM"}},
		{"tpm on anthropic", Config{Keys: []Key{{Key: "k", Provider: ProviderAnthropic, TPM: 5}}}, []string{"not TPM"}},
		{"unknown fault", Config{Faults: []Fault{{Kind: "explode"}}}, []string{`faults[0].kind: unknown fault kind "explode"`}},
		{"fault status", Config{Faults: []Fault{{Kind: FaultStatus, Status: 200}}}, []string{"faults[0].status: 200 is not an error status"}},
		{"fault rate", Config{Faults: []Fault{{Kind: FaultReset, Rate: 1.5}}}, []string{"faults[0].rate"}},
		{"fault key", Config{Faults: []Fault{{Kind: FaultReset, Key: "ghost"}}}, []string{"faults[0].key: not a configured key"}},
		{"time scale", Config{TimeScale: -1}, []string{"time_scale"}},
		{"latency order", Config{Latency: Latency{TTFTMedian: time.Second, TTFTP99: time.Millisecond}}, []string{"ttft_median <= ttft_p99"}},
		{"all at once", Config{Keys: []Key{{Key: "k", Provider: "x"}}, Faults: []Fault{{Kind: "y"}}}, []string{"unknown provider", "unknown fault kind"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil {
				t.Fatal("New accepted a bad config")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewZeroConfig(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(s, call{path: "/v1/chat/completions", header: openaiAuth(), body: chatBody})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401 with no keys configured", w.Code)
	}
}

func TestStatsCountsPerKey(t *testing.T) {
	s := newTestServer(t, nil)
	serve(s, call{path: "/v1/chat/completions", header: openaiAuth(), body: chatBody})
	serve(s, call{path: "/v1/chat/completions", header: openaiAuth(), body: `{"model":"x"}`})
	serve(s, call{path: "/v1/messages", header: anthropicAuth(), body: messagesBody})
	serve(s, call{path: "/v1/messages", header: map[string]string{"x-api-key": "bad", "anthropic-version": "2023-06-01"}, body: messagesBody})

	w := serve(s, call{method: "GET", path: "/sim/stats"})
	var st Stats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("decode /sim/stats: %v: %s", err, w.Body)
	}
	o := st.Keys[openaiKey]
	if o.Requests != 2 || o.OK != 1 || o.Errors != 1 || o.InputTokens != 23 || o.OutputTokens != 27 {
		t.Errorf("openai key stats = %+v", o)
	}
	a := st.Keys[anthropicKey]
	if a.Requests != 1 || a.OK != 1 || a.InputTokens != 20 {
		t.Errorf("anthropic key stats = %+v", a)
	}
	if st.Unauthorized != 1 || st.Totals.Requests != 3 || st.Totals.OK != 2 {
		t.Errorf("totals = %+v, unauthorized %d", st.Totals, st.Unauthorized)
	}
	for _, field := range []string{`"rate_limited"`, `"input_tokens"`, `"output_tokens"`, `"totals"`} {
		if !strings.Contains(w.Body.String(), field) {
			t.Errorf("/sim/stats lacks %s: %s", field, w.Body)
		}
	}
}

func TestDeterministicAcrossServers(t *testing.T) {
	run := func() string {
		s := newTestServer(t, func(c *Config) { c.Seed = 42 })
		var b strings.Builder
		for _, tc := range goldenCases {
			b.Write(serve(s, tc.call).Body.Bytes())
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Error("two servers with the same config answered the same requests differently")
	}
}
