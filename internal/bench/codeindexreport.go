package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmux/llmux/codeindex"
)

// CodeIndexReport is the result of a codeindex run.
type CodeIndexReport struct {
	Conditions CodeIndexConditions
	// Runs are the indexes built: per embedder (built-in first), mode 1
	// then mode 2.
	Runs []CodeIndexRun
	// PeakRSS is the whole process's peak resident set at the end, in
	// bytes; RSSSteps the peak after each step.
	PeakRSS  int64
	RSSSteps []CodeIndexRSS
	Bars     []CodeIndexBar
}

// CodeIndexConditions are what a codeindex run ran on and with.
type CodeIndexConditions struct {
	Date, Go, GOOS, GOARCH   string
	NumCPU, GOMAXPROCS       int
	LoadAvgStart, LoadAvgEnd string
	// GOROOT is `go env GOROOT` ("" if unknown), GOROOTVersion the first
	// line of its VERSION file.
	GOROOT, GOROOTVersion string
	Root                  string
	WorkDir               string
	Kept                  bool
	// The corpus: Files and SourceBytes (their sum); Linked of them
	// hard-linked in mode 1 (the rest copied); BlankedBytes comment bytes
	// replaced by spaces in mode 2; MaxFileBytes is what the indexes were
	// given (the largest file, so that every file is indexed).
	Files        int
	SourceBytes  int64
	Largest      string
	LargestBytes int64
	Linked       int
	BlankedBytes int64
	// Generated and GeneratedBytes are the generated files
	// (ast.IsGenerated); QueriesGenerated the queries asked whose answer
	// is in one.
	Generated            int
	GeneratedBytes       int64
	QueriesGenerated     int
	MaxFileBytes         int64
	Queries              querySet
	QueriesShort         int
	ParseErrors          int
	QueriesAsked         int
	QueriesSampled       int // --queries; 0: all
	Embedders            []string
	EmbedderURL, RSSFrom string
	Prepare              time.Duration
}

// CodeIndexRun is one index: one corpus (Mode) and one embedder.
type CodeIndexRun struct {
	Mode int
	// Label is the embedder as the command line names it (builtin,
	// http); Embedder its Name as the index reports it.
	Label, Embedder string
	// Build is the wall clock of Open plus a full Update into an empty
	// index directory, BuildCPU the process's CPU time meanwhile; Cold
	// is that Update's stats.
	Build, BuildCPU time.Duration
	Cold            codeindex.UpdateStats
	// Noop is a second full Update with nothing changed.
	Noop      time.Duration
	NoopStats codeindex.UpdateStats
	Stats     codeindex.Stats
	// IndexBytes is the size of the files in the index directory after
	// the no-op update.
	IndexBytes int64
	Results    []CodeIndexRetriever
	// EditedFile is set for the run that measured incremental updates:
	// Incremental[0] a full Update after the file was edited,
	// Incremental[1] an Update given its path after a second edit.
	EditedFile       string
	Incremental      [2]time.Duration
	IncrementalStats [2]codeindex.UpdateStats
}

// CodeIndexRetriever is one retriever's scores over the queries and, where
// the queries were asked one at a time, its latency quantiles.
type CodeIndexRetriever struct {
	Retriever string
	retrieval
	P50, P99 time.Duration
	// CPUPerQuery is the process's CPU time while the queries were asked
	// one at a time, divided by their number: what a query costs,
	// undisturbed by other load on the machine (0 where unknown).
	CPUPerQuery time.Duration
	// GeneratedFound counts the queries answered in a generated file
	// whose answer was among the first 10 hits.
	GeneratedFound int
}

// CodeIndexRSS is the process's peak RSS after a step of the run.
type CodeIndexRSS struct {
	After string
	Bytes int64
}

// CodeIndexBar is one of the issue's bars.
type CodeIndexBar = IssueBar

// CodeIndexResult is one (mode, retriever, embedder) in the JSON line.
type CodeIndexResult struct {
	Mode       int     `json:"mode"`
	Retriever  string  `json:"retriever"`
	Embedder   string  `json:"embedder"`
	RecallAt1  float64 `json:"recall_at_1"`
	RecallAt10 float64 `json:"recall_at_10"`
	MRRAt10    float64 `json:"mrr_at_10"`
}

// codeIndexLine is the JSON line; its keys are the issue's contract. The
// top-level figures are mode 1's with the built-in embedder.
type codeIndexLine struct {
	Files        int               `json:"files"`
	SourceBytes  int64             `json:"source_bytes"`
	Chunks       int               `json:"chunks"`
	BuildS       float64           `json:"build_s"`
	ReindexNoopS float64           `json:"reindex_noop_s"`
	IndexBytes   int64             `json:"index_bytes"`
	SizeRatio    float64           `json:"size_ratio"`
	PeakRSSMB    float64           `json:"peak_rss_mb"`
	QueryP50MS   float64           `json:"query_p50_ms"`
	QueryP99MS   float64           `json:"query_p99_ms"`
	Results      []CodeIndexResult `json:"results"`
}

func codeIndexConditionsNow(opt CodeIndexOptions, goroot, work string) CodeIndexConditions {
	c := CodeIndexConditions{
		Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadAvgStart: readLoadAvg(),
		GOROOT: goroot, Root: opt.Root, WorkDir: work, Kept: opt.Keep != "", QueriesSampled: opt.Queries,
		Embedders: []string{builtinLabel}, EmbedderURL: opt.EmbedderURL,
	}
	if goroot != "" {
		c.GOROOTVersion = gorootVersion(goroot)
	}
	if opt.EmbedderURL != "" {
		c.Embedders = append(c.Embedders, "http (model "+opt.EmbedderModel+")")
	}
	_, c.RSSFrom = peakRSS()
	return c
}

// main is the run the top-level figures and most bars are about: mode 1
// with the built-in embedder.
func (r *CodeIndexReport) main() *CodeIndexRun {
	for i := range r.Runs {
		if r.Runs[i].Mode == modeCode && r.Runs[i].Label == builtinLabel {
			return &r.Runs[i]
		}
	}
	return &CodeIndexRun{}
}

func (r *CodeIndexReport) sizeRatio() float64 {
	if r.Conditions.SourceBytes == 0 {
		return 0
	}
	return float64(r.main().IndexBytes) / float64(r.Conditions.SourceBytes)
}

func (run *CodeIndexRun) result(retriever string) CodeIndexRetriever {
	for _, x := range run.Results {
		if x.Retriever == retriever {
			return x
		}
	}
	return CodeIndexRetriever{Retriever: retriever}
}

// finish computes the bars.
func (r *CodeIndexReport) finish() {
	m := r.main()
	hybrid := m.result(codeindex.ModeHybrid.String())
	r.Bars = []CodeIndexBar{
		{What: fmt.Sprintf("cold build of the whole corpus (mode 1, builtin) <= %s", MaxColdBuild),
			Value: fmt.Sprintf("%.1fs", m.Build.Seconds()), Pass: m.Build <= MaxColdBuild},
		{What: fmt.Sprintf("index size <= %.1fx the source", MaxSizeRatio),
			Value: fmt.Sprintf("%s / %s = %.3fx", mib(m.IndexBytes), mib(r.Conditions.SourceBytes), r.sizeRatio()), Pass: r.sizeRatio() <= MaxSizeRatio},
		{What: fmt.Sprintf("query p99 (mode 1, hybrid, builtin) <= %s", MaxQueryP99),
			Value: fmt.Sprintf("%.1fms", msf(hybrid.P99)), Pass: hybrid.P99 <= MaxQueryP99},
		{What: fmt.Sprintf("peak memory (whole process) <= %s", mib(MaxPeakRSSBytes)),
			Value: mib(r.PeakRSS), Pass: r.PeakRSS > 0 && r.PeakRSS <= MaxPeakRSSBytes},
		{What: fmt.Sprintf("no-change re-index (mode 1, builtin) <= %s", MaxNoopReindex),
			Value: fmt.Sprintf("%.3fs", m.Noop.Seconds()), Pass: m.Noop <= MaxNoopReindex},
	}
	for i := range r.Runs {
		r.Bars = append(r.Bars, retrievalBars(&r.Runs[i])...)
	}
}

// retrievalBars are one index's: hybrid at least the BM25 reference, and
// hybrid at least lexical on every measure.
func retrievalBars(run *CodeIndexRun) []CodeIndexBar {
	ref := bm25Reference[run.Mode]
	h := run.result(codeindex.ModeHybrid.String())
	l := run.result(codeindex.ModeLexical.String())
	name := fmt.Sprintf("mode %d, %s", run.Mode, run.Label)
	return []CodeIndexBar{
		{What: fmt.Sprintf("%s: hybrid recall@10 >= %.2f (BM25 reference)", name, ref.RecallAt10),
			Value: fmt.Sprintf("%.4f", h.RecallAt10), Pass: h.RecallAt10 >= ref.RecallAt10},
		{What: fmt.Sprintf("%s: hybrid MRR@10 >= %.2f (BM25 reference)", name, ref.MRRAt10),
			Value: fmt.Sprintf("%.4f", h.MRRAt10), Pass: h.MRRAt10 >= ref.MRRAt10},
		{What: fmt.Sprintf("%s: hybrid >= lexical (recall@1, recall@10, MRR@10)", name),
			Value: fmt.Sprintf("%.4f/%.4f/%.4f vs %.4f/%.4f/%.4f", h.RecallAt1, h.RecallAt10, h.MRRAt10, l.RecallAt1, l.RecallAt10, l.MRRAt10),
			Pass:  h.RecallAt1 >= l.RecallAt1 && h.RecallAt10 >= l.RecallAt10 && h.MRRAt10 >= l.MRRAt10},
	}
}

// WriteJSON writes the issue's JSON line.
func (r *CodeIndexReport) WriteJSON(w io.Writer) error {
	m := r.main()
	hybrid := m.result(codeindex.ModeHybrid.String())
	line := codeIndexLine{
		Files: r.Conditions.Files, SourceBytes: r.Conditions.SourceBytes, Chunks: m.Stats.Chunks,
		BuildS: round(m.Build.Seconds(), 3), ReindexNoopS: round(m.Noop.Seconds(), 3),
		IndexBytes: m.IndexBytes, SizeRatio: round(r.sizeRatio(), 4), PeakRSSMB: round(float64(r.PeakRSS)/(1<<20), 1),
		QueryP50MS: ms(hybrid.P50), QueryP99MS: ms(hybrid.P99), Results: []CodeIndexResult{},
	}
	for _, run := range r.Runs {
		for _, x := range run.Results {
			line.Results = append(line.Results, CodeIndexResult{Mode: run.Mode, Retriever: x.Retriever, Embedder: run.Embedder,
				RecallAt1: x.RecallAt1, RecallAt10: x.RecallAt10, MRRAt10: x.MRRAt10})
		}
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("bench: encode codeindex report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteText writes the conditions, the retrieval table, the index table,
// incremental updates, latency, memory and the verdicts on the bars.
func (r *CodeIndexReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	r.writeRetrieval(&b)
	r.writeIndexes(&b)
	writeBars(&b, "the codeindex issue", r.Bars)
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *CodeIndexConditions) write(b *strings.Builder) {
	fmt.Fprintln(b, "llmux bench codeindex: code search over a codebase no one here wrote")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", c.Date)
	fmt.Fprintf(tw, "go\t%s %s/%s, NumCPU %d, GOMAXPROCS %d\n", c.Go, c.GOOS, c.GOARCH, c.NumCPU, c.GOMAXPROCS)
	fmt.Fprintf(tw, "loadavg\tstart %s; end %s\n", orUnknown(c.LoadAvgStart), orUnknown(c.LoadAvgEnd))
	fmt.Fprintf(tw, "root\t%s (GOROOT %s, %s)\n", c.Root, orUnknown(c.GOROOT), orUnknown(c.GOROOTVersion))
	fmt.Fprintf(tw, "corpus\t%d non-test .go files outside testdata and vendor directories, %d bytes (%s); largest %s (%s)\n",
		c.Files, c.SourceBytes, mib(c.SourceBytes), c.Largest, mib(c.LargestBytes))
	fmt.Fprintf(tw, "\tmode 1: the code as it is (%d of the %d files hard-linked to the source, the rest copied)\n", c.Linked, c.Files)
	fmt.Fprintf(tw, "\tmode 2: comments blanked: %d comment bytes (%.1f%%) replaced by spaces, newlines kept, so every line keeps its number\n",
		c.BlankedBytes, pct(c.BlankedBytes, c.SourceBytes))
	fmt.Fprintf(tw, "\t%d generated files (%s; ast.IsGenerated: \"Code generated ... DO NOT EDIT.\") left out of both modes: the index skips them by design\n",
		c.Generated, mib(c.GeneratedBytes))
	fmt.Fprintf(tw, "\tthe indexes get MaxFileBytes = the largest file (%d), so no file is too large; what else they skip is theirs to decide\n", c.MaxFileBytes)
	fmt.Fprintf(tw, "queries\tthe first sentence (go/doc Synopsis) of the doc comment of an exported function, or method of an exported type,\n")
	fmt.Fprintf(tw, "\twithout the function's name; the answer is that function: a hit is right when its file and lines hold the func line\n")
	fmt.Fprintf(tw, "\t%d candidates (%d more had fewer than %d words left; %d files did not parse); %d dropped as duplicates (%d texts shared by several functions)\n",
		c.Queries.Candidates, c.QueriesShort, minQueryWords, c.ParseErrors, c.Queries.DupQueries, c.Queries.DupTexts)
	asked := fmt.Sprintf("%d queries asked (all)", c.QueriesAsked)
	if c.QueriesAsked < c.Queries.Available {
		asked = fmt.Sprintf("%d queries asked: a sample of the %d (--queries, seed %d)", c.QueriesAsked, c.Queries.Available, querySeed)
	}
	fmt.Fprintf(tw, "\t%s; the same queries in both modes; K = %d\n", asked, evalK)
	fmt.Fprintf(tw, "embedders\t%s; the built-in one is learned from each corpus at its build\n", strings.Join(c.Embedders, ", "))
	where := "a temporary directory, removed at the end"
	if c.Kept {
		where = "kept in " + c.WorkDir
	}
	fmt.Fprintf(tw, "indexes\teach built cold into an empty directory; corpora and indexes in %s\n", where)
	fmt.Fprintf(tw, "\tthe corpus was just written, so its files are in the page cache; preparing it and the queries took %.1fs\n", c.Prepare.Seconds())
	fmt.Fprintf(tw, "latency\twall clock of each Search call, mode 1, one query at a time; mode 2 asks %d at a time and is not timed\n", c.GOMAXPROCS)
	fmt.Fprintf(tw, "memory\tpeak RSS of the whole process (corpus preparation, query extraction, indexing, searching), %s\n", orUnknown(c.RSSFrom))
	tw.Flush()
}

func (r *CodeIndexReport) writeRetrieval(b *strings.Builder) {
	fmt.Fprintf(b, "\nretrieval (%d queries; recall@k: share whose answer is among the first k hits; MRR@10: mean of 1/rank, 0 beyond 10)\n", r.Conditions.QueriesAsked)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tcorpus\tembedder\tretriever\trecall@1\trecall@10\tMRR@10\tp50\tp99\tcpu/query\t")
	for _, run := range r.Runs {
		for _, x := range run.Results {
			p50, p99, cpu := "-", "-", "-"
			if x.P99 > 0 {
				p50, p99 = fmt.Sprintf("%.2fms", msf(x.P50)), fmt.Sprintf("%.2fms", msf(x.P99))
			}
			if x.CPUPerQuery > 0 {
				cpu = fmt.Sprintf("%.2fms", msf(x.CPUPerQuery))
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%s\t%s\t%s\t\n", run.Mode, modeName(run.Mode), run.Embedder, x.Retriever,
				x.RecallAt1, x.RecallAt10, x.MRRAt10, p50, p99, cpu)
		}
	}
	tw.Flush()
	fmt.Fprintln(b, "p50, p99: wall clock per Search call; cpu/query: the whole process's CPU time over the queries (mode 1, one at a time)")
	if c := &r.Conditions; c.QueriesGenerated > 0 {
		var found []string
		for _, run := range r.Runs {
			var per []string
			for _, x := range run.Results {
				per = append(per, fmt.Sprintf("%s %d", x.Retriever, x.GeneratedFound))
			}
			found = append(found, fmt.Sprintf("mode %d %s: %s", run.Mode, run.Embedder, strings.Join(per, ", ")))
		}
		fmt.Fprintf(b, "%d queries (%.1f%%) answer in generated files (an index that skips them cannot reach recall@10 above %.4f); found in the top 10:\n  %s\n",
			c.QueriesGenerated, 100*float64(c.QueriesGenerated)/float64(c.QueriesAsked),
			1-float64(c.QueriesGenerated)/float64(c.QueriesAsked), strings.Join(found, "\n  "))
	}
	fmt.Fprintf(b, "BM25 reference (issue): mode 1 recall@10 %.2f, MRR@10 %.2f; mode 2 recall@10 %.2f, MRR@10 %.2f\n",
		bm25Reference[modeCode].RecallAt10, bm25Reference[modeCode].MRRAt10, bm25Reference[modeBlanked].RecallAt10, bm25Reference[modeBlanked].MRRAt10)
}

func (r *CodeIndexReport) writeIndexes(b *strings.Builder) {
	fmt.Fprintf(b, "\nindexes (build: Open + full Update into an empty directory; no-op: a second full Update, nothing changed)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tembedder\tfiles\tchunks\tsource\tindex\tindex/source\tbuild\tbuild CPU\tno-op\tno-op changed\t")
	for _, run := range r.Runs {
		cpu := "?"
		if run.BuildCPU > 0 {
			cpu = fmt.Sprintf("%.1fs", run.BuildCPU.Seconds())
		}
		ratio := 0.0
		if r.Conditions.SourceBytes > 0 {
			ratio = float64(run.IndexBytes) / float64(r.Conditions.SourceBytes)
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\t%.3f\t%.2fs\t%s\t%.3fs\t%d\t\n", run.Mode, run.Embedder, run.Cold.Files, run.Stats.Chunks,
			mib(run.Cold.SourceBytes), mib(run.IndexBytes), ratio, run.Build.Seconds(), cpu, run.Noop.Seconds(), run.NoopStats.Changed)
	}
	tw.Flush()
	fmt.Fprintln(b, "source: the bytes the index read (UpdateStats.SourceBytes); index/source: the index directory over the corpus's bytes")
	for _, run := range r.Runs {
		if run.EditedFile == "" {
			continue
		}
		s0, s1 := run.IncrementalStats[0], run.IncrementalStats[1]
		fmt.Fprintf(b, "incremental (mode %d, %s): %s edited (a function appended): full Update %.3fs (%d changed, %d chunks); "+
			"edited again, Update(its path) %.3fs (%d changed)\n",
			run.Mode, run.Embedder, run.EditedFile, run.Incremental[0].Seconds(), s0.Changed, s0.Chunks, run.Incremental[1].Seconds(), s1.Changed)
	}
	var steps []string
	for _, s := range r.RSSSteps {
		steps = append(steps, fmt.Sprintf("after %s %s", s.After, mib(s.Bytes)))
	}
	fmt.Fprintf(b, "peak RSS (whole process): %s; at the end %s\n", strings.Join(steps, ", "), mib(r.PeakRSS))
}

func modeName(mode int) string {
	if mode == modeBlanked {
		return "comments blanked"
	}
	return "code as it is"
}

// mib formats a byte count in MiB, or KiB below one MiB.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
