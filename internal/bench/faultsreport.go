package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// FaultsConditions are what a fault-matrix run ran on and with.
type FaultsConditions struct {
	Date, Go, GOOS, GOARCH   string
	NumCPU, GOMAXPROCS       int
	LoadAvgStart, LoadAvgEnd string
	Concurrency              int
	Seed                     int64
	// Wall is the time the cells took, all of them, from the reference
	// request to the last cell's end.
	Wall time.Duration
	// Reference is the healthy route's answer every cell is held to.
	Reference string
}

// FaultsReport is the result of a fault-matrix run.
type FaultsReport struct {
	Conditions FaultsConditions
	// Results are the cells in matrix order: by fault, non-stream before
	// stream, the OpenAI client before the Anthropic one.
	Results []FaultsResult
	// What describes each fault, in matrix order.
	What []FaultsLegend
}

// FaultsLegend describes one fault of the matrix.
type FaultsLegend struct {
	Fault, What string
	Control     bool
}

// FaultsResult is one cell in the JSON line.
type FaultsResult struct {
	Fault  string `json:"fault"`
	Mode   string `json:"mode"`   // json or stream
	Client string `json:"client"` // openai (/v1/chat/completions) or anthropic (/v1/messages)
	// Outcome is pass, partial, safe or fail; Expected what the matrix
	// wants; AsExpected also covers who answered, what the providers saw
	// and the attempt log (Problems lists what differed).
	Outcome    string   `json:"outcome"`
	Expected   string   `json:"expected"`
	AsExpected bool     `json:"as_expected"`
	Problems   []string `json:"problems,omitempty"`
	// KnownGap names a gateway bug the cell shows; its expectations are
	// the current behaviour.
	KnownGap string `json:"known_gap,omitempty"`
	// Attempts is x-llmux-attempts (on streams: as the headers left).
	Attempts int `json:"attempts"`
	// UpstreamPrimary and UpstreamFallback are the requests each of the
	// cell's deployments got, counted by the simulator; RetryGapMS the
	// time between the primary's first two.
	UpstreamPrimary  int64   `json:"upstream_primary"`
	UpstreamFallback int64   `json:"upstream_fallback"`
	RetryGapMS       float64 `json:"retry_gap_ms,omitempty"`
	// AnsweredBy is primary or fallback, from the attempt log.
	AnsweredBy string  `json:"answered_by,omitempty"`
	WallMS     float64 `json:"wall_ms"`
	AttemptLog string  `json:"attempt_log"`
	// Detail says why the outcome is not pass.
	Detail string `json:"detail,omitempty"`
}

func newFaultsReport(cond FaultsConditions, cells []faultCell, obs []faultObs) *FaultsReport {
	r := &FaultsReport{Conditions: cond}
	for _, fc := range faultCases {
		r.What = append(r.What, FaultsLegend{Fault: fc.name, What: fc.what, Control: fc.control})
	}
	for i, c := range cells {
		o, w := obs[i], c.want()
		res := FaultsResult{Fault: c.c.name, Mode: c.mode(), Client: c.client, Outcome: o.outcome, Expected: w.outcome,
			KnownGap: w.knownGap, Attempts: o.attempts, UpstreamPrimary: o.primary, UpstreamFallback: o.fallback,
			WallMS: ms(o.wall), AttemptLog: c.relativeLog(o.log), Detail: o.detail}
		res.Problems = c.check(o)
		res.AsExpected = len(res.Problems) == 0
		if o.primary >= 2 {
			res.RetryGapMS = ms(o.gap)
		}
		if by := answeredBy(o.log); by != "" {
			res.AnsweredBy = strings.TrimPrefix(by, c.route()+"/")
		}
		if o.outcome == OutcomePass {
			res.Detail = ""
		}
		r.Results = append(r.Results, res)
	}
	return r
}

// Failed counts the cells whose outcome is fail.
func (r *FaultsReport) Failed() int {
	return r.count(func(x FaultsResult) bool { return x.Outcome == OutcomeFail })
}

// Unexpected counts the cells that did not go as the matrix wants.
func (r *FaultsReport) Unexpected() int {
	return r.count(func(x FaultsResult) bool { return !x.AsExpected })
}

func (r *FaultsReport) count(f func(FaultsResult) bool) int {
	n := 0
	for _, x := range r.Results {
		if f(x) {
			n++
		}
	}
	return n
}

// outcomes counts the cells by outcome.
func (r *FaultsReport) outcomes() map[string]int {
	m := map[string]int{OutcomePass: 0, OutcomePartial: 0, OutcomeSafe: 0, OutcomeFail: 0}
	for _, x := range r.Results {
		m[x.Outcome]++
	}
	return m
}

// WriteJSON writes the report as one line starting with
// {"bench":"faults".
func (r *FaultsReport) WriteJSON(w io.Writer) error {
	line, err := json.Marshal(struct {
		Bench      string         `json:"bench"`
		WallMS     float64        `json:"wall_ms"`
		Cells      int            `json:"cells"`
		Outcomes   map[string]int `json:"outcomes"`
		Unexpected int            `json:"unexpected"`
		Results    []FaultsResult `json:"results"`
	}{"faults", ms(r.Conditions.Wall), len(r.Results), r.outcomes(), r.Unexpected(), r.Results})
	if err != nil {
		return fmt.Errorf("bench: encode faults report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// WriteText writes the conditions, the matrix as a table, the faults'
// legend, what differed from the matrix's expectations and the totals.
func (r *FaultsReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	r.writeTable(&b)
	r.writeLegend(&b)
	r.writeProblems(&b)
	o := r.outcomes()
	fmt.Fprintf(&b, "\n%d cells in %v: %d pass, %d partial, %d safe, %d fail; %d as expected, %d not\n",
		len(r.Results), r.Conditions.Wall.Round(10*time.Millisecond), o[OutcomePass], o[OutcomePartial], o[OutcomeSafe],
		o[OutcomeFail], len(r.Results)-r.Unexpected(), r.Unexpected())
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(&b, "FAIL: %d cells gave the client a wrong, duplicated, missing or unreadable answer without an error (exit status 1)\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *FaultsConditions) write(b *strings.Builder) {
	fmt.Fprintln(b, "llmux bench faults: each simulated fault x stream and non-stream x OpenAI and Anthropic client, through llmux")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "date\t%s\n", c.Date)
	fmt.Fprintf(tw, "go\t%s %s/%s, NumCPU %d, GOMAXPROCS %d\n", c.Go, c.GOOS, c.GOARCH, c.NumCPU, c.GOMAXPROCS)
	fmt.Fprintf(tw, "loadavg\tstart %s; end %s\n", orUnknown(c.LoadAvgStart), orUnknown(c.LoadAvgEnd))
	fmt.Fprintf(tw, "setup\tone gateway and the simulator in this process, on loopback; per cell a route with one OpenAI deployment on its own\n")
	fmt.Fprintf(tw, "\tsimulator model (the fault matches by model) and a fallback route with one deployment on a second model\n")
	fmt.Fprintf(tw, "routes\ttimeouts first_token %v, chunk_gap %v; retry_backoff %v; retries 1, retry_after_max 5s (defaults); continuation on\n",
		faultsFirstToken, faultsChunkGap, faultsRetryBackoff)
	fmt.Fprintf(tw, "simulator\ttime to first token median %v (p99 %v, cap %v), then %g tokens/s; seed %d\n",
		faultsLatency.TTFTMedian, faultsLatency.TTFTP99, faultsLatency.TTFTMax, faultsLatency.TokensPerSecond, c.Seed)
	fmt.Fprintf(tw, "requests\tone per cell, %d cells at once, plain net/http; streams ask for usage; a cell gets %v\n", c.Concurrency, faultsCellLimit)
	fmt.Fprintf(tw, "answer\t%q\n", c.Reference)
	fmt.Fprintf(tw, "\t(the healthy reference route's, identical from every provider; every cell must give exactly this text)\n")
	fmt.Fprintf(tw, "outcomes\tpass: the exact text, usage, no error event; partial: an error event after a part of the answer;\n")
	fmt.Fprintf(tw, "\tsafe: a clear error in the client's format, no answer; fail: anything else\n")
	tw.Flush()
}

func (r *FaultsReport) writeTable(b *strings.Builder) {
	fmt.Fprintln(b)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tmode\tclient\toutcome\tcheck\tattempts\tupstream p/f\tretry gap\twall\tattempt log")
	for _, x := range r.Results {
		check := "ok"
		switch {
		case !x.AsExpected:
			check = "UNEXPECTED"
		case x.KnownGap != "":
			check = "known gap"
		}
		gap := "-"
		if x.UpstreamPrimary >= 2 {
			gap = fmt.Sprintf("%.0fms", x.RetryGapMS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%s\t%.0fms\t%s\n", x.Fault, x.Mode, x.Client, x.Outcome, check,
			x.Attempts, x.UpstreamPrimary, x.UpstreamFallback, gap, x.WallMS, x.AttemptLog)
	}
	tw.Flush()
}

func (r *FaultsReport) writeLegend(b *strings.Builder) {
	fmt.Fprintln(b, "\nfaults (on the primary's model unless said otherwise)")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, l := range r.What {
		fmt.Fprintf(tw, "%s\t%s\n", l.Fault, l.What)
	}
	tw.Flush()
}

// writeProblems lists each known gap once with its cells, then every
// cell that did not go as expected.
func (r *FaultsReport) writeProblems(b *strings.Builder) {
	var gaps []string
	cells := map[string][]string{}
	for _, x := range r.Results {
		if x.KnownGap == "" {
			continue
		}
		if _, seen := cells[x.KnownGap]; !seen {
			gaps = append(gaps, x.KnownGap)
		}
		cells[x.KnownGap] = append(cells[x.KnownGap], x.Fault+"/"+x.Mode+"/"+x.Client)
	}
	for _, g := range gaps {
		fmt.Fprintf(b, "\nknown gap (%s): %s\n", strings.Join(cells[g], ", "), g)
	}
	for _, x := range r.Results {
		if len(x.Problems) > 0 {
			fmt.Fprintf(b, "\nunexpected %s/%s/%s: %s\n", x.Fault, x.Mode, x.Client, strings.Join(x.Problems, "; "))
		}
	}
}
