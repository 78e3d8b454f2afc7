package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// BrownoutSeries is one brownout run per seed (`llmux bench brownout
// --seeds 1,2,3,4,5`): a p99 over ~500 requests is decided by its few
// slowest requests, so one run says little about whether a bar holds.
type BrownoutSeries struct {
	// Reports are the runs, in the order of the seeds.
	Reports []*BrownoutReport
}

// BrownoutSeeds runs the brownout benchmark once per seed, with opt's
// other settings, one run after the other: side by side they would share
// the machine and each other's noise. opt.Progress, if set, gets a line
// before each run besides the runs' own.
func BrownoutSeeds(ctx context.Context, opt BrownoutOptions, seeds []int64) (*BrownoutSeries, error) {
	if len(seeds) == 0 {
		return nil, errors.New("bench brownout: no seeds")
	}
	s := &BrownoutSeries{}
	for i, seed := range seeds {
		o := opt
		o.Seed = seed
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, "seed %d (run %d of %d)\n", seed, i+1, len(seeds))
		}
		rep, err := Brownout(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("bench brownout: seed %d: %w", seed, err)
		}
		s.Reports = append(s.Reports, rep)
	}
	return s, nil
}

// BarTally is how many runs of a series held one bar.
type BarTally struct {
	Bar  string `json:"bar"`
	Held int    `json:"held"`
	Runs int    `json:"runs"`
}

// Tally counts, for each bar, the runs that held it, in the bars' order.
func (s *BrownoutSeries) Tally() []BarTally {
	var out []BarTally
	for _, rep := range s.Reports {
		for i, bar := range rep.Bars {
			if i == len(out) {
				out = append(out, BarTally{Bar: bar.What})
			}
			out[i].Runs++
			if bar.Pass {
				out[i].Held++
			}
		}
	}
	return out
}

// Medians returns, for every mode × phase, the median over the runs of
// each number of the JSON line.
func (s *BrownoutSeries) Medians() []BrownoutResult {
	if len(s.Reports) == 0 {
		return nil
	}
	out := make([]BrownoutResult, len(s.Reports[0].Rows))
	for i, row := range s.Reports[0].Rows {
		col := func(f func(BrownoutResult) float64) float64 {
			var xs []float64
			for _, rep := range s.Reports {
				if i < len(rep.Rows) {
					xs = append(xs, f(rep.Rows[i].BrownoutResult))
				}
			}
			return median(xs)
		}
		out[i] = BrownoutResult{Mode: row.Mode, Phase: row.Phase,
			Requests:           int(col(func(r BrownoutResult) float64 { return float64(r.Requests) })),
			SuccessRate:        round(col(func(r BrownoutResult) float64 { return r.SuccessRate }), 4),
			P50MS:              round(col(func(r BrownoutResult) float64 { return r.P50MS }), 1),
			P95MS:              round(col(func(r BrownoutResult) float64 { return r.P95MS }), 1),
			P99MS:              round(col(func(r BrownoutResult) float64 { return r.P99MS }), 1),
			UpstreamPerRequest: round(col(func(r BrownoutResult) float64 { return r.UpstreamPerRequest }), 3),
			CostPer1K:          round(col(func(r BrownoutResult) float64 { return r.CostPer1K }), 4),
		}
	}
	return out
}

// WriteText writes every run's report, each under a line naming its
// seed, then the summary: the hedged p99s and the bars run by run, their
// medians, and how many runs held each bar.
func (s *BrownoutSeries) WriteText(w io.Writer) error {
	for i, rep := range s.Reports {
		sep := "\n"
		if i == 0 {
			sep = ""
		}
		if _, err := fmt.Fprintf(w, "%s=== seed %d (run %d of %d) ===\n", sep, rep.Conditions.Seed, i+1, len(s.Reports)); err != nil {
			return err
		}
		if err := rep.WriteText(w); err != nil {
			return err
		}
	}
	var b strings.Builder
	s.writeSummary(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *BrownoutSeries) writeSummary(b *strings.Builder) {
	var seeds []string
	for _, rep := range s.Reports {
		seeds = append(seeds, fmt.Sprint(rep.Conditions.Seed))
	}
	fmt.Fprintf(b, "\n=== summary: %d runs, seeds %s, one after the other ===\n", len(s.Reports), strings.Join(seeds, ", "))
	fmt.Fprintf(b, "hedge: %s; failover and no-failover: their brownout rows; loadavg: 1-minute load average at the run's start and end\n", ModeHedge)
	fmt.Fprintf(b, "over bar: hedged brownout requests slower than %gx the healthy p99 / how many the p99 allows\n", MaxBrownoutP99Ratio)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "seed\tloadavg\thedge healthy p99\thedge brownout p99\tratio\tover bar\tfailover brownout p99\tno-failover brownout success\tbars passed\t")
	var healthy, brown, ratio, failover, baseline []float64
	for _, rep := range s.Reports {
		brownRow := rep.row(ModeHedge, PhaseBrownout)
		h, br := rep.row(ModeHedge, PhaseHealthy).P99MS, brownRow.P99MS
		r := 0.0
		if h > 0 {
			r = br / h
		}
		over, allowed := brownRow.over(MaxBrownoutP99Ratio * h)
		f, nf := rep.row(ModeFailover, PhaseBrownout).P99MS, rep.row(ModeNoFailover, PhaseBrownout).SuccessRate
		healthy, brown, ratio = append(healthy, h), append(brown, br), append(ratio, r)
		failover, baseline = append(failover, f), append(baseline, nf)
		passed := 0
		for _, bar := range rep.Bars {
			if bar.Pass {
				passed++
			}
		}
		fmt.Fprintf(tw, "%d\t%s -> %s\t%.0fms\t%.0fms\t%.2fx\t%d / %d\t%.0fms\t%.2f%%\t%d of %d\t\n", rep.Conditions.Seed,
			loadOne(rep.Conditions.LoadAvgStart), loadOne(rep.Conditions.LoadAvgEnd), h, br, r, over, allowed, f, 100*nf, passed, len(rep.Bars))
	}
	fmt.Fprintf(tw, "median\t\t%.0fms\t%.0fms\t%.2fx\t\t%.0fms\t%.2f%%\t\t\n",
		median(healthy), median(brown), median(ratio), median(failover), 100*median(baseline))
	tw.Flush()
	fmt.Fprintf(b, "\nmedians over the runs (provider time)\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tphase\trequests\tsuccess\tp50\tp95\tp99\tupstream/req\tcost/1k\t")
	for _, m := range s.Medians() {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f%%\t%.0fms\t%.0fms\t%.0fms\t%.3f\t$%.4f\t\n",
			m.Mode, m.Phase, m.Requests, 100*m.SuccessRate, m.P50MS, m.P95MS, m.P99MS, m.UpstreamPerRequest, m.CostPer1K)
	}
	tw.Flush()
	fmt.Fprintf(b, "\nbars held (issue 4; runs that held each bar)\n")
	for _, t := range s.Tally() {
		verdict := "HELD"
		if t.Held < t.Runs {
			verdict = "MISS"
		}
		fmt.Fprintf(b, "%s  %d of %d  %s\n", verdict, t.Held, t.Runs, t.Bar)
	}
}

// loadOne is the 1-minute figure of a /proc/loadavg line.
func loadOne(la string) string {
	if f := strings.Fields(la); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// row returns the report's row of mode and phase (a zero row if none).
func (r *BrownoutReport) row(mode, phase string) *BrownoutRow {
	i := slices.IndexFunc(r.Rows, func(x BrownoutRow) bool { return x.Mode == mode && x.Phase == phase })
	if i < 0 {
		return &BrownoutRow{}
	}
	return &r.Rows[i]
}

// WriteJSON writes one line per run, {"seed":N,"results":[...]} with the
// results of a single run's line, then the summary line
// {"summary":{"seeds":[...],"bars":[...],"median":[...]}}: how many runs
// held each bar, and the median of every number by mode and phase.
func (s *BrownoutSeries) WriteJSON(w io.Writer) error {
	type seedLine struct {
		Seed    int64            `json:"seed"`
		Results []BrownoutResult `json:"results"`
	}
	var seeds []int64
	for _, rep := range s.Reports {
		seeds = append(seeds, rep.Conditions.Seed)
		if err := writeJSONLine(w, seedLine{rep.Conditions.Seed, rep.results()}); err != nil {
			return err
		}
	}
	type summary struct {
		Seeds  []int64          `json:"seeds"`
		Bars   []BarTally       `json:"bars"`
		Median []BrownoutResult `json:"median"`
	}
	return writeJSONLine(w, struct {
		Summary summary `json:"summary"`
	}{summary{seeds, s.Tally(), s.Medians()}})
}

func writeJSONLine(w io.Writer, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench: encode brownout report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}
