package bench

import (
	"io"
	"time"
)

// Options configure an overhead run. Zero fields take the defaults.
type Options struct {
	// Concurrency is the number of requests in flight against one target.
	// Default 16.
	Concurrency int
	// Duration is how long one target is loaded in one mode in one round.
	// Default 2s.
	Duration time.Duration
	// Rounds is how many times every target is loaded in every mode.
	// Default 5.
	Rounds int
	// Progress, if not nil, receives a line after each round.
	Progress io.Writer
}

// Defaults of Options.
const (
	DefaultConcurrency = 16
	DefaultDuration    = 2 * time.Second
	DefaultRounds      = 5
)

// MinRatioVsProxy is the bar: non-streaming throughput through llmux must
// be at least this fraction of a bare reverse proxy's in the same run.
const MinRatioVsProxy = 0.70

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Rounds <= 0 {
		o.Rounds = DefaultRounds
	}
	return o
}

// warmup is how long each target is loaded, unrecorded, before the first
// round, so that no round pays for opening connections.
func (o Options) warmup() time.Duration {
	return min(o.Duration, 300*time.Millisecond)
}
