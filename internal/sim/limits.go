package sim

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// limiter enforces one key's limits the way its provider does.
type limiter interface {
	// admit charges a request costing tokens (what the provider counts at
	// arrival) and one request, or charges nothing and says why not.
	admit(now time.Time, tokens int) *rejection
	// settle charges what is only known after generation (Anthropic's
	// output tokens); it is a no-op for providers that charge up front.
	settle(now time.Time, output int)
	// header sets the provider's rate-limit headers for the state at now.
	header(h http.Header, now time.Time)
}

// rejection says which limit refused a request.
type rejection struct {
	dim       string // dimRequests, dimTokens, dimInput, dimOutput
	limit     int
	used      int
	requested int
	wait      time.Duration // until the request could be admitted
	tooLarge  bool          // the request alone exceeds the limit: it never will be
}

// Rate-limit dimensions.
const (
	dimRequests = "requests"
	dimTokens   = "tokens"
	dimInput    = "input_tokens"
	dimOutput   = "output_tokens"
)

// Azure counts requests in 10-second windows of RPM/6 each (providers.md §5.5).
const azureRequestWindow = 10 * time.Second

func newLimiter(k Key, now time.Time) limiter {
	switch k.Provider {
	case ProviderAzure:
		return &azureLimiter{
			req: newWindow(azureWindowLimit(k.RPM), azureRequestWindow),
			tok: newWindow(k.TPM, time.Minute),
		}
	case ProviderAnthropic:
		return &anthropicLimiter{
			rpm:  newBucket(k.RPM, now),
			itpm: newBucket(k.ITPM, now),
			otpm: newBucket(k.OTPM, now),
		}
	}
	return &openaiLimiter{rpm: newBucket(k.RPM, now), tpm: newBucket(k.TPM, now)}
}

// azureWindowLimit is the per-10-second request allowance for an RPM.
func azureWindowLimit(rpm int) int {
	if rpm <= 0 {
		return 0
	}
	return max(1, rpm/6)
}

// openaiLimiter: continuous token buckets for RPM and TPM, charged with
// the prompt estimate plus n × max output at arrival and never refunded.
type openaiLimiter struct {
	mu       sync.Mutex
	rpm, tpm *bucket
}

func (l *openaiLimiter) admit(now time.Time, tokens int) *rejection {
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(now, l.rpm, l.tpm)
	if l.tpm != nil && float64(tokens) > l.tpm.limit {
		return &rejection{dim: dimTokens, limit: int(l.tpm.limit), requested: tokens, tooLarge: true}
	}
	if r := check(l.rpm, dimRequests, 1); r != nil {
		return r
	}
	if r := check(l.tpm, dimTokens, tokens); r != nil {
		return r
	}
	take(l.rpm, 1)
	take(l.tpm, tokens)
	return nil
}

func (l *openaiLimiter) settle(time.Time, int) {}

func (l *openaiLimiter) header(h http.Header, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(now, l.rpm, l.tpm)
	setBucketHeaders(h, "x-ratelimit-", "requests", l.rpm, goDuration)
	setBucketHeaders(h, "x-ratelimit-", "tokens", l.tpm, goDuration)
}

// azureLimiter: a fixed per-minute token counter and fixed 10-second
// request windows, charged at arrival and never refunded.
type azureLimiter struct {
	mu       sync.Mutex
	req, tok *window
}

func (l *azureLimiter) admit(now time.Time, tokens int) *rejection {
	l.mu.Lock()
	defer l.mu.Unlock()
	roll(now, l.req, l.tok)
	if w := l.req; w != nil && w.used+1 > w.limit {
		return &rejection{dim: dimRequests, limit: w.limit, used: w.used, requested: 1, wait: w.resetIn(now)}
	}
	if w := l.tok; w != nil && w.used+tokens > w.limit {
		return &rejection{dim: dimTokens, limit: w.limit, used: w.used, requested: tokens,
			wait: w.resetIn(now), tooLarge: tokens > w.limit}
	}
	if l.req != nil {
		l.req.used++
	}
	if l.tok != nil {
		l.tok.used += tokens
	}
	return nil
}

func (l *azureLimiter) settle(time.Time, int) {}

func (l *azureLimiter) header(h http.Header, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	roll(now, l.req, l.tok)
	for _, d := range []struct {
		name string
		w    *window
	}{{"requests", l.req}, {"tokens", l.tok}} {
		if d.w == nil {
			continue
		}
		h.Set("x-ratelimit-limit-"+d.name, strconv.Itoa(d.w.limit))
		h.Set("x-ratelimit-remaining-"+d.name, strconv.Itoa(d.w.remaining()))
		h.Set("x-ratelimit-reset-"+d.name, strconv.Itoa(ceilSeconds(d.w.resetIn(now))))
	}
}

// anthropicLimiter: continuous token buckets for RPM, ITPM and OTPM. Input
// tokens are charged at arrival; output tokens when generation ends, from
// the tokens actually produced (the current docs; max_tokens does not
// count). A request is admitted while the output bucket holds at least one
// token.
type anthropicLimiter struct {
	mu              sync.Mutex
	rpm, itpm, otpm *bucket
}

func (l *anthropicLimiter) admit(now time.Time, tokens int) *rejection {
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(now, l.rpm, l.itpm, l.otpm)
	if l.itpm != nil && float64(tokens) > l.itpm.limit {
		return &rejection{dim: dimInput, limit: int(l.itpm.limit), requested: tokens, tooLarge: true, wait: time.Minute}
	}
	if r := check(l.rpm, dimRequests, 1); r != nil {
		return r
	}
	if r := check(l.itpm, dimInput, tokens); r != nil {
		return r
	}
	if r := check(l.otpm, dimOutput, 1); r != nil {
		r.requested = 0
		return r
	}
	take(l.rpm, 1)
	take(l.itpm, tokens)
	return nil
}

func (l *anthropicLimiter) settle(now time.Time, output int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(now, l.otpm)
	take(l.otpm, output)
}

func (l *anthropicLimiter) header(h http.Header, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	refill(now, l.rpm, l.itpm, l.otpm)
	instant := func(d time.Duration) string {
		return now.Add(d).Add(time.Second - 1).Truncate(time.Second).UTC().Format(time.RFC3339)
	}
	const p = "anthropic-ratelimit-"
	setBucketHeaders(h, p, "requests", l.rpm, instant)
	setBucketHeaders(h, p, "input-tokens", l.itpm, instant)
	setBucketHeaders(h, p, "output-tokens", l.otpm, instant)
	// tokens-* is the most restrictive token limit; without workspace
	// limits that is input and output combined (providers.md §4.6).
	if l.itpm == nil && l.otpm == nil {
		return
	}
	var limit, remaining int
	var reset time.Duration
	for _, b := range []*bucket{l.itpm, l.otpm} {
		if b != nil {
			limit += int(b.limit)
			remaining += b.remaining()
			reset = max(reset, b.untilFull())
		}
	}
	h.Set(p+"tokens-limit", strconv.Itoa(limit))
	h.Set(p+"tokens-remaining", strconv.Itoa(remaining))
	h.Set(p+"tokens-reset", instant(reset))
}

// setBucketHeaders sets {prefix}{limit,remaining,reset}-{name} (OpenAI
// order) or {prefix}{name}-{limit,remaining,reset} (Anthropic order).
func setBucketHeaders(h http.Header, prefix, name string, b *bucket, reset func(time.Duration) string) {
	if b == nil {
		return
	}
	names := [3]string{prefix + "limit-" + name, prefix + "remaining-" + name, prefix + "reset-" + name}
	if prefix == "anthropic-ratelimit-" {
		names = [3]string{prefix + name + "-limit", prefix + name + "-remaining", prefix + name + "-reset"}
	}
	h.Set(names[0], strconv.Itoa(int(b.limit)))
	h.Set(names[1], strconv.Itoa(b.remaining()))
	h.Set(names[2], reset(b.untilFull()))
}

// goDuration formats d as OpenAI's reset headers do: Go duration syntax at
// millisecond precision ("12ms", "1.146s", "6m0s").
func goDuration(d time.Duration) string { return ceilMS(d).String() }

func refill(now time.Time, bs ...*bucket) {
	for _, b := range bs {
		if b != nil {
			b.refill(now)
		}
	}
}

func roll(now time.Time, ws ...*window) {
	for _, w := range ws {
		if w != nil {
			w.roll(now)
		}
	}
}

// check reports a rejection when b cannot give n tokens now.
func check(b *bucket, dim string, n int) *rejection {
	if b == nil || b.level >= float64(n) {
		return nil
	}
	return &rejection{dim: dim, limit: int(b.limit), used: b.used(), requested: n, wait: b.wait(float64(n))}
}

func take(b *bucket, n int) {
	if b != nil {
		b.level -= float64(n)
	}
}
