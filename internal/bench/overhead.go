package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"
)

// Overhead runs the overhead benchmark (see the package documentation)
// and returns its report. It stops everything it started before it
// returns; if ctx ends first it returns ctx's error.
func Overhead(ctx context.Context, opt Options) (rep *Report, err error) {
	opt = opt.withDefaults()
	cond := conditionsNow(opt)
	e, err := startEnv(ctx)
	if err != nil {
		return nil, err
	}
	client := newClient(opt.Concurrency)
	defer func() {
		client.CloseIdleConnections()
		err = errors.Join(err, e.close())
	}()
	if err := probe(ctx, client, e.targets); err != nil {
		return nil, err
	}
	var ser [numModes][]series
	for m := range numModes {
		ser[m] = make([]series, len(e.targets))
		for i := range e.targets {
			x, err := load(ctx, client, &e.targets[i], m, opt.Concurrency, opt.warmup())
			if err != nil {
				return nil, fmt.Errorf("bench: warm-up: %w", err)
			}
			ser[m][i].warmupErrs, ser[m][i].firstErr = x.errs, x.firstErr
		}
	}
	for r := range opt.Rounds {
		for m := range numModes {
			for i := range e.targets {
				ti := (i + r) % len(e.targets) // rotate the order each round
				x, err := load(ctx, client, &e.targets[ti], m, opt.Concurrency, opt.Duration)
				if err != nil {
					return nil, fmt.Errorf("bench: round %d: %w", r+1, err)
				}
				ser[m][ti].add(x)
			}
		}
		progress(opt, r, e.targets, &ser)
	}
	cond.LoadAvgEnd = loadAvg()
	cond.fillBodies(e.targets)
	return newReport(cond, e.targets, &ser), nil
}

// probe sends one request of each mode to each target and fails with the
// answer if it is not a complete 200: a broken setup should say why at
// once rather than as a table of errors.
func probe(ctx context.Context, client *http.Client, targets []target) error {
	for m := range numModes {
		for i := range targets {
			var w worker
			w.do(ctx, client, &targets[i], m)
			if err := ctx.Err(); err != nil {
				return err
			}
			if w.errs > 0 {
				return fmt.Errorf("bench: probe %s %s: %s", targets[i].name, m.title(), w.firstErr)
			}
		}
	}
	return nil
}

func progress(opt Options, r int, targets []target, ser *[numModes][]series) {
	if opt.Progress == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "round %d/%d:", r+1, opt.Rounds)
	for m := range numModes {
		fmt.Fprintf(&b, " %s", m.title())
		for i, t := range targets {
			s := &ser[m][i]
			fmt.Fprintf(&b, " %s %.0f/s", t.name, s.rps[len(s.rps)-1])
			if s.errs > 0 {
				fmt.Fprintf(&b, " (%d errors)", s.errs)
			}
		}
		b.WriteByte(';')
	}
	fmt.Fprintln(opt.Progress, strings.TrimSuffix(b.String(), ";"))
}

// series accumulates one target's samples in one mode over the rounds.
type series struct {
	rps         []float64 // per round
	total, ttfb []time.Duration
	ok, errs    int
	warmupErrs  int
	cpu         time.Duration
	cpuUnknown  bool
	firstErr    string
}

func (s *series) add(x *sample) {
	s.rps = append(s.rps, x.rps())
	s.total = append(s.total, x.total...)
	s.ttfb = append(s.ttfb, x.ttfb...)
	s.ok += x.ok
	s.errs += x.errs
	if x.cpu < 0 {
		s.cpuUnknown = true
	}
	s.cpu += x.cpu
	if s.firstErr == "" {
		s.firstErr = x.firstErr
	}
}

// Conditions are what a run ran on and with.
type Conditions struct {
	Date       string `json:"date"`
	Go         string `json:"go"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	// LoadAvgStart and LoadAvgEnd are /proc/loadavg before and after the
	// run, empty where unreadable.
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
	Concurrency  int    `json:"concurrency"`
	DurationMS   int64  `json:"duration_ms"`
	Rounds       int    `json:"rounds"`
	WarmupMS     int64  `json:"warmup_ms"`
	// BodyBytes is the non-streaming request body sent direct and to the
	// proxy; the streaming one and llmux's (model "bench" instead of
	// "gpt-4o-mini") differ by a few bytes.
	BodyBytes            int     `json:"body_bytes"`
	StreamBodyBytes      int     `json:"stream_body_bytes"`
	LLMuxBodyBytes       int     `json:"llmux_body_bytes"`
	LLMuxStreamBodyBytes int     `json:"llmux_stream_body_bytes"`
	MaxTokens            int     `json:"max_tokens"`
	SimTimeScale         float64 `json:"sim_time_scale"`
}

func conditionsNow(opt Options) Conditions {
	return Conditions{
		Date:         time.Now().UTC().Format(time.RFC3339),
		Go:           runtime.Version(),
		GOOS:         runtime.GOOS,
		GOARCH:       runtime.GOARCH,
		NumCPU:       runtime.NumCPU(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		LoadAvgStart: loadAvg(),
		Concurrency:  opt.Concurrency,
		DurationMS:   opt.Duration.Milliseconds(),
		Rounds:       opt.Rounds,
		WarmupMS:     opt.warmup().Milliseconds(),
		MaxTokens:    maxTokens,
	}
}

func (c *Conditions) fillBodies(targets []target) {
	for _, t := range targets {
		switch t.name {
		case "direct":
			c.BodyBytes, c.StreamBodyBytes = len(t.body[modeJSON]), len(t.body[modeStream])
		case "llmux":
			c.LLMuxBodyBytes, c.LLMuxStreamBodyBytes = len(t.body[modeJSON]), len(t.body[modeStream])
		}
	}
}

// loadAvg returns /proc/loadavg, or "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
