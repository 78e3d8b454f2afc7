package router

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

type unavailable map[string]bool

func (u unavailable) Available(name string) bool { return !u[name] }

func testConfig() *config.Config {
	return &config.Config{
		Deployments: []config.Deployment{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Routes: []config.Route{
			{Name: "chat", Deployments: []string{"a", "b", "c"}},
			{Name: "two", Deployments: []string{"a", "b", "c"}, MaxAttempts: 2},
		},
	}
}

func names(p *Plan) []string {
	var out []string
	for _, d := range p.Candidates {
		out = append(out, d.Name)
	}
	return out
}

func TestPlanRoundRobin(t *testing.T) {
	r, err := New(testConfig(), unavailable{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}}
	for i, w := range want {
		p, err := r.Plan(Request{Route: "chat"})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(p); !reflect.DeepEqual(got, w) {
			t.Errorf("plan %d = %v, want %v", i, got, w)
		}
		if p.MaxAttempts != 3 {
			t.Errorf("MaxAttempts = %d, want 3", p.MaxAttempts)
		}
	}
}

func TestPlanCoolingLast(t *testing.T) {
	tests := []struct {
		name    string
		cooling unavailable
		want    []string
	}{
		{"none cooling", unavailable{}, []string{"a", "b", "c"}},
		{"first cooling", unavailable{"a": true}, []string{"b", "c", "a"}},
		{"two cooling", unavailable{"a": true, "c": true}, []string{"b", "a", "c"}},
		{"all cooling keeps order", unavailable{"a": true, "b": true, "c": true}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(testConfig(), tt.cooling)
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Plan(Request{Route: "chat"})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanMaxAttemptsAndUnknown(t *testing.T) {
	r, err := New(testConfig(), unavailable{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(Request{Route: "two"})
	if err != nil || p.MaxAttempts != 2 {
		t.Fatalf("MaxAttempts = %v, %v; want 2", p, err)
	}
	_, err = r.Plan(Request{Route: "nope"})
	var unknown *ErrUnknownRoute
	if !errors.As(err, &unknown) || unknown.Route != "nope" {
		t.Fatalf("Plan(nope) error = %v, want ErrUnknownRoute", err)
	}
}

func TestNewRejectsUnknownDeployment(t *testing.T) {
	cfg := testConfig()
	cfg.Routes = append(cfg.Routes, config.Route{Name: "bad", Deployments: []string{"zzz"}})
	if _, err := New(cfg, unavailable{}); err == nil {
		t.Fatal("New accepted a route with an unknown deployment")
	}
}

// headrooms is a Headroom source over a map; missing names have full
// headroom.
type headrooms map[string]float64

func (h headrooms) Headroom(d *config.Deployment) float64 {
	if v, ok := h[d.Name]; ok {
		return v
	}
	return 1
}

// filterConfig has deployments that differ in what they can serve.
func filterConfig(strategy string) *config.Config {
	return &config.Config{
		Deployments: []config.Deployment{
			{Name: "small", Family: "gpt-4o-mini", ContextWindow: 16_000, Price: config.Price{Input: 0.15, Output: 0.6}},
			{Name: "text-only", Family: "gpt-4o", ContextWindow: 128_000, Capabilities: []string{"json", "streaming"}, Price: config.Price{Input: 2.5, Output: 10}},
			{Name: "pro-only", Family: "claude", ContextWindow: 200_000, Tiers: []string{"pro"}, Price: config.Price{Input: 3, Output: 15}},
			{Name: "big", Family: "gpt-4o", ContextWindow: 128_000, Price: config.Price{Input: 2.5, Output: 10}},
		},
		Routes: []config.Route{
			{Name: "chat", Deployments: []string{"small", "text-only", "pro-only", "big"}, Strategy: strategy, MaxAttempts: 3},
		},
	}
}

func TestPlanFilters(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want []string
	}{
		{"everything fits", Request{InputTokens: 100, Tier: "pro"}, []string{"small", "text-only", "pro-only", "big"}},
		{"no tier: pro-only left out", Request{InputTokens: 100}, []string{"small", "text-only", "big"}},
		{"tools: text-only left out", Request{InputTokens: 100, Needs: CapTools, Tier: "pro"}, []string{"small", "pro-only", "big"}},
		{"long: small left out", Request{InputTokens: 20_000, OutputTokens: 1000, Tier: "pro"}, []string{"text-only", "pro-only", "big"}},
		{"longer: only claude", Request{InputTokens: 150_000, Tier: "pro"}, []string{"pro-only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(filterConfig(config.StrategyPriority), nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.req.Route = "chat"
			p, err := r.Plan(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan = %v, want %v", got, tt.want)
			}
			if want := min(3, len(tt.want)); p.MaxAttempts != want {
				t.Errorf("MaxAttempts = %d, want %d", p.MaxAttempts, want)
			}
		})
	}
}

func TestPlanNoCandidate(t *testing.T) {
	r, err := New(filterConfig(""), unavailable{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      Request
		msg      string
		only     string
		rejected []Rejection
	}{
		{
			name: "too long for every window",
			req:  Request{Route: "chat", InputTokens: 300_000, OutputTokens: 1000, Tier: "pro"},
			msg: `router: no deployment of route "chat" can serve this request: small: needs 301000 tokens, window 16000; ` +
				"text-only: needs 301000 tokens, window 128000; pro-only: needs 301000 tokens, window 200000; big: needs 301000 tokens, window 128000",
			only: FilterContext,
		},
		{
			name: "a mix of reasons",
			req:  Request{Route: "chat", InputTokens: 130_000, Needs: CapTools},
			msg: `router: no deployment of route "chat" can serve this request: small: needs 130000 tokens, window 16000; ` +
				`text-only: lacks tools; pro-only: no tier not served (tiers: pro); big: needs 130000 tokens, window 128000`,
			rejected: []Rejection{
				{"small", FilterContext, "needs 130000 tokens, window 16000"},
				{"text-only", FilterCapabilities, "lacks tools"},
				{"pro-only", FilterTier, "no tier not served (tiers: pro)"},
				{"big", FilterContext, "needs 130000 tokens, window 128000"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := r.Plan(tt.req)
			var none *NoCandidateError
			if !errors.As(err, &none) || p != nil {
				t.Fatalf("Plan = %v, %v; want a NoCandidateError", p, err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error =\n%s\nwant\n%s", err, tt.msg)
			}
			if tt.rejected != nil && !reflect.DeepEqual(none.Rejected, tt.rejected) {
				t.Errorf("Rejected = %+v, want %+v", none.Rejected, tt.rejected)
			}
			for _, f := range []string{FilterContext, FilterCapabilities, FilterTier} {
				if got := none.Only(f); got != (f == tt.only) {
					t.Errorf("Only(%s) = %v", f, got)
				}
			}
		})
	}
}

func TestPlanExactInput(t *testing.T) {
	r, err := New(filterConfig(config.StrategyPriority), nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	// 127k estimated is within 10% of the 128k windows (not of 16k or
	// 200k); exactly it is 129k, over them.
	req := Request{Route: "chat", InputTokens: 127_000, Tier: "pro", ExactInput: func(family string) int {
		calls[family]++
		return 129_000
	}}
	p, err := r.Plan(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !reflect.DeepEqual(got, []string{"pro-only"}) {
		t.Errorf("plan = %v, want [pro-only]", got)
	}
	if !reflect.DeepEqual(calls, map[string]int{"gpt-4o": 1}) {
		t.Errorf("ExactInput calls = %v, want gpt-4o once", calls)
	}
}

func TestPlanStrategies(t *testing.T) {
	tests := []struct {
		strategy string
		headroom headrooms
		cooling  unavailable
		req      Request
		want     []string
	}{
		{config.StrategyRoundRobin, headrooms{"small": 0}, nil, Request{}, []string{"small", "text-only", "big"}},
		{config.StrategyPriority, headrooms{"small": 0}, nil, Request{}, []string{"text-only", "big", "small"}},
		{config.StrategyLeastUtilized, headrooms{"small": 0.5, "text-only": 0.2, "big": 0.9}, nil, Request{}, []string{"big", "small", "text-only"}},
		{config.StrategyCost, headrooms{"text-only": 0.4}, nil, Request{InputTokens: 1000}, []string{"small", "big", "text-only"}},
		{config.StrategyCost, headrooms{"small": 0}, nil, Request{InputTokens: 1000}, []string{"text-only", "big", "small"}},
		// Unavailable deployments go last whatever the strategy says.
		{config.StrategyCost, nil, unavailable{"small": true}, Request{InputTokens: 1000}, []string{"text-only", "big", "small"}},
		{config.StrategyLeastUtilized, headrooms{"small": 1, "text-only": 0.1, "big": 0.5}, unavailable{"small": true, "big": true},
			Request{}, []string{"text-only", "small", "big"}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			r, err := New(filterConfig(tt.strategy), tt.cooling)
			if err != nil {
				t.Fatal(err)
			}
			r.Headroom = tt.headroom
			tt.req.Route = "chat" // no tier: pro-only is left out
			p, err := r.Plan(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanRandomAndLatencyFields(t *testing.T) {
	cfg := filterConfig(config.StrategyLatency)
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Set after New, as the gateway does once it has them.
	r.Latency = latencies{"small": 900 * time.Millisecond, "text-only": 100 * time.Millisecond, "big": 500 * time.Millisecond}
	r.Rand = draws(t, 0, 0, 0, 0) // small vs text-only, then small vs big
	p, err := r.Plan(Request{Route: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !reflect.DeepEqual(got, []string{"text-only", "big", "small"}) {
		t.Errorf("plan = %v", got)
	}

	cfg.Routes[0].Strategy = config.StrategyWeighted
	cfg.Deployments[0].Weight, cfg.Deployments[1].Weight, cfg.Deployments[3].Weight = 1, 0, 1
	if r, err = New(cfg, nil); err != nil {
		t.Fatal(err)
	}
	r.Rand = draws(t, 1, 0) // of small+big (2): big; then small
	if p, err = r.Plan(Request{Route: "chat"}); err != nil {
		t.Fatal(err)
	}
	if got := names(p); !reflect.DeepEqual(got, []string{"big", "small", "text-only"}) {
		t.Errorf("plan = %v", got)
	}
}

func TestNewRejects(t *testing.T) {
	cfg := testConfig()
	cfg.Routes[0].Strategy = "fastest-please"
	if _, err := New(cfg, unavailable{}); err == nil || err.Error() != `router: route "chat": unknown strategy "fastest-please"` {
		t.Errorf("New(unknown strategy) = %v", err)
	}
	cfg = testConfig()
	cfg.Deployments[1].Capabilities = []string{"tools", "telepathy"}
	if _, err := New(cfg, unavailable{}); err == nil || err.Error() != `router: deployment "b": unknown capability "telepathy"` {
		t.Errorf("New(unknown capability) = %v", err)
	}
}

// BenchmarkPlan plans for a 6-deployment route under each strategy, with
// headroom and latency sources as the gateway would set them.
func BenchmarkPlan(b *testing.B) {
	for _, strategy := range []string{
		config.StrategyRoundRobin, config.StrategyPriority, config.StrategyWeighted,
		config.StrategyLeastUtilized, config.StrategyLatency, config.StrategyCost,
	} {
		b.Run(strategy, func(b *testing.B) {
			cfg := &config.Config{}
			room := headrooms{}
			ttft := latencies{}
			for i := range 6 {
				name := fmt.Sprintf("d%d", i)
				cfg.Deployments = append(cfg.Deployments, config.Deployment{
					Name: name, Family: "gpt-4o", ContextWindow: 128_000, Weight: i + 1,
					Capabilities: []string{"tools", "json", "streaming"}, Tiers: []string{"pro", "free"},
					Price: config.Price{Input: float64(i%3) + 0.5, Output: float64(i%2) + 2},
				})
				room[name] = float64(i) / 6
				ttft[name] = time.Duration(100*(i+1)) * time.Millisecond
				cfg.Routes = []config.Route{{Name: "chat", Strategy: strategy}}
			}
			for _, d := range cfg.Deployments {
				cfg.Routes[0].Deployments = append(cfg.Routes[0].Deployments, d.Name)
			}
			r, err := New(cfg, unavailable{"d3": true})
			if err != nil {
				b.Fatal(err)
			}
			r.Headroom, r.Latency = room, ttft
			req := Request{Route: "chat", InputTokens: 2000, OutputTokens: 500, Needs: CapTools | CapStreaming, Tier: "free"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Plan(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanBare is the Plan of before filters and strategies: a
// 6-deployment round-robin route, nothing to filter, no headroom or
// latency sources, one deployment cooling down.
func BenchmarkPlanBare(b *testing.B) {
	cfg := &config.Config{Routes: []config.Route{{Name: "chat"}}}
	for i := range 6 {
		name := fmt.Sprintf("d%d", i)
		cfg.Deployments = append(cfg.Deployments, config.Deployment{Name: name})
		cfg.Routes[0].Deployments = append(cfg.Routes[0].Deployments, name)
	}
	r, err := New(cfg, unavailable{"d3": true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Plan(Request{Route: "chat"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPlanLargeRoute(t *testing.T) {
	// More deployments than fit Plan's stack space.
	cfg := &config.Config{Routes: []config.Route{{Name: "big", Strategy: config.StrategyLeastUtilized}}}
	room := headrooms{}
	var want []string
	for i := range 2 * smallRoute {
		name := fmt.Sprintf("d%02d", i)
		cfg.Deployments = append(cfg.Deployments, config.Deployment{Name: name})
		cfg.Routes[0].Deployments = append(cfg.Routes[0].Deployments, name)
		room[name] = float64(i) / 100
		want = append([]string{name}, want...)
	}
	r, err := New(cfg, unavailable{})
	if err != nil {
		t.Fatal(err)
	}
	r.Headroom = room
	p, err := r.Plan(Request{Route: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !reflect.DeepEqual(got, want) || p.MaxAttempts != len(want) {
		t.Errorf("plan = %v (max attempts %d), want %v", got, p.MaxAttempts, want)
	}
}

// TestPlanConcurrent runs every strategy from many goroutines, for the
// race detector.
func TestPlanConcurrent(t *testing.T) {
	for _, strategy := range []string{
		config.StrategyRoundRobin, config.StrategyPriority, config.StrategyWeighted,
		config.StrategyLeastUtilized, config.StrategyLatency, config.StrategyCost,
	} {
		r, err := New(filterConfig(strategy), unavailable{"big": true})
		if err != nil {
			t.Fatal(err)
		}
		r.Headroom = headrooms{"small": 0.3}
		r.Latency = latencies{"small": time.Second}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 100 {
					p, err := r.Plan(Request{Route: "chat", InputTokens: 100, Tier: "pro"})
					if err != nil || len(p.Candidates) != 4 || p.Candidates[3].Name != "big" {
						t.Errorf("%s: Plan = %v, %v", strategy, p, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
