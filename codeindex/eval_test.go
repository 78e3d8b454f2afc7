//go:build codeindexeval

package codeindex

// A retrieval evaluation like `llmux bench codeindex`, for tuning: run
//
//	go test -tags codeindexeval -run TestEval -v -timeout 30m ./codeindex/ \
//		[-args -dirs net/http,strings -fusion -diag 20 -lexonly]
//
// It indexes GOROOT/src (or the -dirs subset; generated files left out, as
// the benchmark does) twice, as is and with comments blanked, and asks
// each exported function's doc-comment first sentence, without the name,
// in each mode. -fusion compares hybrid variants on the same rankings
// (the numbers behind the choices in doc.go); it is not part of the
// default test run because it takes minutes.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	evalDirs    = flag.String("dirs", "", "comma-separated GOROOT/src subdirectories (default all)")
	evalModes   = flag.String("modes", "1,2", "corpus modes: 1 as is, 2 comments blanked")
	evalFusion  = flag.Bool("fusion", false, "try fusion variants")
	evalBuild   = flag.Bool("buildonly", false, "only build, no queries")
	evalDiag    = flag.Int("diag", 0, "print this many lexical failures")
	evalLexOnly = flag.Bool("lexonly", false, "evaluate the lexical mode only")
)

type evalQuery struct {
	text, path string
	line       int
}

func TestEval(t *testing.T) {
	root := filepath.Join(runtime.GOROOT(), "src")
	work := t.TempDir()
	code, blanked := filepath.Join(work, "code"), filepath.Join(work, "blanked")
	var dirs []string
	if *evalDirs != "" {
		dirs = strings.Split(*evalDirs, ",")
	}
	var qs []evalQuery
	var srcBytes int64
	nfiles := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if dirs != nil {
			ok := false
			for _, d := range dirs {
				if strings.HasPrefix(rel, d+"/") {
					ok = true
				}
			}
			if !ok {
				return nil
			}
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if f, _ := parser.ParseFile(token.NewFileSet(), p, src, parser.ParseComments|parser.PackageClauseOnly); f != nil && ast.IsGenerated(f) {
			return nil // as llmux bench codeindex: the index skips generated files
		}
		nfiles++
		srcBytes += int64(len(src))
		writeTestFile(t, filepath.Join(code, rel), src)
		writeTestFile(t, filepath.Join(blanked, rel), blank(src))
		qs = append(qs, fileQueries(rel, src)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, q := range qs {
		count[q.text]++
	}
	var uniq []evalQuery
	for _, q := range qs {
		if count[q.text] == 1 {
			uniq = append(uniq, q)
		}
	}
	t.Logf("%d files, %d bytes, %d queries", nfiles, srcBytes, len(uniq))
	for _, mode := range strings.Split(*evalModes, ",") {
		dir := code
		if mode == "2" {
			dir = blanked
		}
		evalMode(t, "mode "+mode, dir, filepath.Join(work, "index"+mode), srcBytes, uniq)
	}
}

func evalMode(t *testing.T, name, root, idx string, srcBytes int64, qs []evalQuery) {
	ctx := context.Background()
	runtime.GC()
	t0 := time.Now()
	ix, err := Open(ctx, root, Options{IndexDir: idx, MaxFileBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ix.Update(ctx)
	if err != nil {
		t.Fatal(err)
	}
	build := time.Since(t0)
	t1 := time.Now()
	if _, err := ix.Update(ctx); err != nil {
		t.Fatal(err)
	}
	noop := time.Since(t1)
	t.Logf("%s: %d files, %d chunks, build %.1fs, no-op %.3fs, index %d bytes = %.3f× source",
		name, st.Files, st.Chunks, build.Seconds(), noop.Seconds(), st.IndexBytes, float64(st.IndexBytes)/float64(srcBytes))
	if *evalBuild {
		return
	}
	modes := []Mode{ModeLexical, ModeVector, ModeHybrid}
	if *evalLexOnly {
		modes = modes[:1]
	}
	for _, m := range modes {
		var lat []time.Duration
		var ranks []int
		for _, q := range qs {
			s := time.Now()
			hits, err := ix.Search(ctx, q.text, SearchOptions{K: 10, Mode: m})
			lat = append(lat, time.Since(s))
			if err != nil {
				t.Fatal(err)
			}
			r := 0
			for i, h := range hits {
				if h.Path == q.path && h.StartLine <= q.line && q.line <= h.EndLine {
					r = i + 1
					break
				}
			}
			ranks = append(ranks, r)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%s %-7s %s p50 %v p99 %v", name, m, metrics(ranks),
			lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	}
	if *evalFusion {
		fusionExperiments(t, ix, name, qs)
	}
	if *evalDiag > 0 {
		diagnose(t, ix, name, qs)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap sys %d MiB", ms.Sys>>20)
	ix.Close()
	debug.FreeOSMemory()
}

var wordRE = regexp.MustCompile(`[\pL\pN_]`)

func fileQueries(rel string, src []byte) []evalQuery {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var out []evalQuery
	pkg := &doc.Package{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Doc == nil || !fd.Name.IsExported() {
			continue
		}
		if fd.Recv != nil && !ast.IsExported(recvName(fd.Recv.List[0].Type)) {
			continue
		}
		s := pkg.Synopsis(fd.Doc.Text())
		re := regexp.MustCompile(`(^|[^\pL\pN_.])` + regexp.QuoteMeta(fd.Name.Name) + `($|[^\pL\pN_])`)
		s = re.ReplaceAllString(s, "$1$2")
		s = strings.Join(strings.Fields(s), " ")
		words := 0
		for _, w := range strings.Fields(s) {
			if wordRE.MatchString(w) {
				words++
			}
		}
		if words < 3 {
			continue
		}
		out = append(out, evalQuery{s, rel, fset.Position(fd.Type.Func).Line})
	}
	return out
}

func blank(src []byte) []byte {
	out := bytes.Clone(src)
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, scanner.ScanComments)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok != token.COMMENT {
			continue
		}
		start := file.Offset(pos)
		for i := start; i < start+len(lit) && i < len(out); i++ {
			if out[i] != '\n' {
				out[i] = ' '
			}
		}
	}
}

func writeTestFile(t *testing.T, p string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func metrics(ranks []int) string {
	var at1, at10 int
	var rr float64
	for _, r := range ranks {
		if r >= 1 && r <= 10 {
			at10++
			rr += 1 / float64(r)
			if r == 1 {
				at1++
			}
		}
	}
	n := float64(len(ranks))
	return fmt.Sprintf("R@1 %.3f R@10 %.3f MRR@10 %.3f", float64(at1)/n, float64(at10)/n, rr/n)
}

// fusionExperiments ranks each query's lexical and vector lists once and
// scores fusion variants on them.
func fusionExperiments(t *testing.T, ix *Index, name string, qs []evalQuery) {
	s := ix.snap.Load()
	type lists struct {
		lex, vec []scored
		bm       map[int]float64
		cos      map[int]float64
		upper    float64
	}
	var all []lists
	var confSum float64
	for _, q := range qs {
		terms := queryTerms(q.text)
		qv, _ := ix.queryVector(context.Background(), s, q.text, terms)
		scores, upper := s.bm25(terms)
		l := lists{lex: s.best(scores, 200), vec: s.nearest(qv, 200), upper: upper, bm: map[int]float64{}, cos: map[int]float64{}}
		for _, it := range append(append([]scored{}, l.lex...), l.vec...) {
			l.bm[it.id] = float64(scores[it.id])
			l.cos[it.id] = s.cosine(it.id, qv)
		}
		if len(l.lex) > 0 && upper > 0 {
			confSum += l.lex[0].score / upper
		}
		all = append(all, l)
	}
	t.Logf("%s mean lexical confidence %.3f", name, confSum/float64(len(qs)))
	rankOf := func(l []scored, q evalQuery) int {
		for i, it := range l {
			if i >= 10 {
				break
			}
			_, c, f := s.chunkAt(it.id)
			if f.path == q.path && int(c.startLine) <= q.line && q.line <= int(c.endLine) {
				return i + 1
			}
		}
		return 0
	}
	lexRanks := make([]int, len(qs))
	for i, q := range qs {
		lexRanks[i] = rankOf(all[i].lex, q)
	}
	try := func(label string, f func(l lists) []scored) {
		ranks := make([]int, len(qs))
		var better, worse int
		for i, q := range qs {
			ranks[i] = rankOf(f(all[i]), q)
			a, b := lexRanks[i], ranks[i]
			switch {
			case a == b:
			case b != 0 && (a == 0 || b < a):
				better++
			default:
				worse++
			}
		}
		t.Logf("%s fusion %-40s %s  (vs lexical: %d better, %d worse)", name, label, metrics(ranks), better, worse)
	}
	try("lexical", func(l lists) []scored { return l.lex })
	conf := func(l lists) float64 {
		if len(l.lex) == 0 || l.upper == 0 {
			return 0
		}
		return l.lex[0].score / l.upper
	}
	rerank := func(l lists, n int, beta float64, vecOnly int) []scored {
		top := &topK{k: 10}
		seen := map[int]bool{}
		for _, it := range append(truncate(l.lex, n), truncate(l.vec, vecOnly)...) {
			if seen[it.id] {
				continue
			}
			seen[it.id] = true
			top.offer(it.id, l.bm[it.id]/l.upper+beta*l.cos[it.id])
		}
		return top.sorted()
	}
	pinned := func(l lists, beta float64, margin float64) []scored {
		out := rerank(l, 50, beta, 20)
		if len(l.lex) > 1 && l.lex[0].score >= (1+margin)*l.lex[1].score {
			top := l.lex[0]
			rest := []scored{top}
			for _, it := range out {
				if it.id != top.id {
					rest = append(rest, it)
				}
			}
			out = truncate(rest, 10)
		}
		return out
	}
	for _, w := range []float64{0.2, 0.5, 1} {
		try(fmt.Sprintf("rrf k60 depth 50 w %.1f", w), func(l lists) []scored {
			return fuse(10, [][]scored{truncate(l.lex, 50), truncate(l.vec, 50)}, []float64{1, w})
		})
	}
	for _, c0 := range []float64{0.4, 0.5, 0.6, 0.7} {
		for _, beta := range []float64{0.1, 0.15, 0.2} {
			try(fmt.Sprintf("gated rerank conf<%.1f beta %.2f", c0, beta), func(l lists) []scored {
				if conf(l) >= c0 {
					return truncate(l.lex, 10)
				}
				return rerank(l, 50, beta, 20)
			})
			for _, m := range []float64{0.05, 0.1, 0.2} {
				try(fmt.Sprintf("gated+pin%.2f conf<%.1f beta %.2f", m, c0, beta), func(l lists) []scored {
					if conf(l) >= c0 {
						return truncate(l.lex, 10)
					}
					return pinned(l, beta, m)
				})
			}
		}
	}
}

func diagnose(t *testing.T, ix *Index, name string, qs []evalQuery) {
	s := ix.snap.Load()
	missingFile, noChunk, shown := 0, 0, 0
	for _, q := range qs {
		loc, ok := s.files[q.path]
		if !ok {
			missingFile++
			continue
		}
		seg := s.segs[loc.seg]
		f := seg.files[loc.file]
		target := -1
		for c := f.first; c < f.first+f.n; c++ {
			ch := seg.chunks[c]
			if int(ch.startLine) <= q.line && q.line <= int(ch.endLine) {
				target = s.base[loc.seg] + int(c)
				break
			}
		}
		if target < 0 {
			noChunk++
			continue
		}
		terms := queryTerms(q.text)
		lex := s.lexical(terms, 1000)
		r := 0
		for i, it := range lex {
			if it.id == target {
				r = i + 1
			}
		}
		if r >= 1 && r <= 10 || shown >= *evalDiag {
			continue
		}
		shown++
		_, tc, _ := s.chunkAt(target)
		var top []string
		for _, it := range truncate(lex, 3) {
			_, c, f := s.chunkAt(it.id)
			top = append(top, fmt.Sprintf("%s:%s(%.1f)", f.path, c.symbol, it.score))
		}
		var ts []string
		for _, tf := range terms {
			ts = append(ts, tf.term)
		}
		t.Logf("MISS rank %d %q terms %v target %s:%s len %d; top %v", r, q.text, ts, q.path, tc.symbol, tc.length, top)
	}
	t.Logf("%s: %d queries in files not indexed, %d with no chunk at the line", name, missingFile, noChunk)
}

// rrfK is the constant of reciprocal rank fusion, measured here against
// the score fusion Search uses (see doc.go).
const rrfK = 60

// fuse combines ranked lists by weighted reciprocal rank fusion:
// score(d) = Σ_lists w / (rrfK + rank(d)), rank from 1.
func fuse(k int, lists [][]scored, weights []float64) []scored {
	acc := map[int]float64{}
	for li, l := range lists {
		for r, it := range l {
			acc[it.id] += weights[li] / float64(rrfK+r+1)
		}
	}
	top := &topK{k: k}
	for id, sc := range acc {
		top.offer(id, sc)
	}
	return top.sorted()
}
