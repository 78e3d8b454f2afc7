package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/bench"
)

func benchOverheadCmd(stdout io.Writer) *cobra.Command {
	var opt bench.Options
	var jsonOnly bool
	cmd := &cobra.Command{
		Use:   "overhead",
		Short: "Compare llmux with a bare reverse proxy and the simulator direct, in one interleaved run",
		Long: `Starts the provider simulator without latency, llmux in front of it and a
bare httputil.ReverseProxy in front of it, then drives the same chat load
(non-streaming and streaming) against all three, interleaved in rounds.
Prints the conditions, a table per mode, the verdict against the bar
(non-streaming throughput through llmux >= 70% of the proxy's; the exit
code does not depend on it) and one JSON line starting {"bench":"overhead".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Concurrency < 1 || opt.Duration <= 0 || opt.Rounds < 1 {
				return fmt.Errorf("bench overhead: --concurrency, --duration and --rounds must be positive")
			}
			if !jsonOnly {
				opt.Progress = cmd.ErrOrStderr()
			}
			return benchOverhead(cmd.Context(), opt, jsonOnly, stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opt.Concurrency, "concurrency", bench.DefaultConcurrency, "requests in flight per target")
	f.DurationVar(&opt.Duration, "duration", bench.DefaultDuration, "how long each target is loaded per mode per round")
	f.IntVar(&opt.Rounds, "rounds", bench.DefaultRounds, "rounds; the target order rotates each round")
	f.BoolVar(&jsonOnly, "json", false, "print only the JSON line")
	return cmd
}

func benchOverhead(ctx context.Context, opt bench.Options, jsonOnly bool, stdout io.Writer) error {
	rep, err := bench.Overhead(ctx, opt)
	return printReport(rep, err, jsonOnly, stdout)
}
