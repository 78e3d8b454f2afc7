package provider

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits is what a response's rate-limit headers said. A Bucket with
// Known false was absent or unparseable.
type Limits struct {
	Requests     Bucket
	Tokens       Bucket
	InputTokens  Bucket // Anthropic only
	OutputTokens Bucket // Anthropic only
	// RetryAfter is the server's requested wait (retry-after-ms, then
	// retry-after in seconds or as an HTTP date); zero when absent.
	RetryAfter time.Duration
}

// Bucket is one limit's state as the provider reported it.
type Bucket struct {
	Known     bool
	Limit     int64
	Remaining int64
	// Reset is the time until the bucket is full again.
	Reset time.Duration
}

type durationParser func(string) (time.Duration, bool)

// bucketFromHeaders reads one limit/remaining/reset triple. Negative values
// (Azure's -1 for "unknown") make the bucket unknown.
func bucketFromHeaders(h http.Header, limitKey, remainingKey, resetKey string, parseReset durationParser) Bucket {
	limit, okL := parseCount(h.Get(limitKey))
	remaining, okR := parseCount(h.Get(remainingKey))
	if !okL || !okR {
		return Bucket{}
	}
	b := Bucket{Known: true, Limit: limit, Remaining: remaining}
	if d, ok := parseReset(h.Get(resetKey)); ok {
		b.Reset = d
	}
	return b
}

func parseCount(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseGoDuration reads OpenAI's reset format ("1s", "6m0s", "12ms",
// "1m51.535s"), which is Go's duration syntax.
func parseGoDuration(v string) (time.Duration, bool) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}

// parseSeconds reads Azure's reset format: a plain number of seconds.
func parseSeconds(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// parseInstant reads Anthropic's reset format: an RFC 3339 instant.
func parseInstant(v string, now time.Time) (time.Duration, bool) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// retryAfter reads the server-directed wait in the order the SDKs use:
// retry-after-ms (float milliseconds), then retry-after as seconds, then as
// an HTTP date (providers.md §7).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f > 0 && f < 1e12 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	v := h.Get("retry-after")
	if v == "" {
		return 0
	}
	if d, ok := parseSeconds(v); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
