package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/codeindex"
)

type searchFlags struct {
	root, indexDir, mode, batch string
	k                           int
	asJSON                      bool
	embed                       embedFlags
}

func searchCmd(stdout, stderr io.Writer) *cobra.Command {
	var fl searchFlags
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search the local code index built by llmux index",
		Long: `Prints the best chunks for QUERY as "path:start-end  symbol  score" with a
short snippet (re-read from the file), or a JSON array with --json. With
--batch FILE it reads JSON lines {"id": ..., "query": "..."} (- for stdin)
and writes one JSON line {"id": ..., "hits": ["path:start-end", ...]} per
query, best first.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if fl.batch == "" && len(args) == 0 {
				return errors.New("search: give a QUERY or --batch FILE")
			}
			if fl.batch != "" && len(args) > 0 {
				return errors.New("search: give either a QUERY or --batch FILE, not both")
			}
			if !cmd.Flags().Changed("root") && fl.indexDir != "" {
				fl.root = "" // the root recorded in the index
			}
			return runSearch(cmd.Context(), strings.Join(args, " "), fl, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.root, "root", ".", "repository root (default \".\", or the root recorded in --index-dir)")
	f.StringVar(&fl.indexDir, "index-dir", "", "directory of the index (default ROOT/.llmux)")
	f.StringVar(&fl.mode, "mode", "hybrid", "retrieval: lexical, vector or hybrid")
	f.IntVar(&fl.k, "k", 10, "number of hits")
	f.BoolVar(&fl.asJSON, "json", false, "print a JSON array of hits")
	f.StringVar(&fl.batch, "batch", "", `answer the JSON lines {"id":...,"query":...} of this file (- for stdin)`)
	fl.embed.register(cmd)
	return cmd
}

func runSearch(ctx context.Context, query string, fl searchFlags, stdout, stderr io.Writer) error {
	mode, err := codeindex.ParseMode(fl.mode)
	if err != nil {
		return fmt.Errorf("search: --mode: %w", err)
	}
	if fl.k <= 0 {
		return fmt.Errorf("search: --k %d: must be positive", fl.k)
	}
	emb, err := fl.embed.embedder()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	ix, err := codeindex.Open(ctx, fl.root, codeindex.Options{IndexDir: fl.indexDir, Embedder: emb,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer ix.Close()
	if st := ix.Stats(); st.Files == 0 {
		return errors.New("search: the index is empty or missing; run llmux index first")
	}
	opts := codeindex.SearchOptions{K: fl.k, Mode: mode}
	if fl.batch != "" {
		return searchBatch(ctx, ix, fl.batch, opts, stdout)
	}
	hits, err := ix.Search(ctx, query, opts)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if fl.asJSON {
		if hits == nil {
			hits = []codeindex.Hit{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(hits)
	}
	return printHits(stdout, hits)
}

func printHits(w io.Writer, hits []codeindex.Hit) error {
	bw := bufio.NewWriter(w)
	if len(hits) == 0 {
		fmt.Fprintln(bw, "no hits")
	}
	for _, h := range hits {
		sym := h.Symbol
		if sym == "" {
			sym = "-"
		}
		fmt.Fprintf(bw, "%s  %s  %.4f\n", h.Location(), sym, h.Score)
		for _, line := range strings.Split(h.Snippet, "\n") {
			if line != "" {
				fmt.Fprintf(bw, "    %s\n", line)
			}
		}
	}
	return bw.Flush()
}

// batchQuery is one line of a --batch file; the id is echoed as it is.
type batchQuery struct {
	ID    json.RawMessage `json:"id"`
	Query string          `json:"query"`
}

type batchAnswer struct {
	ID   json.RawMessage `json:"id"`
	Hits []string        `json:"hits"`
}

func searchBatch(ctx context.Context, ix *codeindex.Index, path string, opts codeindex.SearchOptions, stdout io.Writer) error {
	in := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		defer f.Close()
		in = f
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var q batchQuery
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			return fmt.Errorf("search: %s:%d: %w", path, n, err)
		}
		if len(q.ID) == 0 {
			q.ID = json.RawMessage("null")
		}
		hits, err := ix.Search(ctx, q.Query, opts)
		if err != nil {
			return fmt.Errorf("search: %s:%d: %w", path, n, err)
		}
		a := batchAnswer{ID: q.ID, Hits: make([]string, len(hits))}
		for i, h := range hits {
			a.Hits[i] = h.Location()
		}
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("search: %s: %w", path, err)
	}
	return out.Flush()
}
