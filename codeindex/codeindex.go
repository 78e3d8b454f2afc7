package codeindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCorrupt reports an index file whose checksum does not match its
// manifest, or a manifest that cannot be decoded. Delete the manifest in
// the index directory and Update to rebuild.
var ErrCorrupt = errors.New("codeindex: index corrupt")

// Options configures Open. The zero value is usable: nil fields and zero
// numbers mean the documented defaults.
type Options struct {
	IndexDir     string       // default <root>/.llmux
	MaxFileBytes int64        // default 1 MiB
	Embedder     Embedder     // nil: the built-in one, learned from the repo at Update
	Logger       *slog.Logger // nil: discard
	// Progress, if not nil, is called from the Update's goroutine as files
	// are read (done of total), then, with an external embedder, as chunks
	// are embedded.
	Progress func(done, total int)
}

// Embedder turns texts into vectors. Embed returns one vector per text, in
// order, all of the same dimension; Name identifies the model, so that an
// index built with one embedder is never searched with another's vectors.
type Embedder interface {
	Name() string
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// UpdateStats reports what one Update did: Files and Chunks indexed after
// it, Changed files read whose content was new or different, Removed
// files dropped, the indexed source's and the index's bytes, and the time.
type UpdateStats struct {
	Files, Changed, Removed, Chunks int
	SourceBytes, IndexBytes         int64
	Elapsed                         time.Duration
}

// Stats describes the index as it is now; Embedder names the embedder of
// its vectors ("builtin-lsa", or "http:" and the model).
type Stats struct {
	Files, Chunks           int
	SourceBytes, IndexBytes int64
	Embedder                string
}

// Mode selects the retrieval method of Search.
type Mode int

// The search modes.
const (
	ModeHybrid Mode = iota
	ModeLexical
	ModeVector
)

// ParseMode parses "hybrid", "lexical" or "vector".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "hybrid", "":
		return ModeHybrid, nil
	case "lexical", "bm25":
		return ModeLexical, nil
	case "vector":
		return ModeVector, nil
	}
	return 0, fmt.Errorf("codeindex: unknown mode %q (want lexical, vector or hybrid)", s)
}

// String returns the mode's name as ParseMode accepts it.
func (m Mode) String() string {
	switch m {
	case ModeHybrid:
		return "hybrid"
	case ModeLexical:
		return "lexical"
	case ModeVector:
		return "vector"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// SearchOptions configures one Search.
type SearchOptions struct {
	K    int // default 10
	Mode Mode
}

// Hit is one search result: a chunk of a file.
type Hit struct {
	Path      string  `json:"path"` // slash-separated, relative to root
	StartLine int     `json:"start_line"`
	EndLine   int     `json:"end_line"`
	Symbol    string  `json:"symbol"` // "Name", "Recv.Name", "Class.method"; "" for line windows
	Kind      string  `json:"kind"`   // func, method, type, const, var, package, function, class, module, lines
	Score     float64 `json:"score"`  // lexical: BM25; vector: cosine; hybrid: BM25/its maximum + 0.1·cosine; higher is better
	Snippet   string  `json:"snippet"`
}

// Location returns "path:START-END".
func (h Hit) Location() string {
	return fmt.Sprintf("%s:%d-%d", h.Path, h.StartLine, h.EndLine)
}

// Index is a code index of one repository, kept on disk in its index
// directory. Its methods are safe for concurrent use: Search reads the
// last committed snapshot, even while Update prepares the next one.
type Index struct {
	root string // absolute
	dir  string // absolute index directory
	opts Options
	log  *slog.Logger

	mu     sync.Mutex // serializes Update within the process
	snap   atomic.Pointer[snapshot]
	closed atomic.Bool
	warned atomic.Bool // the hybrid fallback to lexical was logged
}

// ErrLocked reports that another process is updating the same index.
var ErrLocked = errors.New("codeindex: index locked")

// Open opens the index of the repository at root, or an empty index when
// none has been built yet (nothing is written until Update). Root may be
// empty when opts.IndexDir names an existing index: the root recorded in
// it is used. A damaged index file yields an error wrapping ErrCorrupt;
// deleting <IndexDir>/manifest and running Update rebuilds it.
func Open(ctx context.Context, root string, opts Options) (*Index, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if root == "" && opts.IndexDir != "" {
		m, err := readManifest(opts.IndexDir)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, fmt.Errorf("codeindex: no index in %s, and no root given", opts.IndexDir)
		}
		root = m.Root
	}
	if root == "" {
		root = "."
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("codeindex: root %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("codeindex: root %s: %w", root, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("codeindex: root %s is not a directory", root)
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 1 << 20
	}
	ix := &Index{root: abs, opts: opts, log: opts.Logger}
	if ix.log == nil {
		ix.log = slog.New(slog.DiscardHandler)
	}
	ix.dir = filepath.Join(abs, ".llmux")
	if opts.IndexDir != "" {
		if ix.dir, err = filepath.Abs(opts.IndexDir); err != nil {
			return nil, fmt.Errorf("codeindex: index dir: %w", err)
		}
	}
	s, err := loadSnapshot(ix.dir)
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = emptySnapshot(abs)
	}
	ix.snap.Store(s)
	return ix, nil
}

// builtinName names the built-in embedder in the manifest and Stats.
const builtinName = "builtin-lsa"

func (ix *Index) embedderName() string {
	if ix.opts.Embedder != nil {
		return ix.opts.Embedder.Name()
	}
	return builtinName
}

// Search returns the chunks that best match query, best first. The
// snippets are re-read from the files; a file changed since indexing
// gets a note instead.
func (ix *Index) Search(ctx context.Context, query string, opts SearchOptions) ([]Hit, error) {
	if ix.closed.Load() {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := ix.snap.Load()
	ranked, err := ix.search(ctx, s, query, opts)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, len(ranked))
	for i, r := range ranked {
		_, c, f := s.chunkAt(r.id)
		hits[i] = Hit{
			Path: f.path, StartLine: int(c.startLine), EndLine: int(c.endLine),
			Symbol: c.symbol, Kind: kinds[c.kind], Score: r.score,
			Snippet: snippet(ix.root, f, c),
		}
	}
	return hits, nil
}

// queryVector embeds a query for the vector scan; its scale is 0 when the
// query has no term the built-in model knows.
func (ix *Index) queryVector(ctx context.Context, s *snapshot, query string, terms []termFreq) (qvec, error) {
	if s.m.Embedder == builtinName || s.m.Embedder == "" {
		if s.model == nil || s.dim == 0 {
			return qvec{}, nil // nothing learned yet (an empty or tiny corpus)
		}
		q, scale := quantize(s.model.embed(terms))
		return qvec{q, scale}, nil
	}
	if ix.opts.Embedder == nil || ix.opts.Embedder.Name() != s.m.Embedder {
		return qvec{}, fmt.Errorf("codeindex: the index vectors come from embedder %q; open the index with it", s.m.Embedder)
	}
	if s.dim == 0 {
		return qvec{}, nil // no chunks
	}
	vs, err := ix.opts.Embedder.Embed(ctx, []string{query})
	if err != nil {
		return qvec{}, err
	}
	if len(vs) != 1 || len(vs[0]) != s.dim {
		return qvec{}, fmt.Errorf("codeindex: embedder %s returned no %d-dimensional vector", s.m.Embedder, s.dim)
	}
	q, scale := quantize(vs[0])
	return qvec{q, scale}, nil
}

// Stats describes the current snapshot.
func (ix *Index) Stats() Stats {
	s := ix.snap.Load()
	name := s.m.Embedder
	if name == "" {
		name = ix.embedderName()
	}
	return Stats{Files: len(s.files), Chunks: s.live, SourceBytes: s.sourceBytes, IndexBytes: s.indexBytes, Embedder: name}
}

// Close releases the index. Searches and updates after Close fail; an
// Update in progress finishes first.
func (ix *Index) Close() error {
	ix.closed.Store(true)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return nil
}
