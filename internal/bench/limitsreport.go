package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// LimitsReport is the result of a limits run.
type LimitsReport struct {
	Conditions LimitsConditions
	Phases     []LimitsPhase
	Bars       []LimitsBar
}

// LimitsResult is one phase in the JSON line; its fields are the
// contract of issue 3.
type LimitsResult struct {
	Replicas int     `json:"replicas"`
	Strategy string  `json:"strategy"`
	Load     float64 `json:"load"`
	// UpstreamRequests and Upstream429 are counted by the simulator:
	// every request that reached a provider, and the 429s it answered.
	UpstreamRequests int64 `json:"upstream_requests"`
	Upstream429      int64 `json:"upstream_429"`
	// CapacityUsed is the tokens the providers charged during the
	// arrival window over the most they would have admitted in it (see
	// capacityDefinition).
	CapacityUsed float64 `json:"capacity_used"`
	// ClientErrors are answers other than 200 and llmux's own 429,
	// transport errors and requests cut at the drain limit.
	ClientErrors int64 `json:"client_errors"`
	// Shed counts llmux's own 429s: no deployment had headroom and the
	// route's queue did not take the request (see shedDefinition).
	Shed int64 `json:"shed"`
	// QueueWait* are quantiles of x-llmux-queue-ms over the served
	// requests (0 for those that did not wait), in clock milliseconds.
	QueueWaitP50MS float64 `json:"queue_wait_p50_ms"`
	QueueWaitP99MS float64 `json:"queue_wait_p99_ms"`
}

// LimitsPhase is one phase's result with what the text report adds.
type LimitsPhase struct {
	LimitsResult
	Offered, OK int
	Accounts    []AccountResult
	// ErrKinds counts client errors by kind ("status 502", "transport").
	ErrKinds map[string]int
	FirstErr string
	// CutAtDrain is set when requests were still running at the drain
	// limit, Drain.
	CutAtDrain bool
	Drain      time.Duration
	// Warnings counts the gateways' warning log lines (limiter failures,
	// Resilient falling back to local limits); FirstWarning is the first.
	Warnings     int64
	FirstWarning string
}

// AccountResult is one account's share of a phase, from the simulator.
type AccountResult struct {
	Name        string
	Requests    int64 // every request that reached the account
	RateLimited int64 // 429s it answered
	OK          int64
	Admitted    int64   // tokens charged at arrival during the arrival window
	Capacity    float64 // the most it would have admitted in that window
	Output      int64   // output tokens generated (Anthropic: charged to OTPM)
	// Refused says which limits the account's 429s were for, e.g.
	// "tpm 5; 3 in the first minute"; empty without 429s.
	Refused string
}

// capacityDefinition is printed with every report.
const capacityDefinition = `capacity_used = sum over accounts of the tokens the provider charged during the
  arrival window against the limit it checks at arrival (OpenAI, Azure: TPM, charged
  prompt + max_tokens; Anthropic: ITPM, charged the prompt), divided by the sum of the
  most each would have admitted in that window: limit x (1 + window in minutes) for
  continuous buckets (OpenAI, Anthropic: they start full and refill per minute), and
  limit x the clock-minute windows the arrival window touches for Azure's fixed
  windows. Counted by the simulator (sim.KeyStats.AdmittedTokens) when the arrivals
  stop. Anthropic's OTPM (actual output, ~30 tokens a reply here) is in neither sum:
  with this mix it cannot bind, and counting it would cap the measure below 95%.`

// phaseRecord is what a phase recorded, for measure.
type phaseRecord struct {
	spec   phaseSpec
	tally  *tally
	start  time.Time     // clock time of the first possible arrival
	window time.Duration // arrival window
	// atWindowEnd is the simulator's stats when arrivals stopped, end
	// when the last request had finished.
	atWindowEnd, end sim.Stats
	warnings         int64
	firstWarning     string
	refused          map[string]string // by account, from refusals.describe
	shedReasons      map[string]int64  // llmux_queue_shed_total by reason, over the replicas
	// outage is what a Redis-loss phase's outage recorded; degraded, per
	// replica sharing Redis, when it limited locally.
	outage   outageRecord
	degraded [][]degradedSpan
}

// measure turns a phase's record into its result.
func measure(r phaseRecord) *LimitsPhase {
	accts, _ := capacities()
	t := r.tally
	ph := &LimitsPhase{
		LimitsResult: LimitsResult{Replicas: r.spec.replicas, Strategy: r.spec.strategy, Load: r.spec.load,
			UpstreamRequests: r.end.Totals.Requests, Upstream429: r.end.Totals.RateLimited,
			ClientErrors: int64(t.errs), Shed: int64(t.shed),
			QueueWaitP50MS: clockMS(limitsQuantile(t.queueMS, 0.50)), QueueWaitP99MS: clockMS(limitsQuantile(t.queueMS, 0.99))},
		Offered: t.ok + t.shed + t.errs, OK: t.ok, ErrKinds: t.errKinds, FirstErr: t.firstErr,
		CutAtDrain: t.cutAtDrain.Load(), Drain: drainLimit(r.spec.maxWait), Warnings: r.warnings, FirstWarning: r.firstWarning,
	}
	var admitted, capacity float64
	for _, a := range accts {
		k, w := r.end.Keys[a.simKey()], r.atWindowEnd.Keys[a.simKey()]
		acct := AccountResult{Name: a.name, Requests: k.Requests, RateLimited: k.RateLimited, OK: k.OK,
			Admitted: w.AdmittedTokens, Output: k.OutputTokens, Refused: r.refused[a.name],
			Capacity: float64(a.tokenLimit) * windowFactor(a.provider, r.start, r.window)}
		admitted += float64(acct.Admitted)
		capacity += acct.Capacity
		ph.Accounts = append(ph.Accounts, acct)
	}
	if capacity > 0 {
		ph.CapacityUsed = limitsRound(admitted/capacity, 4)
	}
	return ph
}

// windowFactor is how many per-minute limits an account admits at most
// during [start, start+window): a full bucket plus the refill for
// continuous buckets, one limit per clock-minute window touched for
// Azure's fixed windows.
func windowFactor(provider string, start time.Time, window time.Duration) float64 {
	if provider != sim.ProviderAzure {
		return 1 + window.Minutes()
	}
	first := start.Truncate(time.Minute)
	last := start.Add(window - 1).Truncate(time.Minute)
	return float64(last.Sub(first)/time.Minute + 1)
}

// LimitsBar is one of issue 3's bars for one phase of the llmux strategy.
type LimitsBar struct {
	Replicas int
	Load     float64
	What     string
	Value    string
	Pass     bool
}

// Bars of issue 3, for the llmux strategy at every replica count: no
// upstream 429 at or below the aggregate capacity; above it (1.5×) at
// most 0.1% of upstream requests, and at least 95% of capacity used.
const (
	Max429ShareOverload = 0.001
	MinCapacityOverload = 0.95
	overloadBarFrom     = 1.5
)

func limitsBars(phases []LimitsPhase) []LimitsBar {
	var bars []LimitsBar
	for _, p := range phases {
		if p.Strategy != StrategyLLMux {
			continue
		}
		b := LimitsBar{Replicas: p.Replicas, Load: p.Load}
		switch {
		case p.Load <= 1:
			b.What, b.Value, b.Pass = "upstream 429 = 0", fmt.Sprint(p.Upstream429), p.Upstream429 == 0
			bars = append(bars, b)
		case p.Load >= overloadBarFrom:
			share := ratio(p.Upstream429, p.UpstreamRequests)
			b.What = fmt.Sprintf("upstream 429 <= %.1f%% of upstream requests", 100*Max429ShareOverload)
			b.Value = fmt.Sprintf("%d of %d = %.2f%%", p.Upstream429, p.UpstreamRequests, 100*share)
			b.Pass = share <= Max429ShareOverload
			bars = append(bars, b)
			c := LimitsBar{Replicas: p.Replicas, Load: p.Load, What: fmt.Sprintf("capacity used >= %.0f%%", 100*MinCapacityOverload),
				Value: fmt.Sprintf("%.1f%%", 100*p.CapacityUsed), Pass: p.CapacityUsed >= MinCapacityOverload}
			bars = append(bars, c)
		}
	}
	return bars
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// WriteJSON writes the results as one line, {"results":[...]}.
func (r *LimitsReport) WriteJSON(w io.Writer) error {
	res := make([]LimitsResult, len(r.Phases))
	for i, p := range r.Phases {
		res[i] = p.LimitsResult
	}
	line, err := json.Marshal(struct {
		Results []LimitsResult `json:"results"`
	}{res})
	if err != nil {
		return fmt.Errorf("bench: encode limits report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// WriteText writes the conditions, the definitions, a table per replica
// count with a per-account breakdown, and the verdicts on the bars.
func (r *LimitsReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	for _, n := range r.Conditions.Replicas {
		r.writeReplicas(&b, n)
	}
	fmt.Fprintf(&b, "\nbars (issue 3; llmux strategy; round-robin is the baseline)\n")
	for _, bar := range r.Bars {
		verdict := "PASS"
		if !bar.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, "%s  replicas %d, load %.1fx: %s: %s\n", verdict, bar.Replicas, bar.Load, bar.What, bar.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// write writes the conditions, the accounts and the loads, and for a
// Limits run the definitions of its table.
func (c *LimitsConditions) write(b *strings.Builder) {
	switch {
	case c.Overload:
		fmt.Fprintln(b, "llmux bench limits --overload: the queue's standing delay under sustained overload, with and without queue_target")
	case c.RedisLoss:
		fmt.Fprintln(b, "llmux bench limits --redis-loss: provider 429s while the replicas' shared Redis is killed and restarted empty")
	default:
		fmt.Fprintln(b, "llmux bench limits: upstream 429s and capacity used, llmux against naive round-robin")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", c.Date)
	fmt.Fprintf(tw, "go\t%s %s/%s, NumCPU %d, GOMAXPROCS %d\n", c.Go, c.GOOS, c.GOARCH, c.NumCPU, c.GOMAXPROCS)
	fmt.Fprintf(tw, "loadavg\tstart %s; end %s\n", orUnknownLA(c.LoadAvgStart), orUnknownLA(c.LoadAvgEnd))
	fmt.Fprintf(tw, "clock\tspeedup %g: every time below is clock time (a clock minute takes %s real); one clock drives simulator, gateways and Redis\n",
		c.Speedup, (time.Duration(float64(time.Minute) / c.Speedup)).Round(time.Millisecond))
	fmt.Fprintf(tw, "phase\t%s of open-loop Poisson arrivals, then the requests in flight finish (cut after %s); fresh simulator and limiter state per phase\n",
		c.Phase, drainLimit(c.MaxWait))
	fmt.Fprintf(tw, "latency\ttime to first token log-normal, median %s, p99 %s, cap %s; then %g tokens/s\n",
		limitsLatency.TTFTMedian, limitsLatency.TTFTP99, limitsLatency.TTFTMax, limitsLatency.TokensPerSecond)
	fmt.Fprintf(tw, "workload\tOpenAI chat, non-streaming, system + user message of English prose; prompts %.0f%% %d-%d tokens, %.0f%% %d-%d (uniform, as the simulator counts: bytes/4 + 3 per message + 3); max_tokens uniform over %v; %s\n",
		100*(1-mixLongShare), mixShort[0], mixShort[1], 100*mixLongShare, mixLong[0], mixLong[1], mixMaxTokens, c.seedsText())
	fmt.Fprintf(tw, "\tmean prompt %.1f, mean max_tokens %.1f, mean reply %.1f tokens\n", c.MeanPrompt, c.MeanMaxTokens, c.MeanOutput)
	fmt.Fprintf(tw, "llmux\troute %q: round-robin over the 4 deployments, each with its account's limits; max_wait %s, queue_target %s; 1 replica: in-memory limiter; more: Redis through Resilient(replicas=N), clients spread requests over the replicas in turn\n",
		limitsRoute, c.MaxWait, targetsText(c.QueueTargets))
	if c.RedisLoss {
		fmt.Fprintf(tw, "outage\tredis-server killed (SIGKILL) %s into each phase; %s later a new, empty one started on the same port (the replicas' clients reconnect)\n",
			c.KillAt, c.DownFor)
	}
	if !c.Overload && !c.RedisLoss {
		fmt.Fprintf(tw, "round-robin\tthe same gateway without limits or queue: round-robin, failing over to the next deployment on an upstream 429 (and cooling it down for retry-after)\n")
	}
	if c.Redis != "" {
		fmt.Fprintf(tw, "redis\t%s\n", c.Redis)
	}
	fmt.Fprintf(tw, "estimate\tllmux's charge estimate / the simulator's charge, this mix: OpenAI TPM x%.3f, Claude ITPM x%.3f (>1: llmux reserves more than the provider counts)\n",
		c.EstimateOpenAI, c.EstimateClaude)
	tw.Flush()
	fmt.Fprintf(b, "\naccounts (limits per minute, the same in the simulator and in llmux's deployments)\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "account\tprovider\trpm\ttpm\titpm\totpm\tcapacity req/min\tbinds\t")
	for _, a := range c.Accounts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%.1f\t%s\t\n", a.name, a.provider, a.rpm, dash(a.tpm), dash(a.itpm), dash(a.otpm), a.perMinute, a.binding)
	}
	tw.Flush()
	fmt.Fprintf(b, "capacity per account = min(RPM, TPM / (mean prompt + mean max_tokens)) for OpenAI and Azure,\n")
	fmt.Fprintf(b, "  min(RPM, ITPM / mean prompt, OTPM / mean reply) for Anthropic; aggregate %.1f requests per clock minute\n", c.CapacityPerMinute)
	var loads []string
	for _, l := range c.Loads {
		loads = append(loads, fmt.Sprintf("%gx = %.1f/min", l, l*c.CapacityPerMinute))
	}
	fmt.Fprintf(b, "loads: %s\n", strings.Join(loads, ", "))
	if c.Overload || c.RedisLoss {
		return
	}
	fmt.Fprintf(b, "\ndefinitions\n")
	fmt.Fprintf(b, "upstream req, upstream 429: counted by the simulator (what the providers received and refused), not by llmux\n")
	fmt.Fprintf(b, "%s\n", capacityDefinition)
	fmt.Fprintf(b, "client errors: answers other than 200 and llmux's own 429 (so 429s passing on upstream 429s count),\n  transport errors, requests cut at the drain limit\n")
	fmt.Fprintf(b, "shed: llmux's own 429 (%s)\n", shedDefinition)
	fmt.Fprintf(b, "queue p50/p99: x-llmux-queue-ms over served (200) requests, 0 when not queued, clock ms\n")
}

// seedsText is "seed N", or for a run over several seeds "seeds 1, 2,
// 3: one phase each, one after the other".
func (c *LimitsConditions) seedsText() string {
	if len(c.Seeds) <= 1 {
		return fmt.Sprintf("seed %d", c.Seed)
	}
	ids := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		ids[i] = fmt.Sprint(s)
	}
	return "seeds " + strings.Join(ids, ", ") + ": one phase each, one after the other"
}

func (r *LimitsReport) writeReplicas(b *strings.Builder, n int) {
	var phases []LimitsPhase
	for _, p := range r.Phases {
		if p.Replicas == n {
			phases = append(phases, p)
		}
	}
	if len(phases) == 0 {
		return
	}
	fmt.Fprintf(b, "\nreplicas %d\n", n)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tload\toffered\tok\tupstream req\tupstream 429\t429 %\tcapacity used\tclient errors\tshed\tqueue p50\tqueue p99\t")
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t%.1fx\t%d\t%d\t%d\t%d\t%.2f%%\t%.1f%%\t%d\t%d\t%.0fms\t%.0fms\t\n",
			p.Strategy, p.Load, p.Offered, p.OK, p.UpstreamRequests, p.Upstream429, 100*ratio(p.Upstream429, p.UpstreamRequests),
			100*p.CapacityUsed, p.ClientErrors, p.Shed, p.QueueWaitP50MS, p.QueueWaitP99MS)
	}
	tw.Flush()
	fmt.Fprintf(b, "by account: upstream requests / upstream 429s / capacity used\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "strategy\tload\t"
	for _, a := range limitsAccounts {
		head += a.name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t%.1fx\t", p.Strategy, p.Load)
		for _, a := range p.Accounts {
			used := 0.0
			if a.Capacity > 0 {
				used = float64(a.Admitted) / a.Capacity
			}
			fmt.Fprintf(tw, "%d / %d / %.0f%%\t", a.Requests, a.RateLimited, 100*used)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	for _, p := range phases {
		p.writeNotes(b)
	}
}

// writeNotes writes what went wrong in a phase, if anything.
func (p *LimitsPhase) writeNotes(b *strings.Builder) {
	name := fmt.Sprintf("%s %.1fx", p.Strategy, p.Load)
	var refused []string
	for _, a := range p.Accounts {
		if a.Refused != "" {
			refused = append(refused, fmt.Sprintf("%s: %s", a.Name, a.Refused))
		}
	}
	if len(refused) > 0 {
		fmt.Fprintf(b, "%s: upstream 429s by limit: %s\n", name, strings.Join(refused, "; "))
	}
	if p.ClientErrors > 0 {
		kinds := make([]string, 0, len(p.ErrKinds))
		for k, n := range p.ErrKinds {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		}
		slices.Sort(kinds)
		fmt.Fprintf(b, "%s: client errors %s; first: %s\n", name, strings.Join(kinds, ", "), p.FirstErr)
	}
	if p.CutAtDrain {
		fmt.Fprintf(b, "%s: requests were still running %s after the last arrival and were cancelled\n", name, p.Drain)
	}
	if p.Warnings > 0 {
		fmt.Fprintf(b, "%s: %d gateway warnings; first: %s\n", name, p.Warnings, p.FirstWarning)
	}
}

func (p *LimitsPhase) progressLine() string {
	return fmt.Sprintf("replicas %d %s %.1fx: %d offered, %d ok, %d shed, %d client errors; upstream %d requests, %d 429s; capacity used %.1f%%",
		p.Replicas, p.Strategy, p.Load, p.Offered, p.OK, p.Shed, p.ClientErrors, p.UpstreamRequests, p.Upstream429, 100*p.CapacityUsed)
}

// shedDefinition says what llmux's own 429 means.
const shedDefinition = "no deployment with headroom and the queue did not take the request: its predicted start was beyond max_wait, " +
	"or beyond queue_target while the queue held a standing delay, or the queue was full; or it waited until max_wait"

// targetsText is queue_target values as the conditions print them.
func targetsText(ts []time.Duration) string {
	var parts []string
	for _, t := range ts {
		if t == 0 {
			parts = append(parts, "0 (off)")
		} else {
			parts = append(parts, t.String())
		}
	}
	return strings.Join(parts, " and ")
}

func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// limitsQuantile returns the q-quantile of d by the nearest-rank method,
// sorting d in place; 0 for no data.
func limitsQuantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func clockMS(d time.Duration) float64 { return float64(d.Milliseconds()) }

func limitsRound(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// readLoadAvg returns /proc/loadavg, or "" where there is none.
func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func orUnknownLA(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
