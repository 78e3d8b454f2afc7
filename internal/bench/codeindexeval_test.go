package bench

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/llmux/llmux/codeindex"
)

func TestRank(t *testing.T) {
	q := query{path: "a/b.go", line: 10}
	for _, tc := range []struct {
		name string
		hits []codeindex.Hit
		want int
	}{
		{"none", nil, 0},
		{"first", []codeindex.Hit{{Path: "a/b.go", StartLine: 8, EndLine: 20}}, 1},
		{"starts at the func line", []codeindex.Hit{{Path: "a/c.go", StartLine: 1, EndLine: 99}, {Path: "a/b.go", StartLine: 10, EndLine: 10}}, 2},
		{"ends at the func line", []codeindex.Hit{{Path: "a/b.go", StartLine: 1, EndLine: 10}}, 1},
		{"same file, other lines", []codeindex.Hit{{Path: "a/b.go", StartLine: 11, EndLine: 30}, {Path: "a/b.go", StartLine: 1, EndLine: 9}}, 0},
		{"first right one counts", []codeindex.Hit{{Path: "x.go"}, {Path: "x.go"}, {Path: "a/b.go", StartLine: 5, EndLine: 15}, {Path: "a/b.go", StartLine: 9, EndLine: 12}}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rank(tc.hits, q); got != tc.want {
				t.Errorf("rank = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ranks []int
		want  retrieval
	}{
		{"no queries", nil, retrieval{}},
		{"all first", []int{1, 1, 1, 1}, retrieval{1, 1, 1}},
		{"none found", []int{0, 0, 11}, retrieval{0, 0, 0}},
		// 1, 2, 4, 10, miss, 11 (beyond 10 counts as a miss)
		{"mixed", []int{1, 2, 4, 10, 0, 11}, retrieval{RecallAt1: 0.1667, RecallAt10: 0.6667, MRRAt10: 0.3083}},
		{"second", []int{2, 2}, retrieval{RecallAt1: 0, RecallAt10: 1, MRRAt10: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := score(tc.ranks); got != tc.want {
				t.Errorf("score(%v) = %+v, want %+v", tc.ranks, got, tc.want)
			}
		})
	}
}

// fakeSearcher answers from a table by query text, and fails on "boom".
type fakeSearcher map[string][]codeindex.Hit

func (f fakeSearcher) Search(ctx context.Context, q string, opts codeindex.SearchOptions) ([]codeindex.Hit, error) {
	if q == "boom" {
		return nil, errors.New("index on fire")
	}
	if opts.K != evalK {
		return nil, errors.New("wrong K")
	}
	return f[q], ctx.Err()
}

func TestEvaluate(t *testing.T) {
	ix := fakeSearcher{
		"q1": {{Path: "a.go", StartLine: 1, EndLine: 5}},
		"q2": {{Path: "b.go", StartLine: 1, EndLine: 5}, {Path: "a.go", StartLine: 10, EndLine: 20}},
	}
	qs := []query{{text: "q1", path: "a.go", line: 3}, {text: "q2", path: "a.go", line: 12}, {text: "q3", path: "a.go", line: 1}}
	for _, workers := range []int{1, 2, 8} {
		ranks, lat, err := evaluate(t.Context(), ix, qs, codeindex.ModeHybrid, workers)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ranks, []int{1, 2, 0}) || len(lat) != 3 {
			t.Errorf("workers %d: ranks %v, %d latencies", workers, ranks, len(lat))
		}
	}
	_, _, err := evaluate(t.Context(), ix, append(qs, query{text: "boom"}), codeindex.ModeLexical, 2)
	if err == nil || err.Error() != `bench codeindex: search "boom" (lexical): index on fire` {
		t.Errorf("error %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := evaluate(ctx, ix, qs, codeindex.ModeVector, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}
