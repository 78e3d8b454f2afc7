package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/server"
)

func routeCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "route", Short: "Inspect routing decisions"}
	var path, reqPath, tier, format string
	var asJSON bool
	explain := &cobra.Command{
		Use:   "explain",
		Short: "Show, for a request, every deployment of its route: kept or filtered out and why, and the order the strategy gives",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "openai" && format != "anthropic" {
				return fmt.Errorf("--format must be openai or anthropic, not %q", format)
			}
			return routeExplain(stdout, path, reqPath, tier, format == "anthropic", asJSON)
		},
	}
	explain.Flags().StringVar(&path, "config", "examples/quickstart.yaml", "config file")
	explain.Flags().StringVar(&reqPath, "request", "", "request body (OpenAI or Anthropic format; - for stdin)")
	explain.Flags().StringVar(&tier, "tier", "", "the client key's tier")
	explain.Flags().StringVar(&format, "format", "openai", "the request body's format: openai (chat completions) or anthropic (messages)")
	explain.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	explain.MarkFlagRequired("request")
	cmd.AddCommand(explain)
	return cmd
}

func routeExplain(stdout io.Writer, path, reqPath, tier string, isAnthropic, asJSON bool) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	// Nothing is sent: simulator accounts need an address, not a server.
	server.PointAtSimulator(cfg, "http://127.0.0.1:9")
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	body, err := readRequest(reqPath)
	if err != nil {
		return err
	}
	ex, err := g.Explain(context.Background(), body, isAnthropic, tier)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ex)
	}
	_, err = fmt.Fprintln(stdout, ex.String())
	return err
}

func readRequest(p string) ([]byte, error) {
	if p == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read request: %w", err)
	}
	return b, nil
}
