package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmux/llmux/internal/health"
)

// BrownoutReport is the result of a brownout run.
type BrownoutReport struct {
	Conditions BrownoutConditions
	// Rows are mode × phase, modes in the order no-failover, failover,
	// failover+latency+hedge, and phases in order within each.
	Rows []BrownoutRow
	Bars []BrownoutBar
	// CutAtDrain is set when requests were still running
	// brownoutDrainLimit after the last arrival and were cancelled.
	CutAtDrain bool
	// Untagged counts upstream requests the shim could not file under a
	// phase (expected 0).
	Untagged int64
	// Warnings counts the gateways' warning log lines; FirstWarning is
	// the first.
	Warnings     int64
	FirstWarning string
}

// BrownoutResult is one mode × phase in the JSON line; its fields are
// the contract of issue 4. Latencies are provider time.
type BrownoutResult struct {
	Mode        string  `json:"mode"`
	Phase       string  `json:"phase"`
	Requests    int     `json:"requests"`
	SuccessRate float64 `json:"success_rate"`
	// P50MS, P95MS and P99MS are quantiles of the client-observed time
	// until the whole answer was read, over the successful requests.
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`
	// UpstreamPerRequest is the upstream requests the simulator counted
	// for the phase's client requests, divided by their number.
	UpstreamPerRequest float64 `json:"upstream_per_request"`
	// CostPer1K is US dollars per 1,000 client requests: the tokens the
	// simulator counted for every upstream request of the phase times the
	// deployment's configured prices.
	CostPer1K float64 `json:"cost_per_1k"`
}

// BrownoutRow is one mode × phase with what the text report adds.
type BrownoutRow struct {
	BrownoutResult
	OK int
	// Hedges is the growth of the gateway's llmux_hedges_total between
	// the phase's start and the next phase's (the end of the run for the
	// last phase).
	Hedges float64
	// Upstream is what each account's simulator key saw of the phase, in
	// brownoutAccounts order.
	Upstream []AccountUpstream
	// Health is each account's deployment as the mode's gateway saw it
	// during the phase, sampled every healthEvery.
	Health []healthTally
	// ServedBy counts successful requests by account (x-llmux-deployment).
	ServedBy map[string]int
	// MeanAttempts is x-llmux-attempts averaged over successful requests.
	MeanAttempts float64
	// Paths counts the phase's client requests by how their second
	// upstream request (if any) went out; see pathOf.
	Paths [numPaths]int
	// Slowest are the slowest successful requests, slowest first.
	Slowest []SlowRequest
	// latencies of the successful requests, sorted (by quantile).
	latencies []time.Duration
	// ErrKinds counts failed requests by kind ("status 502",
	// "transport"); FirstErr is the first one's message.
	ErrKinds map[string]int
	FirstErr string
}

// AccountUpstream is one account's share of a mode × phase, counted by
// the simulator.
type AccountUpstream struct {
	Name                   string
	Requests, OK, Errors   int64
	InputTokens, OutTokens int64
}

// SlowRequest is one slow request and the upstream requests it made.
type SlowRequest struct {
	// At is when it arrived, provider time after its phase began.
	At         time.Duration
	Latency    time.Duration
	Deployment string
	// Hops are "account +offset" for each upstream request, the offset
	// from the client's request to the upstream request's arrival.
	Hops []string
}

// Paths a client request can take, told by when its second upstream
// request went out after its first.
const (
	pathOne     = iota // one upstream request
	pathRetry          // the second went out within retryWithin: an error or reset failed over
	pathHedge          // in between: a hedge (the first was still waiting for its first token)
	pathTimeout        // after timeoutFrom: the first-token timeout moved it on
	numPaths
)

// Bounds of the paths, provider time.
const (
	retryWithin = time.Second
	timeoutFrom = brownoutFirstToken * 9 / 10
)

// pathOf classifies a client request by its upstream requests.
func pathOf(hops []upstreamHop) int {
	if len(hops) < 2 {
		return pathOne
	}
	gap := hops[1].at.Sub(hops[0].at)
	switch {
	case gap < retryWithin:
		return pathRetry
	case gap >= timeoutFrom:
		return pathTimeout
	}
	return pathHedge
}

// slowestShown is how many slow requests a row keeps.
const slowestShown = 5

// BrownoutBar is one of issue 4's bars.
type BrownoutBar = IssueBar

func newBrownoutReport(cond BrownoutConditions, rec *brownoutRecord) *BrownoutReport {
	rep := &BrownoutReport{Conditions: cond, CutAtDrain: rec.cutAtDrain, Untagged: rec.untagged,
		Warnings: rec.warnings, FirstWarning: rec.firstWarning}
	for m, mode := range brownoutModes {
		for p, phase := range brownoutPhases {
			row := brownoutRowOf(rec, m, p)
			row.Mode, row.Phase = mode.name, phase
			rep.Rows = append(rep.Rows, row)
		}
	}
	rep.Bars = brownoutBars(rep.Rows)
	return rep
}

// brownoutRowOf measures mode m in phase p.
func brownoutRowOf(rec *brownoutRecord, m, p int) BrownoutRow {
	row := BrownoutRow{ServedBy: map[string]int{}, ErrKinds: map[string]int{}}
	var lat []time.Duration
	var slow []int
	attempts := 0
	for i, c := range rec.calls {
		if c.phase != p {
			continue
		}
		row.Requests++
		if rec.hops != nil {
			row.Paths[pathOf(rec.hops[m][i])]++
		}
		r := rec.results[m][i]
		if !r.ok {
			kind, _, _ := strings.Cut(r.err, ":")
			row.ErrKinds[kind]++
			if row.FirstErr == "" {
				row.FirstErr = r.err
			}
			continue
		}
		row.OK++
		slow = append(slow, i)
		lat = append(lat, r.latency)
		attempts += r.attempts
		account, _, _ := strings.Cut(r.deployment, "/")
		row.ServedBy[account]++
	}
	slices.SortStableFunc(slow, func(i, j int) int { return cmpDuration(rec.results[m][j].latency, rec.results[m][i].latency) })
	for _, i := range slow[:min(len(slow), slowestShown)] {
		r := rec.results[m][i]
		sr := SlowRequest{At: rec.calls[i].at - time.Duration(p)*rec.phase, Latency: r.latency, Deployment: r.deployment}
		if rec.hops != nil {
			for _, h := range rec.hops[m][i] {
				sr.Hops = append(sr.Hops, fmt.Sprintf("%s +%.1fs", brownoutAccounts[h.account].name, h.at.Sub(r.start).Seconds()))
			}
		}
		row.Slowest = append(row.Slowest, sr)
	}
	cost := 0.0
	var upstream int64
	for a, acct := range brownoutAccounts {
		k := rec.stats.Keys[simKeyName(m, a, brownoutPhases[p])]
		row.Upstream = append(row.Upstream, AccountUpstream{Name: acct.name, Requests: k.Requests, OK: k.OK,
			Errors: k.Errors + k.RateLimited, InputTokens: k.InputTokens, OutTokens: k.OutputTokens})
		upstream += k.Requests
		cost += (float64(k.InputTokens)*acct.price.Input + float64(k.OutputTokens)*acct.price.Output) / 1e6
	}
	if rec.health != nil {
		row.Health = rec.health[m][p]
	}
	if h := rec.hedges[m]; p+1 < len(h) {
		row.Hedges = h[p+1] - h[p]
	}
	if row.Requests > 0 {
		n := float64(row.Requests)
		row.SuccessRate = round(float64(row.OK)/n, 4)
		row.UpstreamPerRequest = round(float64(upstream)/n, 3)
		row.CostPer1K = round(cost/n*1000, 4)
	}
	if row.OK > 0 {
		row.MeanAttempts = round(float64(attempts)/float64(row.OK), 3)
	}
	row.P50MS = round(quantile(lat, 0.50).Seconds()*1000, 1)
	row.P95MS = round(quantile(lat, 0.95).Seconds()*1000, 1)
	row.P99MS = round(quantile(lat, 0.99).Seconds()*1000, 1)
	row.latencies = lat
	return row
}

// brownoutBars checks issue 4's bars: 100% success in every phase for
// the failover modes (in every phase at least one provider is healthy);
// with hedging, brownout p99 at most MaxBrownoutP99Ratio × healthy p99;
// hedges within the budget in every phase.
func brownoutBars(rows []BrownoutRow) []BrownoutBar {
	find := func(mode, phase string) *BrownoutRow {
		i := slices.IndexFunc(rows, func(r BrownoutRow) bool { return r.Mode == mode && r.Phase == phase })
		if i < 0 {
			return &BrownoutRow{}
		}
		return &rows[i]
	}
	var bars []BrownoutBar
	for _, mode := range []string{ModeFailover, ModeHedge} {
		for _, phase := range brownoutPhases {
			r := find(mode, phase)
			bars = append(bars, BrownoutBar{What: fmt.Sprintf("%s, %s: success 100%%", mode, phase),
				Value: fmt.Sprintf("%d of %d = %.2f%%", r.OK, r.Requests, 100*r.SuccessRate),
				Pass:  r.Requests > 0 && r.OK == r.Requests})
		}
	}
	healthy, brown := find(ModeHedge, PhaseHealthy), find(ModeHedge, PhaseBrownout)
	ratio := 0.0
	if healthy.P99MS > 0 {
		ratio = brown.P99MS / healthy.P99MS
	}
	over, allowed := brown.over(MaxBrownoutP99Ratio * healthy.P99MS)
	bars = append(bars, BrownoutBar{What: fmt.Sprintf("%s: brownout p99 <= %gx healthy p99", ModeHedge, MaxBrownoutP99Ratio),
		Value: fmt.Sprintf("%.0fms vs %.0fms = %.2fx; %d of %d requests over %.0fms, the p99 allows %d",
			brown.P99MS, healthy.P99MS, ratio, over, len(brown.latencies), MaxBrownoutP99Ratio*healthy.P99MS, allowed),
		Pass: healthy.P99MS > 0 && brown.P99MS > 0 && ratio <= MaxBrownoutP99Ratio})
	for _, phase := range brownoutPhases {
		r := find(ModeHedge, phase)
		share := 0.0
		if r.Requests > 0 {
			share = r.Hedges / float64(r.Requests)
		}
		bars = append(bars, BrownoutBar{What: fmt.Sprintf("%s, %s: hedges <= %.0f%% of requests (the budget)", ModeHedge, phase, 100*brownoutBudget),
			Value: fmt.Sprintf("%.0f of %d = %.1f%%", r.Hedges, r.Requests, 100*share),
			Pass:  r.Requests > 0 && share <= brownoutBudget})
	}
	return bars
}

// over counts the row's successful requests slower than limitMS, and
// says how many may be for its p99 to stay within the limit: the p99 of
// n is the ceil(0.99 n)-th fastest, so n - ceil(0.99 n) may be slower.
func (r *BrownoutRow) over(limitMS float64) (over, allowed int) {
	for _, d := range r.latencies {
		if float64(d)/float64(time.Millisecond) > limitMS {
			over++
		}
	}
	n := len(r.latencies)
	return over, n - int(math.Ceil(0.99*float64(n)))
}

// WriteJSON writes the results as one line, {"results":[...]}.
func (r *BrownoutReport) WriteJSON(w io.Writer) error {
	return writeJSONLine(w, struct {
		Results []BrownoutResult `json:"results"`
	}{r.results()})
}

// results are the rows as the JSON line has them.
func (r *BrownoutReport) results() []BrownoutResult {
	res := make([]BrownoutResult, len(r.Rows))
	for i, row := range r.Rows {
		res[i] = row.BrownoutResult
	}
	return res
}

// WriteText writes the conditions, the results table, the upstream
// breakdown by account, notes on failures and the verdicts on the bars.
func (r *BrownoutReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	r.writeTable(&b)
	r.writeUpstream(&b)
	r.writeSlowest(&b)
	r.writeNotes(&b)
	writeBars(&b, "issue 4", r.Bars)
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *BrownoutConditions) write(b *strings.Builder) {
	speedup := 1 / c.TimeScale
	fmt.Fprintln(b, "llmux bench brownout: success rate, latency and cost while providers brown out and fail")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", c.Date)
	fmt.Fprintf(tw, "go\t%s %s/%s, NumCPU %d, GOMAXPROCS %d\n", c.Go, c.GOOS, c.GOARCH, c.NumCPU, c.GOMAXPROCS)
	fmt.Fprintf(tw, "loadavg\tstart %s; end %s\n", orUnknownLA(c.LoadAvgStart), orUnknownLA(c.LoadAvgEnd))
	fmt.Fprintf(tw, "time\tevery latency and duration below is provider time (uncompressed); the run compresses it %gx (time scale %g):\n", speedup, c.TimeScale)
	fmt.Fprintf(tw, "\tone clock (t0 + real elapsed x %g) drives the simulator and the gateways' Now (breaker, TTFT stats, hedge delay and budget);\n", speedup)
	fmt.Fprintf(tw, "\tsimulator delays x %g; the gateways' timers (first-token timeout, hedge delay) x %g through Options.TimeScale,\n", c.TimeScale, c.TimeScale)
	fmt.Fprintf(tw, "\tso the gateways are configured in provider time\n")
	fmt.Fprintf(tw, "load\topen-loop Poisson arrivals at %g/min, %d phases of %s (%d requests expected each); every arrival goes at the same instant\n",
		c.Rate, len(brownoutPhases), c.Phase.Round(time.Second), c.RequestsPerPhase)
	fmt.Fprintf(tw, "\tto all three modes' gateways (one gateway per mode, each with its own simulator accounts); seed %d\n", c.Seed)
	fmt.Fprintf(tw, "requests\tOpenAI chat, stream:true, read to the end; the limits benchmark's prompt mix (%.0f%% %d-%d tokens, %.0f%% %d-%d, max_tokens %v),\n",
		100*(1-mixLongShare), mixShort[0], mixShort[1], 100*mixLongShare, mixLong[0], mixLong[1], mixMaxTokens)
	fmt.Fprintf(tw, "\treplies 5-60 tokens; a request is cut after %s, the run waits at most %s after the last arrival\n", brownoutRequestLimit, brownoutDrainLimit)
	fmt.Fprintf(tw, "latency model\ttime to first token log-normal, median %s, p99 %s, cap %s; then %g tokens/s\n",
		brownoutLatency.TTFTMedian, brownoutLatency.TTFTP99, brownoutLatency.TTFTMax, brownoutLatency.TokensPerSecond)
	fmt.Fprintf(tw, "\tthe model alone (no gateway, no network, no compression) gives whole streamed answers of p50 %s, p95 %s, p99 %s:\n",
		c.FloorP50.Round(time.Millisecond), c.FloorP95.Round(time.Millisecond), c.FloorP99.Round(time.Millisecond))
	fmt.Fprintf(tw, "\tthe healthy phase's excess over that is the gateway, loopback and time-compression overhead (timer slack x %g)\n", speedup)
	var accts []string
	for _, a := range brownoutAccounts {
		accts = append(accts, fmt.Sprintf("%s (%s, %s, $%g/$%g per 1M in/out)", a.name, a.provider, a.model, a.price.Input, a.price.Output))
	}
	fmt.Fprintf(tw, "providers\t%s; no rate limits anywhere\n", strings.Join(accts, ", "))
	A, B := brownoutAccounts[brownedAccount].name, brownoutAccounts[downAccount].name
	fmt.Fprintf(tw, "phases\thealthy: no faults\n")
	fmt.Fprintf(tw, "\tbrownout: %s answers %.0f%% of requests 500 at once, the rest with the first token %s later than the model says\n",
		A, 100*brownoutErrRate, brownoutSlow)
	fmt.Fprintf(tw, "\toutage: %s still browned out; %s hard down: %.0f%% 503, the rest a connection reset before any byte\n",
		A, B, 100*outage503Rate)
	fmt.Fprintf(tw, "\trecovered: no faults; %s is healthy in every phase\n", brownoutAccounts[healthyAccount].name)
	fmt.Fprintf(tw, "modes\t%s: round-robin, max_attempts 1, retries %d, no timeouts (the circuit breaker still takes a dead deployment out)\n",
		ModeNoFailover, brownoutModes[0].retries)
	fmt.Fprintf(tw, "\t%s: round-robin, max_attempts %d, retries %d (the same deployment once more after a 5xx, reset or timeout), first-token timeout %s\n",
		ModeFailover, len(brownoutAccounts), brownoutModes[1].retries, brownoutFirstToken)
	fmt.Fprintf(tw, "\t%s: strategy latency (TTFT EWMA, power of two choices), max_attempts %d, retries %d, first-token timeout %s,\n",
		ModeHedge, len(brownoutAccounts), brownoutModes[2].retries, brownoutFirstToken)
	fmt.Fprintf(tw, "\thedge after the deployment's p95 TTFT (%s until it has 20 samples, at most %s while it is in trouble), budget %.0f%% of\n",
		brownoutHedgeAfter, brownoutHedgeAfter, 100*brownoutBudget)
	fmt.Fprintf(tw, "\trequests per minute, routine hedges at most half of it (rescues, off a deployment in trouble, all of it)\n")
	fmt.Fprintf(tw, "gateway\tdefaults otherwise: breaker opens after %d consecutive failures (or >= %.0f%% of >= %d in %s) for %s (+-%.0f%%),\n",
		health.DefaultConsecutiveFailures, 100*health.DefaultErrorRate, health.DefaultMinRequests, health.DefaultWindow,
		health.DefaultOpenFor, 100*health.DefaultJitter)
	fmt.Fprintf(tw, "\tthen admits %d probe at a time, re-opening for as long after a failed one; an outage within %s of the last doubles it, up to %s\n",
		health.DefaultHalfOpenProbes, health.DefaultFlapWindow, health.DefaultMaxOpenFor)
	tw.Flush()
	fmt.Fprintf(b, "\ndefinitions\n")
	fmt.Fprintf(b, "requests: client requests that arrived in the phase; everything in a row belongs to them\n")
	fmt.Fprintf(b, "success: 200 and a stream that ended with [DONE]; p50/p95/p99: client-observed time to the whole answer, successful requests only\n")
	fmt.Fprintf(b, "upstream/req: upstream requests counted by the simulator for the phase's client requests / requests (retries and hedges\n")
	fmt.Fprintf(b, "  included; each client request carries a tag and a shim files its upstream requests under per-phase simulator keys)\n")
	fmt.Fprintf(b, "hedges/req: growth of llmux_hedges_total from the phase's start to the next phase's start (by time, not by request)\n")
	fmt.Fprintf(b, "cost/1k: US$ per 1,000 client requests: input and output tokens the simulator counted for every upstream request of the\n")
	fmt.Fprintf(b, "  phase x the deployment's configured prices (a stream cancelled before its first token was charged its prompt)\n")
}

func (r *BrownoutReport) writeTable(b *strings.Builder) {
	fmt.Fprintf(b, "\nresults (provider time)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "mode\tphase\trequests\tok\tsuccess\tp50\tp95\tp99\tupstream/req\thedges/req\tattempts\tcost/1k\t"
	for _, a := range brownoutAccounts {
		head += "by " + a.name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, row := range r.Rows {
		hedges := "-"
		if row.Mode == ModeHedge && row.Requests > 0 {
			hedges = fmt.Sprintf("%.3f", row.Hedges/float64(row.Requests))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f%%\t%.0fms\t%.0fms\t%.0fms\t%.3f\t%s\t%.2f\t$%.4f\t",
			row.Mode, row.Phase, row.Requests, row.OK, 100*row.SuccessRate, row.P50MS, row.P95MS, row.P99MS,
			row.UpstreamPerRequest, hedges, row.MeanAttempts, row.CostPer1K)
		for _, a := range brownoutAccounts {
			fmt.Fprintf(tw, "%d\t", row.ServedBy[a.name])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(b, "attempts: mean x-llmux-attempts of successful requests; by ACCOUNT: successful requests it served\n")
}

func (r *BrownoutReport) writeUpstream(b *strings.Builder) {
	fmt.Fprintf(b, "\nupstream requests by account, counted by the simulator: requests / failed (5xx, resets, cancelled)\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "mode\tphase\t"
	for _, a := range brownoutAccounts {
		head += a.name + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t", row.Mode, row.Phase)
		for _, u := range row.Upstream {
			fmt.Fprintf(tw, "%d / %d\t", u.Requests, u.Errors)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(b, "\nclient requests by path, told by when the second upstream request went out after the first: one upstream request /\n")
	fmt.Fprintf(b, "  failed over at once (< %s: an error or reset) / hedged (in between) / after the first-token timeout (>= %s)\n", retryWithin, timeoutFrom)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tphase\tone\tat once\thedged\tafter timeout\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t\n", row.Mode, row.Phase, row.Paths[pathOne], row.Paths[pathRetry], row.Paths[pathHedge], row.Paths[pathTimeout])
	}
	tw.Flush()
	fmt.Fprintf(b, "\ndeployments out of rotation (circuit open or cooling down, sampled every %s): share of the phase / circuit opens\n", healthEvery)
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, head)
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t", row.Mode, row.Phase)
		for _, h := range row.Health {
			fmt.Fprintf(tw, "%.0f%% / %d\t", 100*h.OutShare(), h.Opens)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// writeSlowest writes the slowest requests of the failover modes with
// their upstream requests: when each went out tells a retry after a
// first-token timeout from a hedge or an immediate failover.
func (r *BrownoutReport) writeSlowest(b *strings.Builder) {
	fmt.Fprintf(b, "\nslowest successful requests of the failover modes: arrival in the phase, latency, served by; upstream requests (offset from the client's request)\n")
	for _, row := range r.Rows {
		if row.Mode == ModeNoFailover {
			continue
		}
		for _, sr := range row.Slowest {
			fmt.Fprintf(b, "%s, %s: at %.1fs: %.1fs by %s; %s\n", row.Mode, row.Phase, sr.At.Seconds(), sr.Latency.Seconds(), sr.Deployment, strings.Join(sr.Hops, ", "))
		}
	}
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeNotes writes what went wrong, if anything.
func (r *BrownoutReport) writeNotes(b *strings.Builder) {
	var notes []string
	for _, row := range r.Rows {
		if len(row.ErrKinds) == 0 {
			continue
		}
		kinds := make([]string, 0, len(row.ErrKinds))
		for k, n := range row.ErrKinds {
			kinds = append(kinds, fmt.Sprintf("%s: %d", k, n))
		}
		slices.Sort(kinds)
		notes = append(notes, fmt.Sprintf("%s, %s: failed %s; first: %s", row.Mode, row.Phase, strings.Join(kinds, ", "), row.FirstErr))
	}
	if r.CutAtDrain {
		notes = append(notes, fmt.Sprintf("requests were still running %s after the last arrival and were cancelled", brownoutDrainLimit))
	}
	if r.Untagged > 0 {
		notes = append(notes, fmt.Sprintf("%d upstream requests carried no request tag and count in no phase", r.Untagged))
	}
	if r.Warnings > 0 {
		notes = append(notes, fmt.Sprintf("%d gateway warnings; first: %s", r.Warnings, r.FirstWarning))
	}
	if len(notes) == 0 {
		return
	}
	fmt.Fprintf(b, "\nnotes\n%s\n", strings.Join(notes, "\n"))
}
