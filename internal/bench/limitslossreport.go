package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmux/llmux/internal/sim"
)

// RedisLossReport is the result of a Redis-loss run: one phase per seed.
type RedisLossReport struct {
	Conditions LimitsConditions
	Seeds      []RedisLossPhase
	Bars       []IssueBar
}

// The periods of a Redis-loss phase, as named in the JSON line.
const (
	PeriodBefore = "before" // from the phase start until the kill
	PeriodSwitch = "switch" // the first second after the kill
	PeriodLoss   = "loss"   // the rest of the loss, until the restart
	PeriodAfter  = "after"  // from the restart until the arrivals end
	lossSwitch   = time.Second
)

// RedisLossResult is one seed's phase in the JSON line. Times are clock
// milliseconds after the phase start.
type RedisLossResult struct {
	Seed     int64   `json:"seed"`
	Replicas int     `json:"replicas"`
	Load     float64 `json:"load"`
	// KilledAtMS is when redis-server had been killed, RestartedAtMS when
	// a new one was started, AnsweringAtMS when it answered.
	KilledAtMS    float64 `json:"killed_at_ms"`
	RestartedAtMS float64 `json:"restarted_at_ms"`
	AnsweringAtMS float64 `json:"answering_at_ms"`
	// The whole phase, as in the limits run.
	Offered          int     `json:"offered"`
	Served           int     `json:"served"`
	Shed             int64   `json:"shed"`
	ClientErrors     int64   `json:"client_errors"`
	UpstreamRequests int64   `json:"upstream_requests"`
	Upstream429      int64   `json:"upstream_429"`
	CapacityUsed     float64 `json:"capacity_used"`
	// Periods are before, switch, loss and after, in that order.
	Periods []LossPeriod `json:"periods"`
	// Degraded is, per replica, when it limited locally.
	Degraded []ReplicaDegraded `json:"degraded"`
}

// LossPeriod is one period of a Redis-loss phase.
type LossPeriod struct {
	Period string  `json:"period"`
	FromMS float64 `json:"from_ms"`
	ToMS   float64 `json:"to_ms"`
	// UpstreamRequests and Upstream429 are the simulator's counts between
	// the period's bounds (after: until every request had finished).
	UpstreamRequests int64 `json:"upstream_requests"`
	Upstream429      int64 `json:"upstream_429"`
	// Offered, Served, Shed and ClientErrors count the requests that
	// arrived in the period, by how they ended.
	Offered      int `json:"offered"`
	Served       int `json:"served"`
	Shed         int `json:"shed"`
	ClientErrors int `json:"client_errors"`
	// CapacityUsed is null for the switch: a second is too short to say.
	CapacityUsed *float64 `json:"capacity_used"`
}

// ReplicaDegraded is when one replica limited locally. Its times are
// null when it did not switch, or did not come back.
type ReplicaDegraded struct {
	Replica  int `json:"replica"`
	Switches int `json:"switches"`
	// SwitchedAfterKillMS is its first switch to local limiting after
	// the kill; RecoveredAfterRestartMS its last return to Redis after
	// the restart was started.
	SwitchedAfterKillMS     *float64 `json:"switched_after_kill_ms"`
	RecoveredAfterRestartMS *float64 `json:"recovered_after_restart_ms"`
	// DegradedMS is the time it limited locally, in all.
	DegradedMS float64 `json:"degraded_ms"`
	// ReseedKeys is the keys it re-seeded in Redis at its last return.
	ReseedKeys int64 `json:"reseed_keys"`
}

// RedisLossPhase is one seed's result with what the text report adds.
type RedisLossPhase struct {
	RedisLossResult
	limits LimitsPhase // the limits run's measures of the same phase
}

// measureLoss turns a Redis-loss phase's record into its result.
func measureLoss(r phaseRecord, reqs []benchRequest, seed int64) RedisLossPhase {
	lp := measure(r)
	o := r.outage
	killed, restarted := o.killed.Sub(r.start), o.restarted.Sub(r.start)
	res := RedisLossResult{Seed: seed, Replicas: lp.Replicas, Load: lp.Load,
		KilledAtMS: clockMS(killed), RestartedAtMS: clockMS(restarted), AnsweringAtMS: clockMS(o.answering.Sub(r.start)),
		Offered: lp.Offered, Served: lp.OK, Shed: lp.Shed, ClientErrors: lp.ClientErrors,
		UpstreamRequests: lp.UpstreamRequests, Upstream429: lp.Upstream429, CapacityUsed: lp.CapacityUsed}
	bounds := []struct {
		name           string
		from, to       time.Duration
		first, last    sim.Stats // counts at the bounds
		admittedToLast sim.Stats // admitted tokens at the end
	}{
		{PeriodBefore, 0, killed, sim.Stats{}, o.atKill, o.atKill},
		{PeriodSwitch, killed, killed + lossSwitch, o.atKill, o.afterKill, o.afterKill},
		{PeriodLoss, killed + lossSwitch, restarted, o.afterKill, o.atRestart, o.atRestart},
		// Empty if a slow machine restarted Redis after the arrivals ended.
		{PeriodAfter, restarted, max(r.window, restarted), o.atRestart, r.end, r.atWindowEnd},
	}
	for _, b := range bounds {
		p := LossPeriod{Period: b.name, FromMS: clockMS(b.from), ToMS: clockMS(b.to),
			UpstreamRequests: b.last.Totals.Requests - b.first.Totals.Requests,
			Upstream429:      b.last.Totals.RateLimited - b.first.Totals.RateLimited}
		p.Offered, p.Served, p.Shed = arrivedIn(reqs, b.from, b.to), countIn(r.tally.servedAt, b.from, b.to), countIn(r.tally.shedAt, b.from, b.to)
		p.ClientErrors = p.Offered - p.Served - p.Shed
		if b.name != PeriodSwitch {
			used := periodCapacityUsed(b.first, b.admittedToLast, r.start, b.from, b.to)
			p.CapacityUsed = &used
		}
		res.Periods = append(res.Periods, p)
	}
	res.Degraded = replicasDegraded(r.degraded, o, r.start.Add(r.window))
	return RedisLossPhase{RedisLossResult: res, limits: *lp}
}

// periodCapacityUsed is the tokens the providers charged at arrival
// between two snapshots over the most they could admit in [from, to)
// (after the phase start at start): from the start, as the limits run
// measures it (the buckets start full); later, the refill over the period
// (limit × minutes), which the buckets' level when the period began can
// exceed.
func periodCapacityUsed(first, last sim.Stats, start time.Time, from, to time.Duration) float64 {
	accts, _ := capacities()
	var admitted, capacity float64
	for _, a := range accts {
		admitted += float64(last.Keys[a.simKey()].AdmittedTokens - first.Keys[a.simKey()].AdmittedTokens)
		if from == 0 {
			capacity += float64(a.tokenLimit) * windowFactor(a.provider, start, to)
		} else {
			capacity += float64(a.tokenLimit) * (to - from).Minutes()
		}
	}
	if capacity <= 0 || admitted < 0 {
		return 0
	}
	return limitsRound(admitted/capacity, 4)
}

// arrivedIn counts the requests arriving in [from, to).
func arrivedIn(reqs []benchRequest, from, to time.Duration) int {
	n := 0
	for _, r := range reqs {
		if r.at >= from && r.at < to {
			n++
		}
	}
	return n
}

// countIn counts the times in [from, to).
func countIn(ts []time.Duration, from, to time.Duration) int {
	n := 0
	for _, t := range ts {
		if t >= from && t < to {
			n++
		}
	}
	return n
}

// replicasDegraded summarizes each replica's spans of local limiting; a
// span still open counts until end.
func replicasDegraded(spans [][]degradedSpan, o outageRecord, end time.Time) []ReplicaDegraded {
	out := make([]ReplicaDegraded, 0, len(spans))
	for i, ss := range spans {
		d := ReplicaDegraded{Replica: i + 1, Switches: len(ss)}
		var total time.Duration
		for _, s := range ss {
			to := s.to
			if to.IsZero() {
				to = end
			}
			total += to.Sub(s.from)
		}
		d.DegradedMS = clockMS(total)
		if len(ss) > 0 {
			after := clockMS(ss[0].from.Sub(o.killed))
			d.SwitchedAfterKillMS = &after
			if last := ss[len(ss)-1]; !last.to.IsZero() {
				back := clockMS(last.to.Sub(o.restarted))
				d.RecoveredAfterRestartMS, d.ReseedKeys = &back, last.reseeded
			}
		}
		out = append(out, d)
	}
	return out
}

// lossBars are issue 12's bar for the Redis loss: no provider 429 in any
// period, in every seed.
func lossBars(seeds []RedisLossPhase) []IssueBar {
	var bars []IssueBar
	for i, name := range []string{"before the loss", "within 1s of the switch", "rest of the loss", "after the restart"} {
		var counts, ids []string
		pass := true
		for _, s := range seeds {
			n := s.Periods[i].Upstream429
			pass = pass && n == 0
			counts, ids = append(counts, fmt.Sprint(n)), append(ids, fmt.Sprint(s.Seed))
		}
		bars = append(bars, IssueBar{What: "provider 429s " + name + " = 0 in every seed",
			Value: fmt.Sprintf("%s (seeds %s)", strings.Join(counts, ", "), strings.Join(ids, ", ")), Pass: pass})
	}
	return bars
}

// WriteJSON writes the results as one line,
// {"bench":"limits-redis-loss","results":[...]}, one result per seed.
func (r *RedisLossReport) WriteJSON(w io.Writer) error {
	res := make([]RedisLossResult, len(r.Seeds))
	for i, s := range r.Seeds {
		res[i] = s.RedisLossResult
	}
	line, err := json.Marshal(struct {
		Bench   string            `json:"bench"`
		Results []RedisLossResult `json:"results"`
	}{"limits-redis-loss", res})
	if err != nil {
		return fmt.Errorf("bench: encode redis-loss report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

// lossDefinitions are printed with every Redis-loss report.
const lossDefinitions = `periods (clock time after the phase start): before the loss [start, kill); the switch, the first
  second of the loss [kill, kill+1s); the rest of the loss [kill+1s, restart); after the restart
  [restart, end of arrivals]
upstream req, upstream 429: counted by the simulator at the periods' bounds (after the restart: until
  every request had finished)
offered, served, shed, client errors: the requests that arrived in the period, by how they ended
  (shed: llmux's own 429)
capacity used: the tokens the providers charged at arrival in the period over the most they could
  admit in it: before the loss as in bench limits (the buckets start full); later periods the
  refill, limit x minutes (Azure too), which what a bucket held when the period began can exceed;
  the switch: too short to say. Whole phase: bench limits' capacity_used.
degraded: per replica, from Resilient's switch to local limiting (its warning) to its return to
  Redis (its info line, which counts the keys it re-seeded); switched: after the kill; back: after
  the restart was started`

// WriteText writes the conditions, per seed a table of the periods and
// one of the replicas, notes, and the verdicts on the bars.
func (r *RedisLossReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r.Conditions.write(&b)
	fmt.Fprintf(&b, "\ndefinitions\n%s\n", lossDefinitions)
	for _, s := range r.Seeds {
		s.writeText(&b)
	}
	writeBars(&b, "issue 12", r.Bars)
	_, err := io.WriteString(w, b.String())
	return err
}

var periodTitles = map[string]string{
	PeriodBefore: "before the loss", PeriodSwitch: "switch (first 1s)", PeriodLoss: "rest of the loss", PeriodAfter: "after the restart",
}

func (s *RedisLossPhase) writeText(b *strings.Builder) {
	fmt.Fprintf(b, "\nseed %d: replicas %d, load %.1fx; redis-server killed at %s, restarted at %s, answering at %s\n",
		s.Seed, s.Replicas, s.Load, msText(s.KilledAtMS), msText(s.RestartedAtMS), msText(s.AnsweringAtMS))
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "period\tfrom\tto\tupstream req\tupstream 429\toffered\tserved\tshed\tclient errors\tcapacity used\t")
	for _, p := range s.Periods {
		used := "-"
		if p.CapacityUsed != nil {
			used = fmt.Sprintf("%.1f%%", 100**p.CapacityUsed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", periodTitles[p.Period], msText(p.FromMS), msText(p.ToMS),
			p.UpstreamRequests, p.Upstream429, p.Offered, p.Served, p.Shed, p.ClientErrors, used)
	}
	fmt.Fprintf(tw, "whole phase\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t\n", msText(0), msText(s.Periods[len(s.Periods)-1].ToMS),
		s.UpstreamRequests, s.Upstream429, s.Offered, s.Served, s.Shed, s.ClientErrors, 100*s.CapacityUsed)
	tw.Flush()
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replica\tswitched to local\tback on redis\tdegraded\tswitches\tre-seeded keys\t")
	for _, d := range s.Degraded {
		switched, back := "never", "never"
		if d.SwitchedAfterKillMS != nil {
			switched = "kill+" + msText(*d.SwitchedAfterKillMS)
		}
		if d.RecoveredAfterRestartMS != nil {
			back = "restart+" + msText(*d.RecoveredAfterRestartMS)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t\n", d.Replica, switched, back, msText(d.DegradedMS), d.Switches, d.ReseedKeys)
	}
	tw.Flush()
	if after := s.Periods[len(s.Periods)-1]; after.FromMS >= after.ToMS {
		fmt.Fprintf(b, "note: redis-server was started again at %s, after the arrivals had ended (the machine was too slow for this speedup): no period after the restart\n",
			msText(after.FromMS))
	}
	s.limits.writeNotes(b)
}

// msText is clock milliseconds as a duration to 0.1s.
func msText(ms float64) string {
	return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
}

func (s *RedisLossPhase) progressLine() string {
	var n429 []string
	for _, p := range s.Periods {
		n429 = append(n429, fmt.Sprint(p.Upstream429))
	}
	var degraded []string
	for _, d := range s.Degraded {
		degraded = append(degraded, msText(d.DegradedMS))
	}
	return fmt.Sprintf("seed %d: replicas %d llmux %.1fx, redis killed at %s for %s: upstream 429s before/switch/loss/after %s; %d offered, %d served, %d shed, %d client errors; degraded %s",
		s.Seed, s.Replicas, s.Load, msText(s.KilledAtMS), msText(s.RestartedAtMS-s.KilledAtMS), strings.Join(n429, "/"),
		s.Offered, s.Served, s.Shed, s.ClientErrors, strings.Join(degraded, ", "))
}
