package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/bench"
)

func benchFaultsCmd(stdout, stderr io.Writer) *cobra.Command {
	var opt bench.FaultsOptions
	var jsonOnly bool
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Each simulated fault x stream and non-stream x OpenAI and Anthropic client: what the client got, what the provider saw",
		Long: `Starts the provider simulator and llmux in front of it, on loopback. Every
cell of the matrix — a fault (429 with and without Retry-After, 500, 503,
resets, no response, a slow first token, a stream cut or stalled
mid-answer, a malformed event, a missing [DONE], context length, content
filter, a fallback that rejects prefill, flapping) × stream and non-stream
× the OpenAI and the Anthropic client format — has its own route and
simulator models, and sends one request over plain HTTP.

Prints the conditions, a table (outcome pass / partial / safe / fail,
whether the cell went as expected, attempts, the requests each deployment
saw, the gap before a retry, wall time, the attempt log) and one JSON line
{"bench":"faults",...}. The exit status is 1 if any cell's outcome is
fail. Progress lines go to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Concurrency < 1 {
				return fmt.Errorf("bench faults: --concurrency %d: must be at least 1", opt.Concurrency)
			}
			if !jsonOnly {
				opt.Progress = stderr
			}
			return benchFaults(cmd.Context(), opt, jsonOnly, stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opt.Concurrency, "concurrency", bench.DefaultFaultsConcurrency, "cells run at once")
	f.Int64Var(&opt.Seed, "seed", 1, "seed of the simulator")
	f.BoolVar(&jsonOnly, "json", false, "print only the JSON line")
	return cmd
}

func benchFaults(ctx context.Context, opt bench.FaultsOptions, jsonOnly bool, stdout io.Writer) error {
	rep, err := bench.Faults(ctx, opt)
	if err := printReport(rep, err, jsonOnly, stdout); err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("bench faults: %d cells failed", n)
	}
	return nil
}
