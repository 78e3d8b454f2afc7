package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmux/llmux/internal/health"
	"github.com/llmux/llmux/internal/ratelimit"
)

// adminAuth checks the admin key (Authorization: Bearer or x-api-key).
// Without an admin key in the config the admin API does not exist.
func (g *Gateway) adminAuth(w http.ResponseWriter, r *http.Request) bool {
	want := g.cfg.AdminKey.Reveal()
	if want == "" {
		g.notFound(w, r)
		return false
	}
	got := r.Header.Get("x-api-key")
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(v)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		writeError(w, formatOpenAI, &apiError{status: http.StatusUnauthorized, code: "invalid_admin_key",
			message: "This endpoint needs the admin key."})
		return false
	}
	return true
}

// limitsView is GET /admin/limits.
type limitsView struct {
	Backend     string           `json:"backend"`
	Degraded    bool             `json:"degraded"`
	Deployments []deploymentView `json:"deployments"`
	Queues      map[string]int   `json:"queues"`
}

type deploymentView struct {
	Name       string         `json:"name"`
	Limits     limitsJSON     `json:"limits"`
	Buckets    map[string]lvl `json:"buckets"`
	BlockedMS  int64          `json:"blocked_ms"`
	CooldownMS int64          `json:"cooldown_ms"`
	Available  bool           `json:"available"`
	Failures   int            `json:"consecutive_failures"`
	Health     health.Status  `json:"health"`
	Error      string         `json:"error,omitempty"`
}

type limitsJSON struct {
	RPM  int `json:"rpm,omitempty"`
	TPM  int `json:"tpm,omitempty"`
	ITPM int `json:"itpm,omitempty"`
	OTPM int `json:"otpm,omitempty"`
}

type lvl struct {
	Limit     int64 `json:"limit"`
	Available int64 `json:"available"`
	ResetMS   int64 `json:"reset_ms"`
}

func (g *Gateway) handleAdminLimits(w http.ResponseWriter, r *http.Request) {
	if !g.adminAuth(w, r) {
		return
	}
	v := limitsView{Backend: g.cfg.RateLimit.Backend, Queues: map[string]int{}}
	if g.limiterStatus != nil {
		v.Degraded = g.limiterStatus.Degraded()
	}
	for i := range g.cfg.Deployments {
		v.Deployments = append(v.Deployments, g.deploymentView(r.Context(), i))
	}
	for name, q := range g.queues {
		v.Queues[name] = q.Len()
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (g *Gateway) deploymentView(ctx context.Context, i int) deploymentView {
	d := &g.cfg.Deployments[i]
	dv := deploymentView{
		Name:       d.Name,
		Limits:     limitsJSON{d.Limits.RPM, d.Limits.TPM, d.Limits.ITPM, d.Limits.OTPM},
		Buckets:    map[string]lvl{},
		CooldownMS: g.health.CooldownLeft(d.Name).Milliseconds(),
		Available:  g.health.Available(d.Name),
		Failures:   g.health.Failures(d.Name),
		Health:     g.health.Snapshot(d.Name),
	}
	st, err := g.limiter.State(ctx, depKey(d.Name), g.depLimits(d))
	if err != nil {
		dv.Error = err.Error()
		return dv
	}
	dv.BlockedMS = st.BlockedFor.Milliseconds()
	for name, l := range bucketLevels(st) {
		dv.Buckets[name] = lvl{l.Limit, l.Available, l.Reset.Milliseconds()}
	}
	return dv
}

func bucketLevels(st ratelimit.State) map[string]ratelimit.Level {
	out := map[string]ratelimit.Level{}
	for name, l := range map[string]ratelimit.Level{"rpm": st.Requests, "tpm": st.Tokens, "itpm": st.InputTokens, "otpm": st.OutputTokens} {
		if l.Limit > 0 {
			out[name] = l
		}
	}
	return out
}

// limitsCollector exports bucket levels, cooldowns, queue depths and the
// limiter's degraded flag at scrape time.
type limitsCollector struct {
	g                                                 *Gateway
	bucket, limit, cooldown, queue, degraded, circuit *prometheus.Desc
}

func newLimitsCollector(g *Gateway) *limitsCollector {
	return &limitsCollector{
		g:        g,
		bucket:   prometheus.NewDesc("llmux_bucket_available", "Tokens or requests available now in a deployment's bucket.", []string{"deployment", "bucket"}, nil),
		limit:    prometheus.NewDesc("llmux_bucket_limit", "A deployment bucket's limit: per minute, or per window for fixed-window dimensions (Azure: tokens per minute, requests per 10 s).", []string{"deployment", "bucket"}, nil),
		cooldown: prometheus.NewDesc("llmux_deployment_cooldown_seconds", "Time left in a deployment's cooldown.", []string{"deployment"}, nil),
		queue:    prometheus.NewDesc("llmux_queue_depth", "Requests waiting for capacity, per route.", []string{"route"}, nil),
		circuit:  prometheus.NewDesc("llmux_circuit_state", "A deployment's circuit breaker: 0 closed, 1 open, 2 half-open.", []string{"deployment"}, nil),
		degraded: prometheus.NewDesc("llmux_limiter_degraded", "1 while the shared limiter (Redis) is unreachable and limits are enforced locally.", nil, nil),
	}
}

func (c *limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bucket, c.limit, c.cooldown, c.queue, c.degraded, c.circuit} {
		ch <- d
	}
}

func (c *limitsCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i := range g.cfg.Deployments {
		d := &g.cfg.Deployments[i]
		ch <- prometheus.MustNewConstMetric(c.cooldown, prometheus.GaugeValue, g.health.CooldownLeft(d.Name).Seconds(), d.Name)
		ch <- prometheus.MustNewConstMetric(c.circuit, prometheus.GaugeValue, circuitValue(g.health.Snapshot(d.Name).State), d.Name)
		st, err := g.limiter.State(ctx, depKey(d.Name), g.depLimits(d))
		if err != nil {
			continue
		}
		for name, l := range bucketLevels(st) {
			ch <- prometheus.MustNewConstMetric(c.bucket, prometheus.GaugeValue, float64(l.Available), d.Name, name)
			ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(l.Limit), d.Name, name)
		}
	}
	for name, q := range g.queues {
		ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(q.Len()), name)
	}
	degraded := 0.0
	if g.limiterStatus != nil && g.limiterStatus.Degraded() {
		degraded = 1
	}
	ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, degraded)
}

// circuitValue is a breaker state as a gauge value.
func circuitValue(s health.State) float64 {
	switch s {
	case health.Open:
		return 1
	case health.HalfOpen:
		return 2
	}
	return 0
}
