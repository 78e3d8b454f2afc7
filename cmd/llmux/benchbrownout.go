package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/bench"
)

func benchBrownoutCmd(stdout, stderr io.Writer) *cobra.Command {
	var opt bench.BrownoutOptions
	var seeds []int64
	var jsonOnly bool
	cmd := &cobra.Command{
		Use:   "brownout",
		Short: "Success rate, p50/p95/p99, upstream requests and cost per request while providers brown out and fail",
		Long: `Starts the provider simulator with three providers (openai-1, azure-1,
anthropic-1) and three llmux gateways in front of it, one per mode:
no-failover (round-robin, one attempt), failover (round-robin, every
deployment, first-token timeout) and failover+latency+hedge (latency
strategy, first-token timeout, hedging within a 10% budget). One stream of
open-loop Poisson arrivals, each sent to all three gateways at once, runs
through four phases: healthy; brownout (openai-1: 30% 500s, first token
15 s late); outage (openai-1 still browned, azure-1 answering 503 or
resetting every request); recovered.

Time is compressed by --time-scale (real seconds per provider second);
every latency printed is provider time. Prints the conditions, a table per
mode × phase, the upstream requests by account, PASS/FAIL for the bars of
issue 4 (the exit code does not depend on them) and one JSON line
{"results":[...]}. Progress lines go to stderr.

With --seeds 1,2,3,4,5, one run per seed, one after the other: each run's
report under a line naming its seed, then a summary (hedged p99 by run,
medians, how many runs held each bar), then one JSON line per run,
{"seed":N,"results":[...]}, and a summary line {"summary":{...}}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !jsonOnly {
				opt.Progress = stderr
			}
			if len(seeds) == 1 {
				opt.Seed = seeds[0]
			}
			if len(seeds) > 1 {
				rep, err := bench.BrownoutSeeds(cmd.Context(), opt, seeds)
				return printReport(rep, err, jsonOnly, stdout)
			}
			return benchBrownout(cmd.Context(), opt, jsonOnly, stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opt.RequestsPerPhase, "requests-per-phase", bench.DefaultBrownoutRequests, "expected arrivals per phase; a phase lasts this / --rate")
	f.Float64Var(&opt.Rate, "rate", bench.DefaultBrownoutRate, "arrivals per provider minute")
	f.Float64Var(&opt.TimeScale, "time-scale", bench.DefaultBrownoutTimeScale, "real seconds per provider second (0.1: ten times faster)")
	f.Int64Var(&opt.Seed, "seed", 1, "seed of the workload and the simulator")
	f.Int64SliceVar(&seeds, "seeds", nil, "run once per seed, one after the other, and summarize (e.g. 1,2,3,4,5)")
	f.BoolVar(&jsonOnly, "json", false, "print only the JSON line(s)")
	cmd.MarkFlagsMutuallyExclusive("seed", "seeds")
	return cmd
}

func benchBrownout(ctx context.Context, opt bench.BrownoutOptions, jsonOnly bool, stdout io.Writer) error {
	rep, err := bench.Brownout(ctx, opt)
	return printReport(rep, err, jsonOnly, stdout)
}
