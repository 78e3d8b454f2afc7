package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/bench"
	"github.com/llmux/llmux/internal/config"
)

func benchCodeIndexCmd(stdout, stderr io.Writer) *cobra.Command {
	var opt bench.CodeIndexOptions
	var jsonOnly bool
	var keyEnv string
	cmd := &cobra.Command{
		Use:   "codeindex",
		Short: "Code search quality, build time, size, latency and memory of package codeindex on the Go standard library",
		Long: `Indexes a codebase no one here wrote, the Go standard library
($(go env GOROOT)/src: non-test .go files outside testdata and vendor), with
package codeindex, twice: mode 1 the code as it is (hard-linked or copied
into a temporary directory), mode 2 with every comment blanked (replaced by
spaces, newlines kept, so line numbers hold). The queries are the first
sentences of exported functions' doc comments with the function's name
removed (texts shared by several functions dropped); the answer to each is
its function. Every query is asked with the lexical, vector and hybrid
retrievers of each index.

Prints the conditions, recall@1, recall@10 and MRR@10 per mode, retriever and
embedder, the indexes' build time (cold, no-op, incremental), size, query
latency and peak memory, PASS/FAIL for the issue's bars (the exit code does
not depend on them) and one JSON line {"files":...,"results":[...]}.
Progress lines go to stderr. The whole standard library takes minutes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Queries < 0 {
				return fmt.Errorf("bench codeindex: --queries %d: must not be negative", opt.Queries)
			}
			if (opt.EmbedderURL == "") != (opt.EmbedderModel == "") {
				return fmt.Errorf("bench codeindex: --embedder-url and --embedder-model go together")
			}
			if keyEnv != "" {
				opt.EmbedderKey = config.Secret(os.Getenv(keyEnv))
			}
			if !jsonOnly {
				opt.Progress = stderr
			}
			return benchCodeIndex(cmd.Context(), opt, jsonOnly, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opt.Root, "root", "", "tree to index (default $(go env GOROOT)/src)")
	f.IntVar(&opt.Queries, "queries", 0, "ask a sample of this many queries, fixed seed (default all)")
	f.StringVar(&opt.Keep, "keep", "", "keep the corpora and indexes in this new or empty directory")
	f.StringVar(&opt.EmbedderURL, "embedder-url", "", "also index with this OpenAI-compatible embeddings endpoint (base URL)")
	f.StringVar(&opt.EmbedderModel, "embedder-model", "", "the model for --embedder-url")
	f.StringVar(&keyEnv, "embedder-key-env", "LLMUX_EMBEDDER_API_KEY", "environment variable holding the API key for --embedder-url")
	f.BoolVar(&jsonOnly, "json", false, "print only the JSON line")
	return cmd
}

func benchCodeIndex(ctx context.Context, opt bench.CodeIndexOptions, jsonOnly bool, stdout io.Writer) error {
	rep, err := bench.CodeIndex(ctx, opt)
	return printReport(rep, err, jsonOnly, stdout)
}
