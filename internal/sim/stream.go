package sim

import (
	"bytes"
	"encoding/json"
	"net/http"

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

// replaced applies the faults that replace the whole response (error
// bodies, garbage, a connection closed before the first byte) and reports
// whether it did. Anthropic's content_filter is a refusal, not a
// replacement: serveMessages builds it.
func (x *exchange) replaced(f *Fault) bool {
	if f == nil {
		return false
	}
	p := x.sf.provider
	switch f.Kind {
	case FaultStatus:
		x.fail(statusError(p, f.Status, f.RetryAfter))
	case FaultFlapping:
		x.fail(statusError(p, http.StatusServiceUnavailable, 0))
	case FaultContextLength:
		x.fail(contextLengthError(p, x.fr.prompt, x.fr.chat))
	case FaultContentFilter:
		if p == ProviderAnthropic {
			return false
		}
		x.fail(contentFilterError(p))
	case FaultPrefillRejected:
		x.fail(prefillError(p))
	case FaultGarbage:
		x.garbage(x.fr.stream)
	case FaultReset:
		if x.fr.stream && f.AfterTokens > 0 {
			return false
		}
		x.abort()
	case FaultResetBeforeHeaders:
		x.abort()
	case FaultNoResponse:
		_ = x.stall(f) // the client giving up ends the wait too
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
	if f != nil && f.Kind == FaultNoDone {
		evs = evs[:len(evs)-1] // [DONE] or message_stop
	}
	at := faultIndex(evs, f)
	sse.SetHeaders(x.w.Header())
	x.commonHeaders()
	x.w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(x.w)
	sent := 0
	for i, ev := range evs {
		if i == at {
			switch f.Kind {
			case FaultReset:
				x.abort()
				return false
			case FaultStall:
				if x.stall(f) != nil {
					return false
				}
			case FaultMalformedEvent:
				if sw.Event(ev.name, truncated(ev.data)) != nil {
					return false
				}
			}
		}
		if ev.tokens > 0 && sent > 0 && sleep(ctx, x.s.tokenDelay(ev.tokens)) != nil {
			return false
		}
		if sw.Event(ev.name, ev.data) != nil {
			return false
		}
		sent += ev.tokens
		x.out = sent
	}
	return true
}

// faultIndex is the index of the event a mid-stream fault comes before,
// or -1: the first token-carrying event after AfterTokens tokens. A
// reset or stall set after more tokens than the stream has never
// happens; a malformed event then comes right after the last token (or
// after the first event of a stream without tokens), so it is always
// sent.
func faultIndex(evs []event, f *Fault) int {
	if f == nil || (f.Kind != FaultReset && f.Kind != FaultStall && f.Kind != FaultMalformedEvent) {
		return -1
	}
	sent, lastToken := 0, 0
	for i, ev := range evs {
		if ev.tokens == 0 {
			continue
		}
		if sent >= f.AfterTokens {
			return i
		}
		sent += ev.tokens
		lastToken = i
	}
	if f.Kind == FaultMalformedEvent {
		return min(lastToken+1, len(evs)-1)
	}
	return -1
}

// truncated is an event's data cut where a broken upstream or proxy might
// cut it: right after "delta": (so OpenAI's reads {"id":...,"choices":
// [{"index":0,"delta":), or halfway for events without a delta. It is
// never valid JSON.
func truncated(data []byte) []byte {
	key := []byte(`"delta":`)
	if i := bytes.Index(data, key); i >= 0 {
		return data[:i+len(key)]
	}
	return data[:len(data)/2]
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
