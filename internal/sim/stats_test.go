package sim

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAdmittedTokens checks that AdmittedTokens counts what each provider
// charges at arrival against its token limit (TPM: prompt + max output;
// ITPM: the prompt), and nothing for a request the limits refused.
func TestAdmittedTokens(t *testing.T) {
	s, _ := limitServer(t, Key{Key: "sk-tpm-200-000000", Provider: ProviderOpenAI, TPM: 200})
	oa := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-tpm-200-000000"}, body: limitedChat}
	if w := serve(s, oa); w.Code != 200 {
		t.Fatalf("first openai request: %d %s", w.Code, w.Body)
	}
	if w := serve(s, oa); w.Code != 429 {
		t.Fatalf("second openai request: %d, want 429 (109 + 109 > 200)", w.Code)
	}
	serve(s, call{path: "/openai/deployments/gpt/chat/completions?api-version=2024-10-21", header: azureAuth(), body: limitedChat})
	serve(s, anthropicCall(anthropicKey, limitedMessages))

	st := s.Stats()
	for _, c := range []struct {
		name string
		key  string
		want int64
	}{
		{"openai: prompt 9 + max_tokens 100, the 429 not counted", "sk-tpm-200-000000", 109},
		{"azure: prompt 9 + max_tokens 100", azureKey, 109},
		{"anthropic: the prompt only", anthropicKey, 9},
	} {
		if got := st.Keys[c.key].AdmittedTokens; got != c.want {
			t.Errorf("%s: admitted %d, want %d", c.name, got, c.want)
		}
	}
	if st.Totals.AdmittedTokens != 109+109+9 {
		t.Errorf("totals: admitted %d, want %d", st.Totals.AdmittedTokens, 109+109+9)
	}
}

// TestModelStats checks what a gateway test reads to assert attempts and
// the gaps between them: per model (Azure: per deployment) the requests,
// the faulted ones and when each arrived on the server's clock; limiter
// 429s count, requests refused as malformed do not.
func TestModelStats(t *testing.T) {
	clk := newClock()
	s := newTestServer(t, func(c *Config) {
		c.Now = clk.Now
		c.Keys[0].RPM = 2
		c.Faults = []Fault{{Kind: FaultStatus, Status: 500, Times: 1, Model: "gpt-4o-mini"}}
	})
	serve(s, wires[0].call(false, helloMessages)) // 500 (fault)
	clk.Advance(1500 * time.Millisecond)
	serve(s, wires[0].call(false, helloMessages)) // 200
	clk.Advance(2500 * time.Millisecond)
	if w := serve(s, wires[0].call(false, helloMessages)); w.Code != 429 { // the RPM limit
		t.Fatalf("third request: %d, want the limiter's 429", w.Code)
	}
	serve(s, wires[1].call(false, helloMessages))
	serve(s, chatReq(`{"model":"gpt-4o-mini","messages":[]}`)) // invalid: not counted

	st := s.Stats()
	want := map[string]ModelStats{
		"gpt-4o-mini": {Requests: 3, Faults: 1, Arrivals: []time.Duration{0, 1500 * time.Millisecond, 4 * time.Second}},
		"my-gpt":      {Requests: 1, Arrivals: []time.Duration{4 * time.Second}},
	}
	if !reflect.DeepEqual(st.Models, want) {
		t.Errorf("models %+v, want %+v", st.Models, want)
	}
	w := serve(s, call{method: "GET", path: "/sim/stats"})
	if !strings.Contains(w.Body.String(), `"models":{"gpt-4o-mini":{"requests":3,"faults":1,"arrivals_ms":[0,1500,4000]},"my-gpt":{"requests":1,"faults":0,"arrivals_ms":[4000]}}`) {
		t.Errorf("GET /sim/stats: %s", w.Body)
	}
}

// TestModelStatsKeepsLatestArrivals: past maxArrivals the oldest go.
func TestModelStatsKeepsLatestArrivals(t *testing.T) {
	clk := newClock()
	s := newTestServer(t, func(c *Config) { c.Now = clk.Now })
	const n = maxArrivals + 5
	for range n {
		s.arrive("m", clk.Now())
		clk.Advance(time.Second)
	}
	st := s.Stats().Models["m"]
	if st.Requests != n || len(st.Arrivals) != maxArrivals || st.Arrivals[0] != 5*time.Second || st.Arrivals[maxArrivals-1] != (n-1)*time.Second {
		t.Errorf("requests %d, %d arrivals from %v to %v", st.Requests, len(st.Arrivals), st.Arrivals[0], st.Arrivals[len(st.Arrivals)-1])
	}
}
