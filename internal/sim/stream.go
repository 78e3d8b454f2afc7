package sim

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/llmux/llmux/internal/api/sse"
)

// event is one server-sent event of a simulated stream.
type event struct {
	name   string // "event:" field; empty for OpenAI
	data   []byte
	tokens int // output tokens the event carries: paces it and counts for AfterTokens
}

// newEvent encodes v as an event's data.
func newEvent(name string, v any, tokens int) event {
	b, err := json.Marshal(v)
	if err != nil {
		// The simulator only encodes its own well-formed api types.
		panic("sim: encode event: " + err.Error())
	}
	return event{name: name, data: b, tokens: tokens}
}

// replaced applies the faults that replace the whole response (status,
// garbage, reset before the first byte) and reports whether it did.
func (x *exchange) replaced(f *Fault, stream bool) bool {
	if f == nil {
		return false
	}
	switch f.Kind {
	case FaultStatus:
		x.fail(statusError(x.sf.provider, f.Status))
	case FaultGarbage:
		x.garbage(stream)
	case FaultReset:
		if stream && f.AfterTokens > 0 {
			return false
		}
		x.abort()
	default:
		return false
	}
	return true
}

// firstDelay waits for the time to first token plus any slow_first_token
// fault; it returns the context's error if the client went away.
func (x *exchange) firstDelay(f *Fault) error {
	d := x.s.ttft()
	if f != nil && f.Kind == FaultSlowFirstToken {
		d += x.s.scaled(f.Delay)
	}
	return sleep(x.r.Context(), d)
}

// stall waits out a stall fault: Delay (scaled), or until the client gives
// up when Delay is 0.
func (x *exchange) stall(f *Fault) error {
	if f.Delay == 0 {
		return hang(x.r.Context())
	}
	return sleep(x.r.Context(), x.s.scaled(f.Delay))
}

// waitWhole waits as long as a non-streamed response of tokens output
// tokens takes, stall faults included.
func (x *exchange) waitWhole(f *Fault, tokens int) error {
	if err := x.firstDelay(f); err != nil {
		return err
	}
	if f != nil && f.Kind == FaultStall {
		if err := x.stall(f); err != nil {
			return err
		}
	}
	return sleep(x.r.Context(), x.s.tokenDelay(tokens))
}

// runStream sends evs as an event stream, pacing token-carrying events and
// applying mid-stream faults. It keeps x.out at the output tokens sent so
// far and reports whether the stream completed.
func (x *exchange) runStream(evs []event, f *Fault) bool {
	ctx := x.r.Context()
	if x.firstDelay(f) != nil {
		return false
	}
	sse.SetHeaders(x.w.Header())
	x.commonHeaders()
	x.w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(x.w)
	sent, stalled := 0, false
	for _, ev := range evs {
		if ev.tokens > 0 {
			if f != nil && sent >= f.AfterTokens {
				switch {
				case f.Kind == FaultReset:
					x.abort()
					return false
				case f.Kind == FaultStall && !stalled:
					stalled = true
					if x.stall(f) != nil {
						return false
					}
				}
			}
			if sent > 0 && sleep(ctx, x.s.tokenDelay(ev.tokens)) != nil {
				return false
			}
		}
		if sw.Event(ev.name, ev.data) != nil {
			return false
		}
		sent += ev.tokens
		x.out = sent
	}
	return true
}

// abort drops the connection without a response (or mid-response): the
// client sees a reset or an unexpected EOF. Where the connection cannot be
// hijacked (HTTP/2) it aborts the handler, which resets the stream.
func (x *exchange) abort() {
	x.record()
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// garbage answers 200 with a body that is neither valid JSON nor a
// well-formed event stream: a truncated object followed by binary noise.
func (x *exchange) garbage(stream bool) {
	if stream {
		sse.SetHeaders(x.w.Header())
		x.commonHeaders()
		x.w.WriteHeader(http.StatusOK)
		_, _ = x.w.Write([]byte("data: {\"id\":\"garbage\",\"choices\":[{\"delta\":{\"content\":\"sim\n\n\x00\xff\xfe not an event\n"))
		return
	}
	x.send(http.StatusOK, "application/json", []byte("{\"id\":\"garbage\",\"object\":\x00\xff<html>upstream sent garbage</html>"))
}

// statusError is the provider's body for a status fault.
func statusError(provider string, status int) *apiError {
	e := &apiError{status: status, msg: statusMessage(provider, status)}
	switch {
	case provider == ProviderAzure && (status == 429 || status == 503 || status == 404 || status == 401):
		e.front = true
	case provider == ProviderOpenAI && status == 429:
		e.typ, e.code = "requests", "rate_limit_exceeded"
	}
	if status == 429 || status == 503 || status == 529 {
		e.retryAfter = time.Second
	}
	return e
}

func statusMessage(provider string, status int) string {
	switch {
	case provider == ProviderAnthropic && status == 529:
		return "Overloaded"
	case provider == ProviderAnthropic && status >= 500:
		return "Internal server error"
	case provider == ProviderAzure && status == 429:
		return "Rate limit is exceeded. Try again in 1 seconds."
	case provider == ProviderAzure && status == 503:
		return "The service is temporarily unable to process your request. Please try again later."
	case provider == ProviderAzure && status >= 500:
		return "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error."
	case status == 503:
		return "The engine is currently overloaded, please try again later"
	case status == 502:
		return "Bad gateway."
	case status >= 500:
		return "The server had an error while processing your request. Sorry about that!"
	case status == 429:
		return "Rate limit reached (simulated fault). Please try again in 1s."
	}
	return "Simulated error " + http.StatusText(status) + "."
}
