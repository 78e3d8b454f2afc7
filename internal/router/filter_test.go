package router

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/config"
)

func TestCapable(t *testing.T) {
	tests := []struct {
		name    string
		has     Capabilities
		needs   Capabilities
		missing Capabilities
		reason  string
	}{
		{"needs nothing", 0, 0, 0, "kept"},
		{"has all", capAll, CapTools | CapImages | CapJSON | CapStreaming, 0, "kept"},
		{"subset", CapTools | CapStreaming, CapStreaming, 0, "kept"},
		{"lacks one", CapTools | CapStreaming, CapImages | CapStreaming, CapImages, "lacks images"},
		{"lacks two", CapStreaming, CapTools | CapJSON | CapStreaming, CapTools | CapJSON, "lacks tools, json"},
		{"has none", 0, CapStreaming, CapStreaming, "lacks streaming"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := capable(tt.has, &Request{Needs: tt.needs})
			if r.missing != tt.missing || r.text(nil, nil) != tt.reason {
				t.Errorf("capable = %+v, want %q (missing %v)", r, tt.reason, tt.missing)
			}
			if ok := r.kind == kept; ok != (tt.missing == 0) {
				t.Errorf("kept = %v", ok)
			}
			if r.kind != kept && r.filter() != FilterCapabilities {
				t.Errorf("filter = %q", r.filter())
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name   string
		tiers  []string
		tier   string
		reason string
	}{
		{"no tiers serves a tier", nil, "free", "kept"},
		{"no tiers serves no tier", nil, "", "kept"},
		{"listed", []string{"enterprise", "pro"}, "pro", "kept"},
		{"not listed", []string{"enterprise", "pro"}, "free", `tier "free" not served (tiers: enterprise, pro)`},
		{"key without tier", []string{"pro"}, "", "no tier not served (tiers: pro)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, req := &config.Deployment{Tiers: tt.tiers}, &Request{Tier: tt.tier}
			r := allowed(d, req)
			if got := r.text(d, req); got != tt.reason {
				t.Errorf("allowed = %q, want %q", got, tt.reason)
			}
			if r.kind != kept && r.filter() != FilterTier {
				t.Errorf("filter = %q", r.filter())
			}
		})
	}
}

func TestFits(t *testing.T) {
	const window = 100_000
	exact := func(n int) func(string) int { return func(string) int { return n } }
	tests := []struct {
		name     string
		window   int
		in, out  int
		exact    func(string) int
		reason   string
		counted  bool // ExactInput was called
		wantNeed int
	}{
		{"fits", window, 50_000, 4_000, nil, "kept", false, 0},
		{"exactly the window", window, 96_000, 4_000, nil, "kept", false, 0},
		{"one over", window, 96_001, 4_000, nil, "needs 100001 tokens, window 100000", false, 100_001},
		{"far over, no exact count asked", window, 200_000, 0, exact(1), "needs 200000 tokens, window 100000", false, 200_000},
		{"far under, no exact count asked", window, 10_000, 0, exact(1e6), "kept", false, 0},
		{"over by an estimate, fits exactly", window, 105_000, 1_000, exact(98_000), "kept", true, 0},
		{"under by an estimate, over exactly", window, 95_000, 1_000, exact(99_500), "needs 100500 tokens (exact count), window 100000", true, 100_500},
		{"edge of the 10% band (90%)", window, 89_000, 1_000, exact(1), "kept", true, 0},
		{"edge of the 10% band (110%)", window, 109_000, 1_000, exact(1), "kept", true, 0},
		{"past the band (110% + 1)", window, 109_001, 1_000, exact(1), "needs 110001 tokens, window 100000", false, 110_001},
		{"no window fits all", 0, 1 << 30, 1 << 20, nil, "kept", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			req := Request{InputTokens: tt.in, OutputTokens: tt.out}
			if tt.exact != nil {
				req.ExactInput = func(f string) int {
					called = true
					if f != "gpt-4o" {
						t.Errorf("ExactInput(%q), want the family gpt-4o", f)
					}
					return tt.exact(f)
				}
			}
			d := &config.Deployment{Model: "gpt-4o-2024-08-06", Family: "gpt-4o", ContextWindow: tt.window}
			var counts exactCounts
			r := fits(d, &req, &counts)
			if got := r.text(d, &req); got != tt.reason || r.need != tt.wantNeed {
				t.Errorf("fits = %q (need %d), want %q (need %d)", got, r.need, tt.reason, tt.wantNeed)
			}
			if called != tt.counted {
				t.Errorf("ExactInput called = %v, want %v", called, tt.counted)
			}
		})
	}
}

func TestExactCountsOncePerFamily(t *testing.T) {
	calls := map[string]int{}
	count := func(f string) int { calls[f]++; return len(f) }
	var e exactCounts
	families := []string{"a", "bb", "a", "ccc", "dddd", "eeeee", "bb", "eeeee", "a"}
	for _, f := range families {
		if got := e.count(f, count); got != len(f) {
			t.Fatalf("count(%q) = %d", f, got)
		}
	}
	// Four families fit; the fifth is counted each time.
	want := map[string]int{"a": 1, "bb": 1, "ccc": 1, "dddd": 1, "eeeee": 2}
	for f, n := range want {
		if calls[f] != n {
			t.Errorf("ExactInput(%q) called %d times, want %d", f, calls[f], n)
		}
	}
}

func TestCheckOrder(t *testing.T) {
	// One reason per deployment: the first filter that fails, cheap first.
	d := &config.Deployment{ContextWindow: 10, Tiers: []string{"pro"}}
	req := Request{InputTokens: 100, Needs: CapImages, Tier: "free"}
	if r := check(d, CapTools, &req, &exactCounts{}); r.filter() != FilterCapabilities {
		t.Errorf("filter = %q, want capabilities first", r.filter())
	}
	if r := check(d, capAll, &req, &exactCounts{}); r.filter() != FilterTier {
		t.Errorf("filter = %q, want tier", r.filter())
	}
	req.Tier = "pro"
	req.Admit = func(*config.Deployment) bool { return false }
	if r := check(d, capAll, &req, &exactCounts{}); r.filter() != FilterVariant {
		t.Errorf("filter = %q, want variant", r.filter())
	}
	req.Admit = func(*config.Deployment) bool { return true }
	if r := check(d, capAll, &req, &exactCounts{}); r.filter() != FilterContext {
		t.Errorf("filter = %q, want context", r.filter())
	}
}

func TestAdmitLeavesOutDeployments(t *testing.T) {
	cfg := &config.Config{
		Deployments: []config.Deployment{
			{Name: "gpt", Model: "gpt-4o", Family: "gpt-4o"},
			{Name: "claude", Model: "claude-x", Family: "claude-x"},
		},
		Routes: []config.Route{{Name: "chat", Deployments: []string{"gpt", "claude"}, MaxAttempts: 2}},
	}
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	onlyClaude := func(d *config.Deployment) bool { return d.Family == "claude-x" }
	p, err := r.Plan(Request{Route: "chat", Admit: onlyClaude})
	if err != nil || len(p.Candidates) != 1 || p.Candidates[0].Name != "claude" {
		t.Fatalf("Plan = %+v, %v; want claude only", p, err)
	}
	_, err = r.Plan(Request{Route: "chat", Admit: func(*config.Deployment) bool { return false }})
	var none *NoCandidateError
	if !errors.As(err, &none) || !none.Only(FilterVariant) {
		t.Fatalf("err = %v; want a NoCandidateError from the variant filter", err)
	}
	if !strings.Contains(none.Error(), "no variant for gpt-4o") {
		t.Errorf("error %q does not say why", none.Error())
	}
}

func TestCapabilities(t *testing.T) {
	for _, name := range []string{"tools", "images", "json", "streaming"} {
		c, ok := ParseCapability(name)
		if !ok || c.String() != name {
			t.Errorf("ParseCapability(%q) = %v, %v", name, c, ok)
		}
	}
	if _, ok := ParseCapability("vision"); ok {
		t.Error("ParseCapability(vision) ok")
	}
	if got := (CapStreaming | CapTools).Names(); !slices.Equal(got, []string{"tools", "streaming"}) {
		t.Errorf("Names = %v", got)
	}
	if got := Capabilities(0).String(); got != "none" {
		t.Errorf("String(0) = %q", got)
	}
	tests := []struct {
		names []string
		want  Capabilities
	}{
		{nil, capAll}, // built in code: all
		{[]string{}, 0},
		{[]string{"json", "tools"}, CapJSON | CapTools},
	}
	for _, tt := range tests {
		if got, err := parseCapabilities(tt.names); err != nil || got != tt.want {
			t.Errorf("parseCapabilities(%#v) = %v, %v; want %v", tt.names, got, err, tt.want)
		}
	}
	if _, err := parseCapabilities([]string{"tools", "vision"}); err == nil {
		t.Error("parseCapabilities accepted vision")
	}
}
