package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/llmux/llmux/codeindex"
)

// searcher is what the evaluation needs of an index.
type searcher interface {
	Search(ctx context.Context, query string, opts codeindex.SearchOptions) ([]codeindex.Hit, error)
}

// evalK is the depth of every search: recall@10 and MRR@10 need no more.
const evalK = 10

// rank returns the 1-based position of the first hit that answers q (its
// file, with the func line inside its lines), or 0 if none does.
func rank(hits []codeindex.Hit, q query) int {
	for i, h := range hits {
		if h.Path == q.path && h.StartLine <= q.line && q.line <= h.EndLine {
			return i + 1
		}
	}
	return 0
}

// retrieval is the quality of one retriever over a set of queries.
type retrieval struct {
	RecallAt1, RecallAt10, MRRAt10 float64
}

// score computes recall@1, recall@10 and MRR@10 from the ranks of the
// answers (0: not found), one per query.
func score(ranks []int) retrieval {
	if len(ranks) == 0 {
		return retrieval{}
	}
	var at1, at10 int
	var rr float64
	for _, r := range ranks {
		if r < 1 || r > 10 {
			continue
		}
		at10++
		rr += 1 / float64(r)
		if r == 1 {
			at1++
		}
	}
	n := float64(len(ranks))
	return retrieval{RecallAt1: round(float64(at1)/n, 4), RecallAt10: round(float64(at10)/n, 4), MRRAt10: round(rr/n, 4)}
}

// evaluate asks every query of qs in mode and returns the answers' ranks
// and the wall-clock time of each Search call, in qs's order. With more
// than one worker the searches run in parallel, and their times include
// waiting for a CPU.
func evaluate(ctx context.Context, ix searcher, qs []query, mode codeindex.Mode, workers int) ([]int, []time.Duration, error) {
	ranks := make([]int, len(qs))
	lat := make([]time.Duration, len(qs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				hits, err := ix.Search(ctx, qs[i].text, codeindex.SearchOptions{K: evalK, Mode: mode})
				lat[i] = time.Since(t0)
				if err != nil {
					cancel(fmt.Errorf("bench codeindex: search %q (%s): %w", qs[i].text, mode, err))
					continue
				}
				ranks[i] = rank(hits, qs[i])
			}
		})
	}
	for i := range qs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, nil, err
	}
	return ranks, lat, nil
}
