package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/llmux/llmux/codeindex"
	"github.com/llmux/llmux/internal/config"
)

// CodeIndexOptions configure a codeindex run (`llmux bench codeindex`).
// Zero fields take the defaults.
//
// The run indexes a codebase no one here wrote, the Go standard library,
// twice: mode 1 the code as it is, mode 2 with every comment blanked
// (comment bytes replaced by spaces, newlines kept, so every line keeps
// its number). The queries are the first sentences of exported
// functions' doc comments without the function's name; each has one
// answer, its function. In mode 2 the sentence is gone from the code, so
// retrieval has to connect the query's words to code.
type CodeIndexOptions struct {
	// Root is the tree to index. Default $(go env GOROOT)/src.
	Root string
	// Queries, if positive, samples that many queries (a fixed seed);
	// default every query.
	Queries int
	// EmbedderURL and EmbedderModel, if both set, add runs with an
	// OpenAI-compatible embeddings endpoint (codeindex.NewHTTPEmbedder)
	// after the built-in embedder's; EmbedderKey is its API key.
	EmbedderURL, EmbedderModel string
	EmbedderKey                config.Secret
	// Keep, if set, is a directory (new or empty) that receives the
	// corpora and the indexes and is left in place; default a temporary
	// directory removed at the end.
	Keep string
	// Progress, if not nil, receives a line per step, and the indexes'
	// warnings.
	Progress io.Writer
}

// Bars of the codeindex issue, for the built-in embedder on the whole
// GOROOT/src; the retrieval bars apply to every embedder.
const (
	MaxColdBuild      = 60 * time.Second
	MaxSizeRatio      = 1.0
	MaxQueryP99       = 50 * time.Millisecond
	MaxPeakRSSBytes   = 1 << 30
	MaxNoopReindex    = time.Second
	builtinLabel      = "builtin"
	modeCode          = 1 // the code as it is
	modeBlanked       = 2 // comments blanked
	editedFile        = "strings/strings.go"
	editedFileAppends = "\n// Edited by llmux bench codeindex.\nfunc llmuxBenchEdited() int { return 1 }\n"
)

// bm25Reference are the BM25 figures by mode, which hybrid
// retrieval must reach.
var bm25Reference = map[int]retrieval{
	modeCode:    {RecallAt10: 0.95, MRRAt10: 0.86},
	modeBlanked: {RecallAt10: 0.49, MRRAt10: 0.27},
}

// retrievers are the search modes measured, in report order.
var retrievers = []codeindex.Mode{codeindex.ModeLexical, codeindex.ModeVector, codeindex.ModeHybrid}

// embedderSpec is one embedder the run indexes with.
type embedderSpec struct {
	label string
	make  func() codeindex.Embedder // nil result: the built-in one
}

// CodeIndex runs the codeindex benchmark and returns its report. It
// removes what it wrote (unless Keep is set); if ctx ends first it
// returns ctx's error.
func CodeIndex(ctx context.Context, opt CodeIndexOptions) (*CodeIndexReport, error) {
	if opt.Queries < 0 {
		return nil, fmt.Errorf("bench codeindex: queries %d: must not be negative", opt.Queries)
	}
	if (opt.EmbedderURL == "") != (opt.EmbedderModel == "") {
		return nil, errors.New("bench codeindex: the embedder URL and model go together")
	}
	goroot, err := goEnvGOROOT(ctx)
	if opt.Root == "" {
		if err != nil {
			return nil, fmt.Errorf("bench codeindex: no root given and %w", err)
		}
		opt.Root = filepath.Join(goroot, "src")
	}
	work, cleanup, err := workDir(opt.Keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	r := &codeIndexBench{opt: opt, work: work}
	r.rep = &CodeIndexReport{Conditions: codeIndexConditionsNow(opt, goroot, work)}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	specs := []embedderSpec{{label: builtinLabel, make: func() codeindex.Embedder { return nil }}}
	if opt.EmbedderURL != "" {
		specs = append(specs, embedderSpec{label: "http", make: func() codeindex.Embedder {
			return codeindex.NewHTTPEmbedder(opt.EmbedderURL, opt.EmbedderKey.Reveal(), opt.EmbedderModel)
		}})
	}
	for _, spec := range specs {
		for _, mode := range []int{modeCode, modeBlanked} {
			run, err := r.index(ctx, spec, mode)
			if err != nil {
				return nil, err
			}
			r.rep.Runs = append(r.rep.Runs, *run)
		}
	}
	r.rep.Conditions.LoadAvgEnd = readLoadAvg()
	r.rep.PeakRSS, _ = peakRSS()
	r.rep.finish()
	return r.rep, nil
}

// goEnvGOROOT asks the go command for GOROOT.
func goEnvGOROOT(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// workDir returns the directory the run writes to and how to clean it
// up: keep (created if missing, and left in place; it must be empty), or
// a new temporary directory that cleanup removes.
func workDir(keep string) (string, func(), error) {
	if keep == "" {
		dir, err := os.MkdirTemp("", "llmux-bench-codeindex-*")
		if err != nil {
			return "", nil, fmt.Errorf("bench codeindex: %w", err)
		}
		return dir, func() { os.RemoveAll(dir) }, nil
	}
	if err := os.MkdirAll(keep, 0o755); err != nil {
		return "", nil, fmt.Errorf("bench codeindex: keep: %w", err)
	}
	if ents, err := os.ReadDir(keep); err != nil || len(ents) > 0 {
		return "", nil, fmt.Errorf("bench codeindex: keep %s: want a new or empty directory (%d entries, %v)", keep, len(ents), err)
	}
	return keep, func() {}, nil
}

// codeIndexBench is one run's state.
type codeIndexBench struct {
	opt     CodeIndexOptions
	work    string
	rep     *CodeIndexReport
	corpus  *corpus
	queries []query
}

// prepare builds the two corpora and the queries.
func (r *codeIndexBench) prepare(ctx context.Context) error {
	t0 := time.Now()
	c, err := buildCorpus(ctx, r.opt.Root, filepath.Join(r.work, "code"), filepath.Join(r.work, "blanked"))
	if err != nil {
		return err
	}
	r.corpus = c
	qs := dedupeQueries(c.candidates, r.opt.Queries)
	c.candidates = nil
	r.queries = qs.queries
	if len(r.queries) == 0 {
		return fmt.Errorf("bench codeindex: no query in %s (%d candidates, %d duplicates)", r.opt.Root, qs.Candidates, qs.DupQueries)
	}
	cond := &r.rep.Conditions
	cond.Files, cond.SourceBytes, cond.Linked, cond.BlankedBytes = len(c.files), c.bytes, c.linked, c.commentBytes
	cond.Largest, cond.LargestBytes, cond.MaxFileBytes = c.largest.rel, c.largest.size, c.largest.size
	cond.Queries, cond.QueriesShort, cond.ParseErrors = qs, c.short, c.parseErrs
	cond.QueriesAsked = len(r.queries)
	cond.Generated, cond.GeneratedBytes = c.generated, c.generatedBytes
	for _, q := range r.queries {
		if q.generated {
			cond.QueriesGenerated++
		}
	}
	cond.Prepare = time.Since(t0)
	r.rep.RSSSteps = append(r.rep.RSSSteps, rssStep("corpora and queries"))
	r.progress("corpus: %d files, %d bytes (%d hard-linked), %d queries (%d duplicates dropped) in %.1fs",
		cond.Files, cond.SourceBytes, cond.Linked, len(r.queries), qs.DupQueries, cond.Prepare.Seconds())
	return nil
}

func (r *codeIndexBench) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		fmt.Fprintf(r.opt.Progress, format+"\n", args...)
	}
}

// index builds one index (cold, in a fresh directory), re-indexes it
// unchanged, asks every query with every retriever, and for mode 1 with
// the built-in embedder measures an incremental update.
func (r *codeIndexBench) index(ctx context.Context, spec embedderSpec, mode int) (*CodeIndexRun, error) {
	root := r.corpus.code
	if mode == modeBlanked {
		root = r.corpus.blanked
	}
	name := fmt.Sprintf("mode %d, %s", mode, spec.label)
	run := &CodeIndexRun{Mode: mode, Label: spec.label}
	ix, err := r.build(ctx, spec, root, name, run)
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	if err := r.ask(ctx, ix, run, name); err != nil {
		return nil, err
	}
	if mode == modeCode && spec.label == builtinLabel {
		if err := r.incremental(ctx, ix, root, run); err != nil {
			return nil, err
		}
	}
	if err := ix.Close(); err != nil {
		return nil, fmt.Errorf("bench codeindex: %s: close: %w", name, err)
	}
	r.rep.RSSSteps = append(r.rep.RSSSteps, rssStep(name))
	return run, nil
}

// build opens an index of root in a new directory, times a full Update
// (cold) and a second one with nothing changed, and records both and the
// index's size in run.
func (r *codeIndexBench) build(ctx context.Context, spec embedderSpec, root, name string, run *CodeIndexRun) (*codeindex.Index, error) {
	dir := filepath.Join(r.work, fmt.Sprintf("index-%d-%s", run.Mode, spec.label))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench codeindex: %w", err)
	}
	cpu0, cpuOK := processCPU()
	t0 := time.Now()
	ix, err := codeindex.Open(ctx, root, codeindex.Options{IndexDir: dir, MaxFileBytes: r.corpus.largest.size,
		Embedder: spec.make(), Logger: r.logger(), Progress: r.buildProgress(name)})
	if err != nil {
		return nil, fmt.Errorf("bench codeindex: %s: open: %w", name, err)
	}
	if run.Cold, err = ix.Update(ctx); err != nil {
		ix.Close()
		return nil, fmt.Errorf("bench codeindex: %s: build: %w", name, err)
	}
	run.Build = time.Since(t0)
	if cpu1, ok := processCPU(); ok && cpuOK {
		run.BuildCPU = cpu1 - cpu0
	}
	t1 := time.Now()
	if run.NoopStats, err = ix.Update(ctx); err != nil {
		ix.Close()
		return nil, fmt.Errorf("bench codeindex: %s: re-index: %w", name, err)
	}
	run.Noop = time.Since(t1)
	run.Stats = ix.Stats()
	run.Embedder = cmp.Or(run.Stats.Embedder, spec.label)
	if run.IndexBytes, err = dirBytes(dir); err != nil {
		ix.Close()
		return nil, err
	}
	r.progress("%s: built %d files, %d chunks in %.1fs; no-op re-index %.3fs; index %d bytes",
		name, run.Cold.Files, run.Stats.Chunks, run.Build.Seconds(), run.Noop.Seconds(), run.IndexBytes)
	return ix, nil
}

// ask runs every query with every retriever. Mode 1 asks one query at a
// time, so that each Search call's wall clock is its latency; mode 2 is
// only scored, and asks GOMAXPROCS at a time.
func (r *codeIndexBench) ask(ctx context.Context, ix searcher, run *CodeIndexRun, name string) error {
	workers := 1
	if run.Mode != modeCode {
		workers = runtime.GOMAXPROCS(0)
	}
	for _, m := range retrievers {
		t0 := time.Now()
		cpu0, cpuOK := processCPU()
		ranks, lat, err := evaluate(ctx, ix, r.queries, m, workers)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res := CodeIndexRetriever{Retriever: m.String(), retrieval: score(ranks)}
		if cpu1, ok := processCPU(); ok && cpuOK && workers == 1 {
			res.CPUPerQuery = (cpu1 - cpu0) / time.Duration(len(r.queries))
		}
		for i, q := range r.queries {
			if q.generated && ranks[i] >= 1 && ranks[i] <= evalK {
				res.GeneratedFound++
			}
		}
		if workers == 1 {
			res.P50, res.P99 = quantile(lat, 0.50), quantile(lat, 0.99)
		}
		run.Results = append(run.Results, res)
		r.progress("%s, %s: recall@1 %.3f, recall@10 %.3f, MRR@10 %.3f (%d queries in %.1fs)",
			name, res.Retriever, res.RecallAt1, res.RecallAt10, res.MRRAt10, len(r.queries), time.Since(t0).Seconds())
	}
	return nil
}

// incremental edits one file twice (a function appended; the file is
// replaced, never written through a hard link) and times an Update after
// each: a full walk, then one given the file's path.
func (r *codeIndexBench) incremental(ctx context.Context, ix *codeindex.Index, root string, run *CodeIndexRun) error {
	rel := editedFile
	if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
		rel = r.corpus.files[len(r.corpus.files)/2].rel
	}
	path := filepath.Join(root, filepath.FromSlash(rel))
	run.EditedFile = rel
	for i, paths := range [][]string{nil, {path}} {
		if err := editFile(path, editedFileAppends); err != nil {
			return err
		}
		t0 := time.Now()
		st, err := ix.Update(ctx, paths...)
		if err != nil {
			return fmt.Errorf("bench codeindex: incremental update: %w", err)
		}
		run.Incremental[i], run.IncrementalStats[i] = time.Since(t0), st
	}
	r.progress("incremental: %s edited: Update %.3fs (%d changed), Update(path) %.3fs (%d changed)",
		rel, run.Incremental[0].Seconds(), run.IncrementalStats[0].Changed, run.Incremental[1].Seconds(), run.IncrementalStats[1].Changed)
	return nil
}

// logger passes the index's warnings to Progress.
func (r *codeIndexBench) logger() *slog.Logger {
	if r.opt.Progress == nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(r.opt.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// buildProgress returns an Options.Progress that prints a line at every
// quarter of the files; nil without Progress.
func (r *codeIndexBench) buildProgress(name string) func(done, total int) {
	if r.opt.Progress == nil {
		return nil
	}
	var mu sync.Mutex
	last := 0
	return func(done, total int) {
		if total <= 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if q := 4 * done / total; q > last && q < 4 {
			last = q
			r.progress("%s: indexed %d of %d files", name, done, total)
		}
	}
}

// rssStep reads the peak RSS so far.
func rssStep(after string) CodeIndexRSS {
	n, _ := peakRSS()
	return CodeIndexRSS{After: after, Bytes: n}
}

// gorootVersion returns the first line of GOROOT/VERSION, or "".
func gorootVersion(goroot string) string {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return ""
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}
