package sim

import (
	"context"
	"errors"
	"math"
	"time"
)

// Latency defaults, chosen from the 1–15 s spread providers show in
// practice: most first tokens in well under a second, a long tail.
const (
	defaultTTFTMedian = 400 * time.Millisecond
	defaultTTFTP99    = 6 * time.Second
	defaultTTFTMax    = 15 * time.Second
	defaultTPS        = 80
	z99               = 2.326 // standard normal quantile of 0.99
)

// latencyModel is a validated Latency with TimeScale folded in.
type latencyModel struct {
	mu, sigma float64       // of ln(TTFT in seconds)
	max       time.Duration // cap on TTFT, before scaling
	tps       float64
	scale     float64
}

func newLatencyModel(l Latency, scale float64) (latencyModel, error) {
	if l.TTFTMedian == 0 {
		l.TTFTMedian = defaultTTFTMedian
	}
	if l.TTFTP99 == 0 {
		l.TTFTP99 = max(defaultTTFTP99, l.TTFTMedian)
	}
	if l.TTFTMax == 0 {
		l.TTFTMax = max(defaultTTFTMax, l.TTFTP99)
	}
	if l.TokensPerSecond == 0 {
		l.TokensPerSecond = defaultTPS
	}
	var errs []error
	if scale < 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		errs = append(errs, errors.New("time_scale: must be a finite number >= 0"))
	}
	if l.TTFTMedian < 0 || l.TTFTP99 < l.TTFTMedian || l.TTFTMax < l.TTFTMedian {
		errs = append(errs, errors.New("latency: want 0 <= ttft_median <= ttft_p99 and ttft_median <= ttft_max"))
	}
	if l.TokensPerSecond < 0 || math.IsNaN(l.TokensPerSecond) {
		errs = append(errs, errors.New("latency.tokens_per_second: must be > 0"))
	}
	if len(errs) > 0 {
		return latencyModel{}, errors.Join(errs...)
	}
	m := latencyModel{max: l.TTFTMax, tps: l.TokensPerSecond, scale: scale}
	if l.TTFTMedian > 0 {
		m.mu = math.Log(l.TTFTMedian.Seconds())
		m.sigma = math.Log(float64(l.TTFTP99)/float64(l.TTFTMedian)) / z99
	} else {
		m.mu = math.Inf(-1)
	}
	return m, nil
}

// ttft samples a time to first token, already scaled. With TimeScale 0 it
// draws nothing and returns 0.
func (s *Server) ttft() time.Duration {
	if s.lat.scale == 0 || math.IsInf(s.lat.mu, -1) {
		return 0
	}
	secs := math.Exp(s.lat.mu + s.lat.sigma*s.normal())
	d := min(time.Duration(secs*float64(time.Second)), s.lat.max)
	return s.scaled(d)
}

// tokenDelay is the scaled time n tokens take to generate.
func (s *Server) tokenDelay(n int) time.Duration {
	if s.lat.scale == 0 || n <= 0 {
		return 0
	}
	return s.scaled(time.Duration(float64(n) / s.lat.tps * float64(time.Second)))
}

// scaled multiplies d by TimeScale.
func (s *Server) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.lat.scale)
}

// sleep waits for d or until ctx is done, whichever is first, and returns
// ctx's error in the second case. It never starts a goroutine.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hang waits until ctx is done (a stall without an end).
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
