package router

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// spec describes a test candidate; its place in the list is its Index,
// and candidatesOf returns them in route order, as Order gets them.
type spec struct {
	name     string
	headroom float64
	weight   int
	in, out  float64 // price per 1M tokens
}

func candidatesOf(specs ...spec) []Candidate {
	var cands []Candidate
	for i, s := range specs {
		d := &config.Deployment{Name: s.name, Weight: s.weight, Price: config.Price{Input: s.in, Output: s.out}}
		cands = append(cands, Candidate{Deployment: d, Index: i, Headroom: s.headroom, available: true})
	}
	return cands
}

func order(cands []Candidate) []string {
	var out []string
	for _, c := range cands {
		out = append(out, c.Deployment.Name)
	}
	return out
}

// draws returns a Rand that hands out vals in turn, checking each is in
// range.
func draws(t *testing.T, vals ...int) func(int) int {
	return func(n int) int {
		t.Helper()
		if len(vals) == 0 {
			t.Fatalf("Rand(%d) called more often than expected", n)
		}
		v := vals[0]
		vals = vals[1:]
		if v < 0 || v >= n {
			t.Fatalf("test draw %d out of [0, %d)", v, n)
		}
		return v
	}
}

func TestRoundRobin(t *testing.T) {
	s := &roundRobin{turns: turns{n: 3}}
	cands := candidatesOf(spec{name: "a", headroom: 0}, spec{name: "b", headroom: 1}, spec{name: "c", headroom: 0.5})
	want := [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}}
	for i, w := range want {
		c := slices.Clone(cands)
		s.Order(c, Request{})
		if got := order(c); !slices.Equal(got, w) {
			t.Errorf("turn %d = %v, want %v (headroom ignored)", i, got, w)
		}
	}
	// A filtered deployment keeps the others' turns.
	c := candidatesOf(spec{name: "a"}, spec{name: "b"}, spec{name: "c"})
	c = slices.Delete(c, 1, 2) // b filtered out
	s.Order(c, Request{})      // turn 4 starts at b
	if got := order(c); !slices.Equal(got, []string{"c", "a"}) {
		t.Errorf("order without b = %v, want [c a]", got)
	}
}

func TestPriority(t *testing.T) {
	tests := []struct {
		name  string
		cands []Candidate
		want  []string
	}{
		{"route order", candidatesOf(spec{name: "a", headroom: 0.1}, spec{name: "b", headroom: 0.9}, spec{name: "c", headroom: 1}), []string{"a", "b", "c"}},
		{"spill past the exhausted", candidatesOf(spec{name: "a", headroom: 0}, spec{name: "b", headroom: 0.3}, spec{name: "c", headroom: 1}), []string{"b", "c", "a"}},
		{"exhausted keep route order", candidatesOf(spec{name: "a", headroom: 0}, spec{name: "b", headroom: 0.3}, spec{name: "c", headroom: 0}), []string{"b", "a", "c"}},
		{"all exhausted", candidatesOf(spec{name: "a"}, spec{name: "b"}), []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cands
			priority{}.Order(c, Request{})
			if got := order(c); !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWeighted(t *testing.T) {
	tests := []struct {
		name  string
		cands []Candidate
		draws []int
		want  []string
	}{
		{"first draw lands on a", candidatesOf(spec{name: "a", weight: 3, headroom: 1}, spec{name: "b", weight: 1, headroom: 1}),
			[]int{2, 0}, []string{"a", "b"}},
		{"first draw lands on b", candidatesOf(spec{name: "a", weight: 3, headroom: 1}, spec{name: "b", weight: 1, headroom: 1}),
			[]int{3, 0}, []string{"b", "a"}},
		{"without replacement", candidatesOf(spec{name: "a", weight: 1, headroom: 1}, spec{name: "b", weight: 2, headroom: 1}, spec{name: "c", weight: 3, headroom: 1}),
			// 6 total: 1 is b; then a+c = 4: 1 is c; then a.
			[]int{1, 1, 0}, []string{"b", "c", "a"}},
		{"weight 0 after the weighted", candidatesOf(spec{name: "a", weight: 0, headroom: 1}, spec{name: "b", weight: 2, headroom: 1}, spec{name: "c", weight: 1, headroom: 1}, spec{name: "d", weight: 0, headroom: 1}),
			[]int{2, 0}, []string{"c", "b", "a", "d"}},
		{"no headroom after headroom", candidatesOf(spec{name: "a", weight: 100, headroom: 0}, spec{name: "b", weight: 1, headroom: 0.5}),
			[]int{0, 0}, []string{"b", "a"}},
		{"all weights 0 keep route order", candidatesOf(spec{name: "a", headroom: 1}, spec{name: "b", headroom: 1}),
			nil, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cands
			weighted{rand: draws(t, tt.draws...)}.Order(c, Request{})
			if got := order(c); !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWeightedShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := weighted{rand: rng.IntN}
	cands := candidatesOf(spec{name: "a", weight: 1, headroom: 1}, spec{name: "b", weight: 3, headroom: 1}, spec{name: "c", weight: 6, headroom: 1}, spec{name: "off", headroom: 1})
	const n = 20000
	first := map[string]int{}
	for range n {
		s.Order(cands, Request{})
		first[cands[0].Deployment.Name]++
		if last := cands[len(cands)-1].Deployment.Name; last != "off" {
			t.Fatalf("weight 0 deployment not last: %v", order(cands))
		}
	}
	for name, share := range map[string]float64{"a": 0.1, "b": 0.3, "c": 0.6} {
		if got := float64(first[name]) / n; got < share-0.02 || got > share+0.02 {
			t.Errorf("%s first in %.3f of plans, want %.2f", name, got, share)
		}
	}
}

// latencies is a Latency source over a map; missing names have no samples.
type latencies map[string]time.Duration

func (l latencies) Latency(name string) (time.Duration, bool) {
	d, ok := l[name]
	return d, ok
}

func TestFastest(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		cands []Candidate
		ttft  latencies
		draws []int
		want  []string
	}{
		{"two: the faster first", candidatesOf(spec{name: "a", headroom: 1}, spec{name: "b", headroom: 1}),
			latencies{"a": 900 * ms, "b": 300 * ms}, []int{0, 0}, []string{"b", "a"}},
		{"unsampled explored first", candidatesOf(spec{name: "a", headroom: 1}, spec{name: "new", headroom: 1}),
			latencies{"a": 100 * ms}, nil, []string{"new", "a"}},
		{"unsampled by headroom", candidatesOf(spec{name: "a", headroom: 0.2}, spec{name: "b", headroom: 0.9}, spec{name: "c", headroom: 1}),
			latencies{"c": 100 * ms}, nil, []string{"b", "a", "c"}},
		{"two choices of three", candidatesOf(spec{name: "slow", headroom: 1}, spec{name: "fast", headroom: 1}, spec{name: "mid", headroom: 1}),
			latencies{"slow": 3 * time.Second, "fast": 100 * ms, "mid": 1 * time.Second},
			// slow vs mid → mid; then slow vs fast → fast.
			[]int{0, 1, 0, 0}, []string{"mid", "fast", "slow"}},
		{"the pick need not be the fastest overall", candidatesOf(spec{name: "slow", headroom: 1}, spec{name: "fast", headroom: 1}, spec{name: "mid", headroom: 1}),
			latencies{"slow": 3 * time.Second, "fast": 100 * ms, "mid": 1 * time.Second},
			// fast vs slow → fast; then slow vs mid → mid.
			[]int{0, 0, 1, 0}, []string{"fast", "mid", "slow"}},
		{"equal latency: more headroom", candidatesOf(spec{name: "a", headroom: 0.3}, spec{name: "b", headroom: 0.6}),
			latencies{"a": 200 * ms, "b": 200 * ms}, []int{0, 0}, []string{"b", "a"}},
		{"no headroom after headroom", candidatesOf(spec{name: "fast", headroom: 0}, spec{name: "slow", headroom: 0.1}),
			latencies{"fast": 10 * ms, "slow": 5 * time.Second}, nil, []string{"slow", "fast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &fastest{latency: tt.ttft.Latency, rand: draws(t, tt.draws...), turns: turns{n: len(tt.cands)}}
			c := tt.cands
			s.Order(c, Request{})
			if got := order(c); !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFastestShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ttft := latencies{"a": 100 * time.Millisecond, "b": 200 * time.Millisecond, "c": 400 * time.Millisecond}
	s := &fastest{latency: ttft.Latency, rand: rng.IntN, turns: turns{n: 3}}
	cands := candidatesOf(spec{name: "a", headroom: 1}, spec{name: "b", headroom: 1}, spec{name: "c", headroom: 1})
	const n = 9000
	first := map[string]int{}
	for range n {
		s.Order(cands, Request{})
		first[cands[0].Deployment.Name]++
	}
	// With two random choices of three, the slowest never comes first, the
	// fastest wins both pairs it is in (2/3), the middle one 1/3.
	if first["c"] != 0 {
		t.Errorf("slowest first %d times", first["c"])
	}
	if got := float64(first["a"]) / n; got < 0.64 || got > 0.69 {
		t.Errorf("fastest first in %.3f of plans, want 2/3", got)
	}
}

func TestLeastUtilized(t *testing.T) {
	s := &leastUtilized{turns: turns{n: 3}}
	c := candidatesOf(spec{name: "a", headroom: 0.2}, spec{name: "b", headroom: 0.9}, spec{name: "c", headroom: 0})
	s.Order(c, Request{})
	if got := order(c); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("order = %v, want [b a c]", got)
	}
	// Equal headroom (or none reported): in turn, not always the first.
	s = &leastUtilized{turns: turns{n: 3}}
	want := [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}}
	for i, w := range want {
		c := candidatesOf(spec{name: "a", headroom: 1}, spec{name: "b", headroom: 1}, spec{name: "c", headroom: 1})
		s.Order(c, Request{})
		if got := order(c); !slices.Equal(got, w) {
			t.Errorf("turn %d = %v, want %v", i, got, w)
		}
	}
}

func TestCheapest(t *testing.T) {
	gpt := spec{name: "gpt-4o", headroom: 1, in: 2.5, out: 10}
	mini := spec{name: "mini", headroom: 1, in: 0.15, out: 0.6}
	opus := spec{name: "opus", headroom: 1, in: 15, out: 75}
	// readHeavy is cheap to read, dear to write; writeHeavy the reverse.
	readHeavy := spec{name: "read-heavy", headroom: 1, in: 1, out: 100}
	writeHeavy := spec{name: "write-heavy", headroom: 1, in: 5, out: 5}
	tests := []struct {
		name  string
		cands []Candidate
		req   Request
		want  []string
	}{
		{"cheapest first", candidatesOf(opus, gpt, mini), Request{InputTokens: 1000, OutputTokens: 100}, []string{"mini", "gpt-4o", "opus"}},
		{"long prompt, short answer", candidatesOf(readHeavy, writeHeavy), Request{InputTokens: 1000, OutputTokens: 10}, []string{"read-heavy", "write-heavy"}},
		{"short prompt, long answer", candidatesOf(readHeavy, writeHeavy), Request{InputTokens: 10, OutputTokens: 1000}, []string{"write-heavy", "read-heavy"}},
		{"no counts: prices weigh equally", candidatesOf(readHeavy, writeHeavy), Request{}, []string{"write-heavy", "read-heavy"}},
		{"only with headroom", candidatesOf(opus, gpt, spec{name: "mini", in: 0.15, out: 0.6}), Request{InputTokens: 1}, []string{"gpt-4o", "opus", "mini"}},
		{"ties by headroom", candidatesOf(spec{name: "a", headroom: 0.2, in: 1}, spec{name: "b", headroom: 0.7, in: 1}), Request{InputTokens: 1}, []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cands
			(&cheapest{turns: turns{n: len(c)}}).Order(c, tt.req)
			if got := order(c); !slices.Equal(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
	// Two accounts of one model share the traffic.
	s := &cheapest{turns: turns{n: 2}}
	var firsts []string
	for range 4 {
		c := candidatesOf(spec{name: "east", headroom: 1, in: 2.5}, spec{name: "west", headroom: 1, in: 2.5})
		s.Order(c, Request{InputTokens: 10})
		firsts = append(firsts, c[0].Deployment.Name)
	}
	if !slices.Equal(firsts, []string{"east", "west", "east", "west"}) {
		t.Errorf("firsts = %v, want alternating", firsts)
	}
}

func TestPrice(t *testing.T) {
	d := &config.Deployment{Price: config.Price{Input: 2.5, Output: 10}}
	if got := price(d, Request{InputTokens: 1_000_000, OutputTokens: 100_000}); got != 3.5 {
		t.Errorf("price = %v, want 3.5", got)
	}
}

func TestMoveTo(t *testing.T) {
	c := candidatesOf(spec{name: "a"}, spec{name: "b"}, spec{name: "c"}, spec{name: "d"})
	moveTo(c, 2, 0)
	if got := order(c); !slices.Equal(got, []string{"c", "a", "b", "d"}) {
		t.Errorf("moveTo(2, 0) = %v", got)
	}
	moveTo(c, 3, 3)
	if got := order(c); !slices.Equal(got, []string{"c", "a", "b", "d"}) {
		t.Errorf("moveTo(3, 3) = %v", got)
	}
}
