package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/router"
)

// A request no deployment can ever serve gets an immediate 400 that says
// why, per deployment — not a wait, not a timeout.
func TestNoCapableDeployment(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Capabilities = []string{"streaming"}
		c.Deployments[1].Capabilities = []string{"streaming", "json"}
		c.Deployments[0].ContextWindow = 1000
		c.Deployments[1].ContextWindow = 1000
	})
	tests := []struct {
		name, body, code, reason string
	}{
		{"tools", `{"model":"two","max_tokens":5,"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`,
			"no_capable_deployment", "lacks tools"},
		{"context", `{"model":"two","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}`,
			"context_length_exceeded", "window 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(env.g, "/v1/chat/completions", tt.body)
			body := rec.Body.String()
			if rec.Code != 400 || !strings.Contains(body, tt.code) || !strings.Contains(body, tt.reason) ||
				!strings.Contains(body, "a:") || !strings.Contains(body, "b:") {
				t.Fatalf("%d %s", rec.Code, body)
			}
		})
	}
	if st := env.sim.Stats(); st.Totals.Requests != 0 {
		t.Fatalf("%d upstream requests for requests nobody can serve", st.Totals.Requests)
	}
}

// A tier-restricted deployment serves only keys of its tiers.
func TestTierFilter(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Tiers = []string{"free"} // the key is "pro"
	})
	for i := 0; i < 3; i++ {
		rec := post(env.g, "/v1/chat/completions", chat("two", 5))
		if rec.Code != 200 || rec.Header().Get(headerDeployment) != "b" {
			t.Fatalf("%d via %q", rec.Code, rec.Header().Get(headerDeployment))
		}
	}
}

func TestNeeds(t *testing.T) {
	tests := []struct {
		body   string
		stream bool
		want   string
	}{
		{`{"messages":[{"role":"user","content":"hi"}]}`, false, "none"},
		{`{"tools":[{"type":"function"}],"messages":[]}`, false, "tools"},
		{`{"tools":[],"messages":[]}`, false, "none"},
		{`{"messages":[{"content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, false, "images"},
		{`{"messages":[{"content":[{"type":"image","source":{}}]}]}`, true, "images, streaming"},
		{`{"response_format":{"type":"json_object"},"messages":[]}`, false, "json"},
		{`{"messages":[{"role":"user","content":"\"tools\": are quoted here"}]}`, false, "none"},
	}
	for _, tt := range tests {
		got := needs(&call{body: []byte(tt.body), stream: tt.stream}).String()
		if got != tt.want {
			t.Errorf("needs(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestAdminExplain(t *testing.T) {
	env := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].Capabilities = []string{"streaming"}
	})
	req := httptest.NewRequest("POST", "/admin/route/explain?tier=pro",
		strings.NewReader(`{"model":"two","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer admin-secret")
	rec := httptest.NewRecorder()
	env.g.ServeHTTP(rec, req)
	var ex router.Explanation
	if err := json.Unmarshal(rec.Body.Bytes(), &ex); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(ex.Order) != 1 || ex.Order[0] != "b" || ex.Deployments[0].Kept || !strings.Contains(ex.Deployments[0].Reason, "tools") {
		t.Fatalf("explanation %+v", ex)
	}
	if st := env.sim.Stats(); st.Totals.Requests != 0 {
		t.Fatal("explain sent a request upstream")
	}
}

// Near a context window the router asks for an exact count, which can
// admit a prompt the over-estimate would have refused.
func TestExactCountNearWindow(t *testing.T) {
	prompt := strings.Repeat("hello world ", 300) // ~600 tokens exactly, estimated higher
	body := `{"model":"one","max_tokens":10,"messages":[{"role":"user","content":"` + prompt + `"}]}`
	env := newLimitsEnv(t, func(*config.Config) {})
	c, _ := scanChat(formatOpenAI, []byte(body))
	c.key = &config.Key{}
	exact := env.g.exactInput(c.f, c.base, "gpt-4o-mini")
	env.g.cost(context.Background(), c, &env.g.cfg.Deployments[0])
	promptEst := c.base.estimates["gpt-4o-mini"].Prompt
	if exact < 600 || exact > 620 || promptEst <= exact {
		t.Fatalf("exact %d, estimate %d: want exact ≈ 603 and the estimate above it", exact, promptEst)
	}
	// A window the estimate overshoots by under 10% but the exact count
	// fits: the router counts exactly and serves it.
	window := int(float64(promptEst+10) / 1.09)
	if window < exact+10 {
		t.Fatalf("test setup: window %d below the exact need %d", window, exact+10)
	}
	env2 := newLimitsEnv(t, func(c *config.Config) {
		c.Deployments[0].ContextWindow = window
	})
	if rec := post(env2.g, "/v1/chat/completions", body); rec.Code != 200 {
		t.Fatalf("a prompt that fits exactly was refused: %d %s", rec.Code, rec.Body)
	}
}
