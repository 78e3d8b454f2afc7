package sim

import (
	"slices"
	"testing"
	"time"
)

func TestTTFTDistribution(t *testing.T) {
	tests := []struct {
		name                string
		lat                 Latency
		scale               float64
		median, p99, maxTTF time.Duration
	}{
		{"defaults", Latency{}, 1, 400 * time.Millisecond, 6 * time.Second, 15 * time.Second},
		{"scaled", Latency{}, 0.01, 4 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond},
		{"custom", Latency{TTFTMedian: time.Second, TTFTP99: 4 * time.Second, TTFTMax: 5 * time.Second}, 1, time.Second, 4 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, func(c *Config) { c.Latency, c.TimeScale = tc.lat, tc.scale })
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = s.ttft()
			}
			slices.Sort(samples)
			near := func(what string, got, want time.Duration, tol float64) {
				if r := float64(got) / float64(want); r < 1-tol || r > 1+tol {
					t.Errorf("%s %v, want %v ±%.0f%%", what, got, want, tol*100)
				}
			}
			near("median", samples[len(samples)/2], tc.median, 0.08)
			near("p99", samples[len(samples)*99/100], tc.p99, 0.2)
			if last := samples[len(samples)-1]; last > tc.maxTTF {
				t.Errorf("max %v above the cap %v", last, tc.maxTTF)
			}
		})
	}
}

func TestTimeScaleZeroHasNoDelay(t *testing.T) {
	s := newTestServer(t, nil)
	if d := s.ttft(); d != 0 {
		t.Errorf("ttft %v with TimeScale 0", d)
	}
	if d := s.tokenDelay(1000); d != 0 {
		t.Errorf("token delay %v with TimeScale 0", d)
	}
}

func TestTokenPacing(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.TimeScale, c.Latency.TokensPerSecond = 0.5, 100 })
	if d := s.tokenDelay(50); d != 250*time.Millisecond {
		t.Errorf("50 tokens at 100/s scaled by 0.5: %v, want 250ms", d)
	}
}
