package router

import (
	"errors"
	"reflect"
	"testing"

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
