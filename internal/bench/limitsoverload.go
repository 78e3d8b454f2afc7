package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// LimitsOverload runs the overload benchmark of issue 12 (`llmux bench
// limits --overload`): the limits benchmark's accounts, workload and clock,
// but only the llmux strategy, above capacity (default 1.5× for 8 clock
// minutes, one replica) with a long max_wait (default 60s), once per
// queue_target (default 2s, and 0: the control off, for comparison). It
// measures what the default run does not: the queue wait of served
// requests (p50, p90, p99), their end-to-end latency, how fast shed
// requests are answered and the Retry-After they get, and the capacity
// used per account.
//
// Zero fields of opt take LimitsOverload's defaults; QueueTargets may hold
// several values. It stops everything it started before it returns.
func LimitsOverload(ctx context.Context, opt LimitsOptions) (*OverloadReport, error) {
	opt = opt.withDefaults(runOverload)
	if err := opt.validate(); err != nil {
		return nil, err
	}
	rep := &OverloadReport{Conditions: limitsConditionsNow(opt)}
	rep.Conditions.Overload = true
	redisAddr, stop, err := limitsRedis(ctx, opt, &rep.Conditions)
	if err != nil {
		return nil, err
	}
	defer stop()
	_, capacity := capacities()
	for _, replicas := range opt.Replicas {
		for _, load := range opt.Loads {
			reqs, err := workload(opt.Seed, load*capacity, opt.Phase)
			if err != nil {
				return nil, err
			}
			for _, target := range opt.QueueTargets {
				spec := phaseSpec{replicas: replicas, strategy: StrategyLLMux, load: load, maxWait: opt.MaxWait, queueTarget: target}
				rec, err := recordPhase(ctx, spec, opt, reqs, redisAddr)
				if err != nil {
					return nil, err
				}
				ph := measureOverload(rec)
				rep.Phases = append(rep.Phases, ph)
				if opt.Progress != nil {
					fmt.Fprintln(opt.Progress, ph.progressLine())
				}
			}
		}
	}
	rep.Conditions.LoadAvgEnd = readLoadAvg()
	rep.Bars = overloadBars(rep.Phases)
	return rep, nil
}

// OverloadReport is the result of an overload run.
type OverloadReport struct {
	Conditions LimitsConditions
	Phases     []OverloadPhase
	Bars       []LimitsBar
}

// OverloadResult is one phase in the overload run's JSON line. Times are
// clock milliseconds, except the shed latencies, which are real (wall
// clock) milliseconds: a shed waits for nothing on the accelerated clock,
// so its clock time would only magnify scheduling noise by the speedup.
type OverloadResult struct {
	Replicas      int     `json:"replicas"`
	Load          float64 `json:"load"`
	MaxWaitMS     float64 `json:"max_wait_ms"`
	QueueTargetMS float64 `json:"queue_target_ms"`
	Offered       int     `json:"offered"`
	Served        int     `json:"served"`
	Shed          int64   `json:"shed"`
	// ShedLong counts the sheds of long prompts (6,000-16,000 tokens);
	// ShedByReason the gateways' llmux_queue_shed_total by reason.
	ShedLong     int              `json:"shed_long"`
	ShedByReason map[string]int64 `json:"shed_by_reason"`
	ClientErrors int64            `json:"client_errors"`
	// UpstreamRequests and Upstream429 are counted by the simulator.
	UpstreamRequests int64 `json:"upstream_requests"`
	Upstream429      int64 `json:"upstream_429"`
	// CapacityUsed is the limits run's measure, over all accounts and per
	// account.
	CapacityUsed          float64            `json:"capacity_used"`
	CapacityUsedByAccount map[string]float64 `json:"capacity_used_by_account"`
	// QueueWait* are quantiles of x-llmux-queue-ms over served requests.
	QueueWaitP50MS float64 `json:"queue_wait_p50_ms"`
	QueueWaitP90MS float64 `json:"queue_wait_p90_ms"`
	QueueWaitP99MS float64 `json:"queue_wait_p99_ms"`
	// ServedLatency* are quantiles of served requests' end-to-end time
	// (sent until the whole answer was read), including the simulator's
	// latency model.
	ServedLatencyP50MS float64 `json:"served_latency_p50_ms"`
	ServedLatencyP99MS float64 `json:"served_latency_p99_ms"`
	// ShedLatency* are quantiles of how long shed requests took, in real
	// milliseconds.
	ShedLatencyRealP50MS float64 `json:"shed_latency_real_p50_ms"`
	ShedLatencyRealP99MS float64 `json:"shed_latency_real_p99_ms"`
	// RetryAfterP50MS is the median retry-after-ms of the sheds.
	RetryAfterP50MS float64 `json:"retry_after_p50_ms"`
}

// OverloadPhase is one phase's result with what the text report adds.
type OverloadPhase struct {
	OverloadResult
	limits LimitsPhase // the limits run's measures of the same phase
}

// measureOverload turns a phase's record into its overload result.
func measureOverload(r phaseRecord) OverloadPhase {
	lp := measure(r)
	t := r.tally
	res := OverloadResult{
		Replicas: lp.Replicas, Load: lp.Load, MaxWaitMS: clockMS(r.spec.maxWait), QueueTargetMS: clockMS(r.spec.queueTarget),
		Offered: lp.Offered, Served: lp.OK, Shed: lp.Shed, ShedLong: t.shedLong, ShedByReason: r.shedReasons, ClientErrors: lp.ClientErrors,
		UpstreamRequests: lp.UpstreamRequests, Upstream429: lp.Upstream429,
		CapacityUsed: lp.CapacityUsed, CapacityUsedByAccount: map[string]float64{},
		QueueWaitP50MS:     clockMS(limitsQuantile(t.queueMS, 0.50)),
		QueueWaitP90MS:     clockMS(limitsQuantile(t.queueMS, 0.90)),
		QueueWaitP99MS:     clockMS(limitsQuantile(t.queueMS, 0.99)),
		ServedLatencyP50MS: clockMS(limitsQuantile(t.latency, 0.50)),
		ServedLatencyP99MS: clockMS(limitsQuantile(t.latency, 0.99)),
		RetryAfterP50MS:    clockMS(limitsQuantile(t.retryAfter, 0.50)),
	}
	res.ShedLatencyRealP50MS = realMS(limitsQuantile(t.shedReal, 0.50))
	res.ShedLatencyRealP99MS = realMS(limitsQuantile(t.shedReal, 0.99))
	for _, a := range lp.Accounts {
		res.CapacityUsedByAccount[a.Name] = limitsRound(accountUsed(a), 4)
	}
	return OverloadPhase{OverloadResult: res, limits: *lp}
}

func accountUsed(a AccountResult) float64 {
	if a.Capacity <= 0 {
		return 0
	}
	return float64(a.Admitted) / a.Capacity
}

// realMS is a real duration in milliseconds, to 0.01 ms.
func realMS(d time.Duration) float64 { return limitsRound(float64(d)/float64(time.Millisecond), 2) }

// Bars of issue 12, for every phase with a queue_target: served requests'
// queue wait p99 at most 5 s (the latency the gateway adds before the
// upstream call), sheds answered in under 50 ms (real), no upstream 429,
// and at least 95% of every account's capacity used.
const (
	MaxQueueWaitP99Overload = 5 * time.Second
	MaxShedLatencyOverload  = 50 * time.Millisecond
)

func overloadBars(phases []OverloadPhase) []LimitsBar {
	var bars []LimitsBar
	for _, p := range phases {
		if p.QueueTargetMS <= 0 {
			continue // the comparison: no bars
		}
		bar := func(what, value string, pass bool) {
			bars = append(bars, LimitsBar{Replicas: p.Replicas, Load: p.Load,
				What: fmt.Sprintf("queue_target %s: %s", ms2d(p.QueueTargetMS), what), Value: value, Pass: pass})
		}
		bar(fmt.Sprintf("served queue wait p99 <= %s", MaxQueueWaitP99Overload), fmt.Sprintf("%.0fms", p.QueueWaitP99MS),
			p.QueueWaitP99MS <= clockMS(MaxQueueWaitP99Overload))
		bar(fmt.Sprintf("shed answered in < %s real (p99)", MaxShedLatencyOverload), fmt.Sprintf("%.2fms of %d sheds", p.ShedLatencyRealP99MS, p.Shed),
			p.ShedLatencyRealP99MS < realMS(MaxShedLatencyOverload))
		bar("upstream 429 = 0", fmt.Sprint(p.Upstream429), p.Upstream429 == 0)
		worst, name := 2.0, ""
		for _, a := range p.limits.Accounts {
			if u := accountUsed(a); u < worst {
				worst, name = u, a.Name
			}
		}
		bar(fmt.Sprintf("every account's capacity used >= %.0f%%", 100*MinCapacityOverload), fmt.Sprintf("lowest %s %.1f%%", name, 100*worst),
			worst >= MinCapacityOverload)
	}
	return bars
}

func ms2d(ms float64) time.Duration { return time.Duration(ms) * time.Millisecond }

// reasonsText is shed counts by reason, e.g. "max_wait 3, target 40".
func reasonsText(m map[string]int64) string {
	if m == nil {
		return "unknown"
	}
	var parts []string
	for reason, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", reason, n))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the results as one line, {"results":[...]}.
func (r *OverloadReport) WriteJSON(w io.Writer) error {
	res := make([]OverloadResult, len(r.Phases))
	for i, p := range r.Phases {
		res[i] = p.OverloadResult
	}
	line, err := json.Marshal(struct {
		Results []OverloadResult `json:"results"`
	}{res})
	if err != nil {
		return fmt.Errorf("bench: encode overload report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// WriteText writes the conditions, the definitions, the results table, the
// capacity used by account, notes and the verdicts on the bars.
func (r *OverloadReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	fmt.Fprintf(&b, "\ndefinitions\n")
	fmt.Fprintf(&b, "offered = served + shed + client errors; shed: llmux's own 429 (%s)\n", shedDefinition)
	fmt.Fprintf(&b, "queue p50/p90/p99: x-llmux-queue-ms over served requests, 0 when not queued, clock ms\n")
	fmt.Fprintf(&b, "latency p50/p99: served requests, sent until the whole answer was read, clock ms; includes the simulator's latency (time to first token p99 %s)\n",
		limitsLatency.TTFTP99)
	fmt.Fprintf(&b, "shed p50/p99: how long a shed request took until its 429 was read, REAL ms (x%g for clock ms)\n", r.Conditions.Speedup)
	fmt.Fprintf(&b, "retry-after p50: the sheds' retry-after-ms, clock ms\n")
	fmt.Fprintf(&b, "upstream req, upstream 429: counted by the simulator\n%s\n", capacityDefinition)
	fmt.Fprintln(&b)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replicas\tload\tqueue_target\toffered\tserved\tshed\tclient errors\tupstream req\tupstream 429\tcapacity used\tqueue p50\tqueue p90\tqueue p99\tlatency p50\tlatency p99\tshed p50 (real)\tshed p99 (real)\tretry-after p50\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%d\t%.1fx\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%.0fms\t%.0fms\t%.0fms\t%.0fms\t%.0fms\t%.2fms\t%.2fms\t%.0fms\t\n",
			p.Replicas, p.Load, ms2d(p.QueueTargetMS), p.Offered, p.Served, p.Shed, p.ClientErrors, p.UpstreamRequests, p.Upstream429,
			100*p.CapacityUsed, p.QueueWaitP50MS, p.QueueWaitP90MS, p.QueueWaitP99MS, p.ServedLatencyP50MS, p.ServedLatencyP99MS,
			p.ShedLatencyRealP50MS, p.ShedLatencyRealP99MS, p.RetryAfterP50MS)
	}
	tw.Flush()
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "queue_target %s: shed %d, of them %d long prompts; by reason (llmux_queue_shed_total): %s\n",
			ms2d(p.QueueTargetMS), p.Shed, p.ShedLong, reasonsText(p.ShedByReason))
	}
	fmt.Fprintf(&b, "by account: upstream requests / upstream 429s / capacity used\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "replicas\tload\tqueue_target\t"
	for _, a := range limitsAccounts {
		head += a.name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%d\t%.1fx\t%s\t", p.Replicas, p.Load, ms2d(p.QueueTargetMS))
		for _, a := range p.limits.Accounts {
			fmt.Fprintf(tw, "%d / %d / %.1f%%\t", a.Requests, a.RateLimited, 100*accountUsed(a))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, p := range r.Phases {
		p.limits.writeNotes(&b)
	}
	fmt.Fprintf(&b, "\nbars (issue 12; the exit code does not depend on them; queue_target 0 is the comparison)\n")
	for _, bar := range r.Bars {
		verdict := "PASS"
		if !bar.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  replicas %d, load %.1fx, %s: %s\n", verdict, bar.Replicas, bar.Load, bar.What, bar.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *OverloadPhase) progressLine() string {
	return fmt.Sprintf("replicas %d llmux %.1fx queue_target %s: %d offered, %d served, %d shed, %d client errors; upstream %d requests, %d 429s; queue p50/p99 %.0f/%.0fms; capacity used %.1f%%",
		p.Replicas, p.Load, ms2d(p.QueueTargetMS), p.Offered, p.Served, p.Shed, p.ClientErrors, p.UpstreamRequests, p.Upstream429,
		p.QueueWaitP50MS, p.QueueWaitP99MS, 100*p.CapacityUsed)
}
