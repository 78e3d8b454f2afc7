package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/codeindex"
)

// embedFlags choose the embedder of `llmux index` and `llmux search`.
type embedFlags struct {
	kind, url, model, keyEnv string
}

func (e *embedFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&e.kind, "embedder", "builtin", "embedder: builtin (learned from the repository, no network) or http (an OpenAI-compatible endpoint)")
	f.StringVar(&e.url, "embed-url", "", "base URL of the embeddings endpoint for --embedder http (POST {url}/v1/embeddings)")
	f.StringVar(&e.model, "embed-model", "", "embedding model for --embedder http")
	f.StringVar(&e.keyEnv, "embed-key-env", "LLMUX_EMBED_API_KEY", "environment variable holding the API key for --embedder http (unset: no key)")
}

// embedder returns the chosen embedder; nil means the built-in one.
func (e *embedFlags) embedder() (codeindex.Embedder, error) {
	switch e.kind {
	case "builtin", "":
		return nil, nil
	case "http":
		if e.url == "" || e.model == "" {
			return nil, errors.New("--embedder http needs --embed-url and --embed-model")
		}
		return codeindex.NewHTTPEmbedder(e.url, os.Getenv(e.keyEnv), e.model), nil
	}
	return nil, fmt.Errorf("--embedder must be builtin or http, not %q", e.kind)
}

type indexFlags struct {
	indexDir string
	maxBytes int64
	verbose  bool
	embed    embedFlags
}

func indexCmd(stdout, stderr io.Writer) *cobra.Command {
	var fl indexFlags
	cmd := &cobra.Command{
		Use:   "index [PATH]",
		Short: "Build or update the local code index of a repository (default: the current directory)",
		Long: `Walks the repository (honouring .gitignore; skipping .git, vendored,
generated, binary and oversized files), splits code into chunks along its
syntax and builds a lexical (BM25) and a vector index in PATH/.llmux (or
--index-dir). Re-running updates it incrementally. A damaged index is
detected and rebuilt.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root := "."
			if len(args) == 1 {
				root = args[0]
			}
			return runIndex(cmd.Context(), root, fl, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&fl.indexDir, "index-dir", "", "directory of the index (default PATH/.llmux)")
	cmd.Flags().Int64Var(&fl.maxBytes, "max-file-bytes", 1<<20, "skip files larger than this")
	cmd.Flags().BoolVarP(&fl.verbose, "verbose", "v", false, "log every skipped file and step")
	fl.embed.register(cmd)
	return cmd
}

func runIndex(ctx context.Context, root string, fl indexFlags, stdout, stderr io.Writer) error {
	emb, err := fl.embed.embedder()
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if fl.verbose {
		level = slog.LevelDebug
	}
	prog := newProgress(stderr)
	opts := codeindex.Options{
		IndexDir: fl.indexDir, MaxFileBytes: fl.maxBytes, Embedder: emb,
		Logger:   slog.New(slog.NewTextHandler(prog.lineWriter(), &slog.HandlerOptions{Level: level})),
		Progress: prog.update,
	}
	ix, err := openOrRebuild(ctx, root, opts, stderr)
	if err != nil {
		return err
	}
	defer ix.Close()
	st, err := ix.Update(ctx)
	prog.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("index: interrupted; the previous index is intact: %w", err)
		}
		return fmt.Errorf("index: %w", err)
	}
	ratio := 0.0
	if st.SourceBytes > 0 {
		ratio = float64(st.IndexBytes) / float64(st.SourceBytes)
	}
	_, err = fmt.Fprintf(stdout, "indexed %d files (%d changed, %d removed), %d chunks; source %s, index %s (%.2f×), embedder %s, in %s\n",
		st.Files, st.Changed, st.Removed, st.Chunks, mib(st.SourceBytes), mib(st.IndexBytes), ratio,
		ix.Stats().Embedder, st.Elapsed.Round(time.Millisecond))
	return err
}

// openOrRebuild opens the index; a corrupt one is reported and dropped
// (its manifest removed, so that the next Update rebuilds it from the
// sources and collects the old files).
func openOrRebuild(ctx context.Context, root string, opts codeindex.Options, stderr io.Writer) (*codeindex.Index, error) {
	ix, err := codeindex.Open(ctx, root, opts)
	if !errors.Is(err, codeindex.ErrCorrupt) {
		return ix, err
	}
	dir := opts.IndexDir
	if dir == "" {
		dir = filepath.Join(root, ".llmux")
	}
	fmt.Fprintf(stderr, "llmux index: %v\nllmux index: rebuilding the index from scratch\n", err)
	if rerr := os.Remove(filepath.Join(dir, "manifest")); rerr != nil {
		return nil, fmt.Errorf("index: cannot drop the corrupt index: %w", rerr)
	}
	return codeindex.Open(ctx, root, opts)
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// progress shows Update's progress: a line rewritten in place (\r) on a
// terminal, a log line at every tenth otherwise.
type progress struct {
	mu    sync.Mutex // Progress and log lines come from several goroutines
	w     io.Writer
	tty   bool
	shown bool // a \r line is on screen
	last  int  // tenths already logged
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		const width = 30
		fill := width * done / total
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < fill {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\rindexing [%s] %d/%d", bar, done, total)
		p.shown = true
		return
	}
	if t := 10 * done / total; t > p.last {
		p.last = t
		fmt.Fprintf(p.w, "indexing: %d/%d\n", done, total)
	}
}

// done ends the \r line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func (p *progress) endLine() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

// lineWriter returns a writer for log lines that first ends the \r line.
func (p *progress) lineWriter() io.Writer { return progressLog{p} }

type progressLog struct{ p *progress }

func (l progressLog) Write(b []byte) (int, error) {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	l.p.endLine()
	return l.p.w.Write(b)
}
