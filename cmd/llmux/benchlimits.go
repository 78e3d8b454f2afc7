package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/bench"
)

func benchLimitsCmd(stdout, stderr io.Writer) *cobra.Command {
	var opt bench.LimitsOptions
	var jsonOnly, overload, redisLoss bool
	var seeds []int64
	cmd := &cobra.Command{
		Use:   "limits",
		Short: "Upstream 429s and capacity used under load: llmux's limits against naive round-robin, 1 and 3 replicas",
		Long: `Starts the provider simulator with 4 accounts over 3 providers (OpenAI, Azure,
Anthropic with separate input/output limits) and llmux in front of them, on
loopback, on one accelerated clock (--speedup). For each replica count, load
(a multiple of the accounts' aggregate capacity) and strategy (llmux's limits
and queue; naive round-robin), a phase of --phase clock time of open-loop
Poisson arrivals runs against a fresh simulator. Several replicas share their
limits through a redis-server started for the run on a free loopback port.

Prints the conditions, a table per replica count with a per-account
breakdown, PASS/FAIL for the bars of issue 3 (the exit code does not depend
on them) and one JSON line {"results":[...]}. Progress lines go to stderr.

With --overload it runs the overload benchmark of issue 12 instead: llmux
only, above capacity (default --loads 1.5, --phase 8m, --replicas 1) with
--max-wait 60s, once per --queue-targets (default 2s and 0, the standing-delay
control off, for comparison). It prints the served requests' queue-wait
p50/p90/p99 and latency, the sheds' latency (real ms) and Retry-After,
upstream 429s, the capacity used per account, PASS/FAIL for the bars of
issue 12 and one JSON line {"results":[...]} with its own keys.

With --redis-loss it runs the Redis-loss benchmark of issue 12 instead:
llmux only, several replicas sharing one redis-server (default --replicas 3,
--loads 1.5, --phase 7m); --kill-at into the phase the redis-server is
killed, and --down-for later a new, empty one is started on the same port.
One phase per seed (--seed, or --seeds 1,2,3 for several, one after the
other). It prints, per seed, the provider 429s, requests served and capacity
used before the loss, within 1s of the switch to local limiting, in the rest
of the loss and after the restart, and when each replica switched and came
back; PASS/FAIL for the bar (no provider 429 in any period) and one JSON line
{"bench":"limits-redis-loss","results":[...]}, a result per seed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if !redisLoss {
				for _, name := range []string{"seeds", "kill-at", "down-for"} {
					if f.Changed(name) {
						return errors.New("bench limits: --" + name + " needs --redis-loss")
					}
				}
			}
			if !jsonOnly {
				opt.Progress = stderr
			}
			if overload || redisLoss {
				// Flags left alone take the run's defaults.
				if !f.Changed("loads") {
					opt.Loads = nil
				}
				if !f.Changed("phase") {
					opt.Phase = 0
				}
				if !f.Changed("replicas") {
					opt.Replicas = nil
				}
			}
			switch {
			case overload:
				rep, err := bench.LimitsOverload(cmd.Context(), opt)
				return printReport(rep, err, jsonOnly, stdout)
			case redisLoss:
				rep, err := bench.LimitsRedisLoss(cmd.Context(), opt, seeds)
				return printReport(rep, err, jsonOnly, stdout)
			}
			return benchLimits(cmd.Context(), opt, jsonOnly, stdout)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&opt.Speedup, "speedup", bench.DefaultSpeedup, "clock seconds per real second")
	f.DurationVar(&opt.Phase, "phase", bench.DefaultPhase, "arrival time per phase, in clock time (--overload: default 8m; --redis-loss: 7m)")
	f.Float64SliceVar(&opt.Loads, "loads", bench.DefaultLoads, "offered loads, multiples of the aggregate capacity (--overload, --redis-loss: default 1.5)")
	f.IntSliceVar(&opt.Replicas, "replicas", bench.DefaultReplicas, "gateway replica counts; more than 1 shares limits through Redis (--overload: default 1; --redis-loss: 3)")
	f.DurationVar(&opt.MaxWait, "max-wait", 0, "the llmux route's max_wait, in clock time (default 20s; --overload: 60s)")
	f.DurationSliceVar(&opt.QueueTargets, "queue-targets", nil, "the llmux route's queue_target, in clock time; 0 turns it off (default 2s; --overload: 2s,0s, several allowed)")
	f.Int64Var(&opt.Seed, "seed", 1, "seed of the workload and the simulator")
	f.Int64SliceVar(&seeds, "seeds", nil, "--redis-loss: one phase per seed, one after the other (e.g. 1,2,3,4,5)")
	f.DurationVar(&opt.KillAt, "kill-at", bench.DefaultRedisLossKillAt, "--redis-loss: when redis-server is killed, in clock time after the phase start")
	f.DurationVar(&opt.DownFor, "down-for", bench.DefaultRedisLossDownFor, "--redis-loss: how long it stays down before an empty one is started, in clock time")
	f.StringVar(&opt.RedisServer, "redis-server", "redis-server", "the redis-server binary, for replica counts above 1")
	f.BoolVar(&overload, "overload", false, "run the overload benchmark of issue 12 (standing delay, fast sheds) instead")
	f.BoolVar(&redisLoss, "redis-loss", false, "run the Redis-loss benchmark of issue 12 (Redis killed, then restarted empty) instead")
	f.BoolVar(&jsonOnly, "json", false, "print only the JSON line")
	cmd.MarkFlagsMutuallyExclusive("overload", "redis-loss")
	cmd.MarkFlagsMutuallyExclusive("seed", "seeds")
	return cmd
}

func benchLimits(ctx context.Context, opt bench.LimitsOptions, jsonOnly bool, stdout io.Writer) error {
	rep, err := bench.Limits(ctx, opt)
	return printReport(rep, err, jsonOnly, stdout)
}
