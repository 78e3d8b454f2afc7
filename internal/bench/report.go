package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of an overhead run. Maps are keyed by target:
// direct, proxy, llmux.
type Report struct {
	Conditions Conditions `json:"conditions"`
	NonStream  ModeResult `json:"non_stream"`
	Stream     ModeResult `json:"stream"`
	Bar        Bar        `json:"bar"`
}

// ModeResult is one mode's measurements. Throughputs (rps_*) are medians
// over the rounds, ratios medians of the per-round ratios, latencies
// quantiles over every successful request of every round.
type ModeResult struct {
	RPSDirect float64              `json:"rps_direct"`
	RPSProxy  float64              `json:"rps_proxy"`
	RPSLLMux  float64              `json:"rps_llmux"`
	RPSRounds map[string][]float64 `json:"rps_rounds"`
	// Requests counts measured requests (the warm-up excluded), Errors
	// the failed ones among them, WarmupErrors those of the warm-up.
	Requests     map[string]int    `json:"requests"`
	Errors       map[string]int    `json:"errors"`
	WarmupErrors map[string]int    `json:"warmup_errors"`
	FirstError   map[string]string `json:"first_error,omitempty"`
	// P50MS and P99MS are the latency until the whole body was read;
	// TTFB* until its first byte.
	P50MS     map[string]float64 `json:"p50_ms"`
	P99MS     map[string]float64 `json:"p99_ms"`
	TTFBP50MS map[string]float64 `json:"ttfb_p50_ms"`
	TTFBP99MS map[string]float64 `json:"ttfb_p99_ms"`
	// CPUMicrosPerReq is the whole process's CPU time (client, simulator,
	// and proxy or llmux) per successful request; absent where unknown.
	CPUMicrosPerReq map[string]float64 `json:"cpu_us_per_req,omitempty"`
	// Added* are llmux's quantile minus direct's (or the proxy's).
	AddedP50MS         float64 `json:"added_p50_ms"`
	AddedP99MS         float64 `json:"added_p99_ms"`
	AddedTTFBP50MS     float64 `json:"added_ttfb_p50_ms"`
	AddedTTFBP99MS     float64 `json:"added_ttfb_p99_ms"`
	AddedP50MSVsProxy  float64 `json:"added_p50_ms_vs_proxy"`
	AddedP99MSVsProxy  float64 `json:"added_p99_ms_vs_proxy"`
	RatioLLMuxVsProxy  float64 `json:"ratio_llmux_vs_proxy"`
	RatioLLMuxVsDirect float64 `json:"ratio_llmux_vs_direct"`
	RatioProxyVsDirect float64 `json:"ratio_proxy_vs_direct"`
	// CPURatioLLMuxVsProxy is the proxy's CPU time per request over
	// llmux's: the throughput ratio to expect where the process is
	// CPU-bound, and far less disturbed by other load on the machine than
	// the measured one. 0 where CPU time is unknown.
	CPURatioLLMuxVsProxy float64 `json:"cpu_ratio_llmux_vs_proxy"`
}

// Bar is the pass mark: Metric at least Min, with no failed non-stream
// request through the proxy or llmux.
type Bar struct {
	Metric string  `json:"metric"`
	Min    float64 `json:"min"`
	Value  float64 `json:"value"`
	Pass   bool    `json:"pass"`
	// Reason explains a failure.
	Reason string `json:"reason,omitempty"`
}

func newReport(cond Conditions, targets []target, ser *[numModes][]series) *Report {
	r := &Report{Conditions: cond}
	r.NonStream = modeResult(targets, ser[modeJSON])
	r.Stream = modeResult(targets, ser[modeStream])
	r.Bar = Bar{Metric: "non_stream.ratio_llmux_vs_proxy", Min: MinRatioVsProxy, Value: r.NonStream.RatioLLMuxVsProxy}
	// Failed requests never count as throughput, so errors can only
	// flatter llmux when the proxy has them; either way the ratio is then
	// not a measurement of overhead.
	ns := &r.NonStream
	switch inputErrs := ns.Errors["proxy"] + ns.Errors["llmux"]; {
	case inputErrs > 0:
		r.Bar.Reason = fmt.Sprintf("%d failed non-stream requests through the proxy or llmux", inputErrs)
	case r.Bar.Value < r.Bar.Min:
		r.Bar.Reason = fmt.Sprintf("llmux reached %.1f%% of the proxy's throughput", 100*r.Bar.Value)
	default:
		r.Bar.Pass = true
	}
	return r
}

func modeResult(targets []target, ser []series) ModeResult {
	m := ModeResult{
		RPSRounds: map[string][]float64{}, Requests: map[string]int{}, Errors: map[string]int{},
		WarmupErrors: map[string]int{}, FirstError: map[string]string{},
		P50MS: map[string]float64{}, P99MS: map[string]float64{},
		TTFBP50MS: map[string]float64{}, TTFBP99MS: map[string]float64{},
		CPUMicrosPerReq: map[string]float64{},
	}
	byName := map[string]*series{}
	for i, t := range targets {
		s := &ser[i]
		byName[t.name] = s
		rounds := make([]float64, len(s.rps))
		for j, x := range s.rps {
			rounds[j] = round(x, 1)
		}
		m.RPSRounds[t.name] = rounds
		m.Requests[t.name] = s.ok + s.errs
		m.Errors[t.name] = s.errs
		m.WarmupErrors[t.name] = s.warmupErrs
		if s.firstErr != "" {
			m.FirstError[t.name] = s.firstErr
		}
		m.P50MS[t.name], m.P99MS[t.name] = ms(quantile(s.total, 0.50)), ms(quantile(s.total, 0.99))
		m.TTFBP50MS[t.name], m.TTFBP99MS[t.name] = ms(quantile(s.ttfb, 0.50)), ms(quantile(s.ttfb, 0.99))
		if !s.cpuUnknown && s.ok > 0 {
			m.CPUMicrosPerReq[t.name] = round(float64(s.cpu.Microseconds())/float64(s.ok), 1)
		}
	}
	if len(m.CPUMicrosPerReq) < len(targets) {
		m.CPUMicrosPerReq = nil
	}
	d, p, l := byName["direct"], byName["proxy"], byName["llmux"]
	m.RPSDirect, m.RPSProxy, m.RPSLLMux = round(median(d.rps), 1), round(median(p.rps), 1), round(median(l.rps), 1)
	m.AddedP50MS = round(m.P50MS["llmux"]-m.P50MS["direct"], 3)
	m.AddedP99MS = round(m.P99MS["llmux"]-m.P99MS["direct"], 3)
	m.AddedTTFBP50MS = round(m.TTFBP50MS["llmux"]-m.TTFBP50MS["direct"], 3)
	m.AddedTTFBP99MS = round(m.TTFBP99MS["llmux"]-m.TTFBP99MS["direct"], 3)
	m.AddedP50MSVsProxy = round(m.P50MS["llmux"]-m.P50MS["proxy"], 3)
	m.AddedP99MSVsProxy = round(m.P99MS["llmux"]-m.P99MS["proxy"], 3)
	m.RatioLLMuxVsProxy = round(median(ratios(l.rps, p.rps)), 3)
	m.RatioLLMuxVsDirect = round(median(ratios(l.rps, d.rps)), 3)
	m.RatioProxyVsDirect = round(median(ratios(p.rps, d.rps)), 3)
	if cl := m.CPUMicrosPerReq["llmux"]; cl > 0 {
		m.CPURatioLLMuxVsProxy = round(m.CPUMicrosPerReq["proxy"]/cl, 3)
	}
	return m
}

// WriteJSON writes the report as one line starting with
// {"bench":"overhead".
func (r *Report) WriteJSON(w io.Writer) error {
	line, err := json.Marshal(struct {
		Bench string `json:"bench"`
		*Report
	}{"overhead", r})
	if err != nil {
		return fmt.Errorf("bench: encode report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// WriteText writes the conditions, one table per mode, llmux's
// comparisons and the verdict against the bar.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	c := &r.Conditions
	fmt.Fprintln(&b, "llmux bench overhead: the simulator direct, through httputil.ReverseProxy, through llmux")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", c.Date)
	fmt.Fprintf(tw, "go\t%s %s/%s, NumCPU %d, GOMAXPROCS %d\n", c.Go, c.GOOS, c.GOARCH, c.NumCPU, c.GOMAXPROCS)
	fmt.Fprintf(tw, "loadavg\tstart %s; end %s\n", orUnknown(c.LoadAvgStart), orUnknown(c.LoadAvgEnd))
	fmt.Fprintf(tw, "load\tconcurrency %d; %d rounds, each loading every target for %v per mode, order rotated; %v warm-up\n",
		c.Concurrency, c.Rounds, time.Duration(c.DurationMS)*time.Millisecond, time.Duration(c.WarmupMS)*time.Millisecond)
	fmt.Fprintf(tw, "request\tPOST /v1/chat/completions, %d bytes (stream %d; to llmux %d and %d, model %q), max_tokens %d\n",
		c.BodyBytes, c.StreamBodyBytes, c.LLMuxBodyBytes, c.LLMuxStreamBodyBytes, route, c.MaxTokens)
	fmt.Fprintf(tw, "simulator\ttime_scale %g (no latency); client, simulator, proxy and llmux share this process\n", c.SimTimeScale)
	tw.Flush()
	r.NonStream.writeTable(&b, "non-stream", false)
	r.Stream.writeTable(&b, "stream (stream:true, whole SSE body read)", true)
	verdict := "PASS"
	if !r.Bar.Pass {
		verdict = "FAIL: " + r.Bar.Reason
	}
	if n := r.errors(); n > 0 {
		fmt.Fprintf(&b, "\nwarning: %d requests failed in this run (see the tables)\n", n)
	}
	fmt.Fprintf(&b, "\nbar: non-stream throughput through llmux >= %.0f%% of the reverse proxy's: %.1f%% %s\n",
		100*r.Bar.Min, 100*r.Bar.Value, verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// errors counts every failed request of the run, warm-up included.
func (r *Report) errors() int {
	n := 0
	for _, m := range []*ModeResult{&r.NonStream, &r.Stream} {
		for _, t := range targetOrder {
			n += m.Errors[t] + m.WarmupErrors[t]
		}
	}
	return n
}

var targetOrder = []string{"direct", "proxy", "llmux"}

func (m *ModeResult) writeTable(b *strings.Builder, title string, stream bool) {
	fmt.Fprintf(b, "\n%s\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "target\trequests\terrors\treq/s\t"
	if stream {
		head += "ttfb p50\tttfb p99\t"
	}
	head += "p50\tp99\tcpu/req\t"
	fmt.Fprintln(tw, head)
	rps := map[string]float64{"direct": m.RPSDirect, "proxy": m.RPSProxy, "llmux": m.RPSLLMux}
	for _, t := range targetOrder {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t", t, m.Requests[t], m.Errors[t], rps[t])
		if stream {
			fmt.Fprintf(tw, "%.3fms\t%.3fms\t", m.TTFBP50MS[t], m.TTFBP99MS[t])
		}
		cpu := "?"
		if v, ok := m.CPUMicrosPerReq[t]; ok {
			cpu = fmt.Sprintf("%.0fµs", v)
		}
		fmt.Fprintf(tw, "%.3fms\t%.3fms\t%s\t\n", m.P50MS[t], m.P99MS[t], cpu)
	}
	tw.Flush()
	fmt.Fprintf(b, "llmux vs direct: added p50 %+.3fms, p99 %+.3fms", m.AddedP50MS, m.AddedP99MS)
	if stream {
		fmt.Fprintf(b, " (ttfb p50 %+.3fms, p99 %+.3fms)", m.AddedTTFBP50MS, m.AddedTTFBP99MS)
	}
	fmt.Fprintf(b, "; throughput x%.3f\n", m.RatioLLMuxVsDirect)
	fmt.Fprintf(b, "llmux vs proxy:  added p50 %+.3fms, p99 %+.3fms; throughput x%.3f (by CPU time per request x%.3f)\n",
		m.AddedP50MSVsProxy, m.AddedP99MSVsProxy, m.RatioLLMuxVsProxy, m.CPURatioLLMuxVsProxy)
	fmt.Fprintf(b, "proxy vs direct: throughput x%.3f\n", m.RatioProxyVsDirect)
	for _, t := range targetOrder {
		if e := m.FirstError[t]; e != "" {
			fmt.Fprintf(b, "%s: %d errors (+%d in warm-up), first: %s\n", t, m.Errors[t], m.WarmupErrors[t], e)
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// IssueBar is one of an issue's bars: what is measured, the value, the
// verdict.
type IssueBar struct {
	What, Value string
	Pass        bool
}

// writeBars writes the verdicts on an issue's bars, one line each.
func writeBars(b *strings.Builder, issue string, bars []IssueBar) {
	fmt.Fprintf(b, "\nbars (%s; the exit code does not depend on them)\n", issue)
	for _, bar := range bars {
		verdict := "PASS"
		if !bar.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(b, "%s  %s: %s\n", verdict, bar.What, bar.Value)
	}
}
