package codeindex

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// Hybrid fusion parameters, tuned on the doc-comment → function
// benchmark (see doc.go). When the best lexical match holds at least
// hybridConfident of the query's largest possible BM25 score (upper), the
// lexical ranking stands. Otherwise the candidates are the lexical top
// hybridLex and the vector top hybridVec, each scored bm25/upper +
// hybridBeta·cosine: a chunk matching a large share of the query keeps
// its place, and the vector decides among weak, near-tied matches.
const (
	hybridConfident = 0.6
	hybridLex       = 50
	hybridVec       = 20
	hybridBeta      = 0.10
)

// scored is a global chunk id with a score.
type scored struct {
	id    int
	score float64
}

// topK keeps the k best scored items (a min-heap on score; ties keep the
// lower id, so results are deterministic).
type topK struct {
	k     int
	items []scored
}

func (t *topK) Len() int { return len(t.items) }
func (t *topK) Less(i, j int) bool {
	a, b := t.items[i], t.items[j]
	return a.score < b.score || a.score == b.score && a.id > b.id
}
func (t *topK) Swap(i, j int) { t.items[i], t.items[j] = t.items[j], t.items[i] }
func (t *topK) Push(x any)    { t.items = append(t.items, x.(scored)) }
func (t *topK) Pop() any {
	x := t.items[len(t.items)-1]
	t.items = t.items[:len(t.items)-1]
	return x
}

func (t *topK) offer(id int, score float64) {
	if len(t.items) < t.k {
		heap.Push(t, scored{id, score})
		return
	}
	if low := t.items[0]; score > low.score || score == low.score && id < low.id {
		t.items[0] = scored{id, score}
		heap.Fix(t, 0)
	}
}

// sorted returns the items best first.
func (t *topK) sorted() []scored {
	out := make([]scored, len(t.items))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(t).(scored)
	}
	return out
}

// queryTerms tokenizes a query into distinct terms with counts.
func queryTerms(q string) []termFreq {
	return countTerms(tokenize(nil, q), nil)
}

// bm25 returns every chunk's BM25 score for the query terms (dead ones
// included) and the scores' upper bound, Σ idf·qtf·(k1+1), which a chunk
// would reach if it held every term infinitely often: score/upper is how
// much of the query a chunk matches, comparable across queries.
func (s *snapshot) bm25(terms []termFreq) ([]float32, float64) {
	if s.total == 0 || len(terms) == 0 {
		return nil, 0
	}
	scores := make([]float32, s.total)
	n := float64(s.total)
	idx := make([]int, len(s.segs))
	var upper float64
	for _, t := range terms {
		var df float64
		for i, seg := range s.segs {
			idx[i] = seg.lookup(t.term)
			if idx[i] >= 0 {
				df += float64(seg.df[idx[i]])
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		upper += idf * float64(t.tf) * (bm25K1 + 1)
		w := float32(idf * float64(t.tf))
		for i, seg := range s.segs {
			if idx[i] < 0 {
				continue
			}
			base := s.base[i]
			seg.eachPosting(idx[i], func(doc, tf uint32) {
				g := base + int(doc)
				f := float32(tf)
				scores[g] += w * f * float32(bm25K1+1) / (f + s.norm[g])
			})
		}
	}
	return scores, upper
}

// best returns the k live chunks with the highest positive scores.
func (s *snapshot) best(scores []float32, k int) []scored {
	if scores == nil {
		return nil
	}
	top := &topK{k: k}
	for i, seg := range s.segs {
		dead := s.dead[i]
		base := s.base[i]
		for c := range seg.chunks {
			if sc := scores[base+c]; sc > 0 && !dead[c] {
				top.offer(base+c, float64(sc))
			}
		}
	}
	return top.sorted()
}

// lexical ranks live chunks by BM25 against the query terms.
func (s *snapshot) lexical(terms []termFreq, k int) []scored {
	scores, _ := s.bm25(terms)
	return s.best(scores, k)
}

// cosine returns the cosine of chunk g's vector with the quantized query
// q (0 for a chunk without a vector).
func (s *snapshot) cosine(g int, q qvec) float64 {
	seg, c := s.locate(g)
	if seg.vecs.dim == 0 || len(q.q) != seg.vecs.dim {
		return 0
	}
	v, sc := seg.vecs.at(c)
	return float64(sc) * float64(q.scale) * float64(dotInt8(v, q.q))
}

// nearest ranks live chunks by the cosine of their vector with q (a
// quantized unit vector), scanning all vectors; large indexes are split
// across two goroutines.
func (s *snapshot) nearest(qv qvec, k int) []scored {
	q := qv.q
	if s.dim == 0 || len(q) != s.dim || qv.scale == 0 {
		return nil
	}
	type part struct{ seg, lo, hi int }
	var parts []part
	for i, seg := range s.segs {
		n := len(seg.chunks)
		if seg.vecs.dim == 0 {
			continue
		}
		if n > 20000 {
			parts = append(parts, part{i, 0, n / 2}, part{i, n / 2, n})
		} else {
			parts = append(parts, part{i, 0, n})
		}
	}
	results := make([][]scored, len(parts))
	var wg sync.WaitGroup
	for pi, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seg, dead, base := s.segs[p.seg], s.dead[p.seg], s.base[p.seg]
			top := &topK{k: k}
			for c := p.lo; c < p.hi; c++ {
				if dead[c] {
					continue
				}
				v, sc := seg.vecs.at(c)
				if sc == 0 {
					continue
				}
				top.offer(base+c, float64(sc)*float64(qv.scale)*float64(dotInt8(v, q)))
			}
			results[pi] = top.items
		}()
	}
	wg.Wait()
	top := &topK{k: k}
	for _, r := range results {
		for _, it := range r {
			top.offer(it.id, it.score)
		}
	}
	return top.sorted()
}

// snippet re-reads a chunk and returns its first one or two code lines
// (doc comments skipped), or a note when the file changed since indexing.
func snippet(root string, f *fileEntry, c *chunkMeta) string {
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.path)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(file removed since indexing)"
		}
		return "(file unreadable: " + err.Error() + ")"
	}
	if c.endByte > int64(len(src)) || c.startByte > c.endByte || chunkHash(src[c.startByte:c.endByte]) != c.hash {
		return "(file changed since indexing)"
	}
	return firstLines(sanitize(src[c.startByte:c.endByte]), 2)
}

// firstLines returns up to n non-blank lines that are not comments, or
// the first non-blank lines when all are comments; each is trimmed and
// capped at 160 bytes.
func firstLines(text []byte, n int) string {
	var code, any [][]byte
	for _, line := range bytes.Split(text, []byte{'\n'}) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(line) > 160 {
			line = append(line[:157:157], "..."...)
		}
		if len(any) < n {
			any = append(any, line)
		}
		if !isComment(line) {
			if code = append(code, line); len(code) == n {
				break
			}
		}
	}
	if len(code) == 0 {
		code = any
	}
	return string(bytes.Join(code, []byte{'\n'}))
}

func isComment(line []byte) bool {
	for _, p := range []string{"//", "#", "/*", "*", "--", ";"} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// chunkHash identifies a chunk's bytes (SHA-256 prefix).
func chunkHash(b []byte) uint64 {
	h := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(h[:8])
}

// search runs one query against a snapshot.
func (ix *Index) search(ctx context.Context, s *snapshot, query string, opts SearchOptions) ([]scored, error) {
	k := opts.K
	if k <= 0 {
		k = 10
	}
	terms := queryTerms(query)
	switch opts.Mode {
	case ModeLexical:
		return s.lexical(terms, k), nil
	case ModeVector:
		q, err := ix.queryVector(ctx, s, query, terms)
		if err != nil {
			return nil, err
		}
		return s.nearest(q, k), nil
	case ModeHybrid:
		scores, upper := s.bm25(terms)
		lex := s.best(scores, max(k, hybridLex))
		if len(lex) > 0 && lex[0].score >= hybridConfident*upper {
			out := truncate(lex, k)
			for i := range out {
				out[i].score /= upper // the scale of the fused score
			}
			return out, nil
		}
		q, err := ix.queryVector(ctx, s, query, terms)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !ix.warned.Swap(true) { // once per Index, not per query
				ix.log.Warn("codeindex: vector search unavailable, lexical only", "err", err)
			}
			return truncate(lex, k), nil
		}
		return s.hybrid(k, scores, upper, lex, s.nearest(q, hybridVec), q), nil
	}
	return nil, errors.New("codeindex: unknown search mode " + opts.Mode.String())
}

// hybrid ranks the union of the lexical and vector candidates by
// bm25/upper + hybridBeta·cosine.
func (s *snapshot) hybrid(k int, scores []float32, upper float64, lex, vec []scored, q qvec) []scored {
	if upper <= 0 {
		return truncate(vec, k)
	}
	top := &topK{k: k}
	seen := make(map[int]bool, len(lex)+len(vec))
	for _, list := range [][]scored{lex, vec} {
		for _, it := range list {
			if seen[it.id] {
				continue
			}
			seen[it.id] = true
			top.offer(it.id, float64(scores[it.id])/upper+hybridBeta*s.cosine(it.id, q))
		}
	}
	return top.sorted()
}

func truncate(l []scored, k int) []scored {
	if len(l) > k {
		return l[:k]
	}
	return l
}
