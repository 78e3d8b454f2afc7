package router

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

func TestExplain(t *testing.T) {
	r, err := New(filterConfig(config.StrategyCost), unavailable{"small": true})
	if err != nil {
		t.Fatal(err)
	}
	r.Headroom = headrooms{"small": 0.8, "text-only": 0.25, "big": 0.5}
	r.Latency = latencies{"big": 420 * time.Millisecond}
	e := r.Explain(Request{Route: "chat", InputTokens: 10_000, OutputTokens: 1_000, Needs: CapStreaming, Tier: "free"})

	want := Explanation{
		Route: "chat", Strategy: "cost", InputTokens: 10_000, OutputTokens: 1_000, Needs: []string{"streaming"}, Tier: "free",
		Deployments: []Verdict{
			// The cheapest, but cooling down: last.
			{Deployment: "small", Kept: true, Reason: "cooling down/circuit open: tried last", Position: 3, Headroom: 0.8, CostUSD: 0.0021},
			{Deployment: "text-only", Kept: true, Position: 2, Available: true, Headroom: 0.25, CostUSD: 0.035},
			{Deployment: "pro-only", Filter: FilterTier, Reason: `tier "free" not served (tiers: pro)`, Available: true, Headroom: 1, CostUSD: 0.045},
			// As cheap as text-only, with more headroom.
			{Deployment: "big", Kept: true, Position: 1, Available: true, Headroom: 0.5, CostUSD: 0.035, TTFTMillis: 420},
		},
		Order:       []string{"big", "text-only", "small"},
		MaxAttempts: 3,
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("Explain =\n%+v\nwant\n%+v", e, want)
	}

	text := `route "chat" (strategy cost, max attempts 3)
request: 10000 input + 1000 output tokens, needs streaming, tier "free"
  1.  big        headroom 0.50  $0.035000  ttft 420ms
  2.  text-only  headroom 0.25  $0.035000
  3.  small      headroom 0.80  $0.002100  cooling down/circuit open: tried last
  -   pro-only   filtered by tier: tier "free" not served (tiers: pro)
`
	if got := e.String(); got != text {
		t.Errorf("String =\n%s\nwant\n%s", got, text)
	}

	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"route":"chat"`, `"order":["big","text-only","small"]`, `"filter":"tier"`, `"ttft_ms":420`, `"kept":false`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("JSON lacks %s:\n%s", s, data)
		}
	}
	var back Explanation
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, e) {
		t.Errorf("JSON round trip = %+v, %v", back, err)
	}
}

func TestExplainNoPlan(t *testing.T) {
	r, err := New(filterConfig(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := r.Explain(Request{Route: "nope"})
	if e.Error != `router: unknown route "nope"` || len(e.Deployments) != 0 {
		t.Errorf("Explain(unknown route) = %+v", e)
	}

	e = r.Explain(Request{Route: "chat", InputTokens: 500_000})
	if !strings.HasPrefix(e.Error, `router: no deployment of route "chat" can serve this request: small: needs 500000 tokens`) {
		t.Errorf("Error = %q", e.Error)
	}
	if len(e.Order) != 0 || e.MaxAttempts != 0 || len(e.Deployments) != 4 || e.Strategy != "round-robin" {
		t.Errorf("Explain(too long) = %+v", e)
	}
	for _, v := range e.Deployments {
		if v.Kept || v.Reason == "" || v.Position != 0 {
			t.Errorf("verdict %+v, want filtered with a reason", v)
		}
	}
	if !strings.Contains(e.String(), "\nerror: router: no deployment") {
		t.Errorf("String lacks the error:\n%s", e)
	}
}
