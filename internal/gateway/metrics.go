package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series.
type metrics struct {
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	tokens           *prometheus.CounterVec
	upstreamFailures *prometheus.CounterVec
	upstream429      *prometheus.CounterVec
	shed             *prometheus.CounterVec
	keyLimited       *prometheus.CounterVec
	queueWait        *prometheus.HistogramVec
	hedges           *prometheus.CounterVec
	continuations    *prometheus.CounterVec
	malformed        *prometheus.CounterVec
	guardrails       *prometheus.CounterVec
	redactions       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmux_requests_total",
			Help: "Client requests by route, serving deployment and status.",
		}, []string{"route", "deployment", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "llmux_request_duration_seconds",
			Help:    "Time from request arrival to the end of the response.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmux_tokens_total",
			Help: "Tokens served, by deployment and direction (input, output).",
		}, []string{"deployment", "direction"}),
		upstreamFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "llmux_upstream_failures_total",
			Help: "Failed upstream attempts by deployment and class (retryable, rate_limited, account, client).",
		}, []string{"deployment", "class"}),
	}
	m.upstream429 = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_upstream_429_total",
		Help: "429s received from providers: each is a miss in llmux's accounting (429s llmux itself sends are llmux_requests_total{status=\"429\"}).",
	}, []string{"deployment"})
	m.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_queue_shed_total",
		Help: "Requests turned away by a route's queue, by reason: full (queue_size reached), max_wait or deadline (predicted start beyond the route's max_wait or the request's deadline), target (standing delay above queue_target), expired (waited until max_wait or the deadline without capacity).",
	}, []string{"route", "reason"})
	m.keyLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_key_rate_limited_total",
		Help: "Requests refused because the client key was over its own limits.",
	}, []string{"key"})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "llmux_queue_wait_seconds",
		Help:    "Time requests waited in a route's queue for capacity.",
		Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60},
	}, []string{"route"})
	m.hedges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_hedges_total",
		Help: "Hedged requests: a second deployment asked because the first one's first token was late.",
	}, []string{"route"})
	m.guardrails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_guardrail_failures_total",
		Help: "Guardrail checks that failed, by rule, hook and action (deny, flag, fallback, reask).",
	}, []string{"rule", "hook", "action"})
	m.redactions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_secrets_redacted_total",
		Help: "Requests whose secrets were replaced by placeholders before leaving, by detector rule.",
	}, []string{"rule"})
	m.continuations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_stream_continuations_total",
		Help: "Streams that failed after the client got part of the answer and were continued on another candidate.",
	}, []string{"route"})
	m.malformed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "llmux_upstream_malformed_events_total",
		Help: "Upstream stream events that did not parse and were dropped.",
	}, []string{"deployment"})
	reg.MustRegister(m.requests, m.duration, m.tokens, m.upstreamFailures, m.upstream429, m.shed, m.keyLimited, m.queueWait, m.hedges,
		m.guardrails, m.redactions, m.continuations, m.malformed)
	return m
}

func (m *metrics) observe(route string, o outcome, elapsed time.Duration) {
	m.requests.WithLabelValues(route, o.deployment, strconv.Itoa(o.status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	if o.deployment != "" {
		m.tokens.WithLabelValues(o.deployment, "input").Add(float64(o.usage.input))
		m.tokens.WithLabelValues(o.deployment, "output").Add(float64(o.usage.output))
	}
}

func (m *metrics) guardrailFailed(rule, hook, action string) {
	m.guardrails.WithLabelValues(rule, hook, action).Inc()
}
