package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
	"github.com/llmux/llmux/internal/failover"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/translate"
)

// streamer turns upstream events into client events.
type streamer interface {
	// event handles one upstream event, writing zero or more client
	// events. An error ends the stream; if the streamer already told the
	// client (an upstream error event), it returns errReported.
	event(ev sse.Event) error
	// finish is called at upstream EOF; it errors if the stream was cut.
	finish() error
	usage() usage
}

// errReported wraps a stream failure the client has already been told of.
type errReported struct{ err error }

func (e *errReported) Error() string { return e.err.Error() }
func (e *errReported) Unwrap() error { return e.err }

var errIncomplete = errors.New("upstream stream ended before its final event")

// relayStream writes a started stream into the client's stream: its
// first event, then the rest. A continuation's events go through a
// splicer first, so the client sees one answer. An event that does not
// parse is dropped (counted and logged) rather than ending the answer.
// The error says why the stream failed; the caller decides what follows.
func (g *Gateway) relayStream(ctx context.Context, c *call, st *started) (usage, error) {
	cs := c.cs
	var dst eventWriter = cs
	if k := c.cont.Load(); k != nil {
		cs.setVault(st.p.pl)
		mode := spliceRegenerate
		if g.prefills(c, st.up.dep) {
			mode = splicePrefill
		}
		dst = newSplicer(c.f, cs, k.t, mode, k.trim)
		what := "restarted"
		if mode == splicePrefill {
			what = "continued"
		}
		c.log.Add(failover.Event{Deployment: st.up.dep.Name, What: what, Detail: mode.String(), Byte: k.t.size()})
	}
	s := g.newStreamer(c, st.up, st.p, dst)
	err := s.event(st.first)
	for err == nil || errors.Is(err, errMalformed) {
		if err != nil {
			g.metrics.malformed.WithLabelValues(st.up.dep.Name).Inc()
			g.log.Warn("dropped an upstream stream event that does not parse", "deployment", st.up.dep.Name)
		}
		var ev sse.Event
		ev, err = st.rd.Next()
		if err == io.EOF {
			err = s.finish()
			break
		}
		if err != nil {
			if cause := st.wd.cause(); cause != nil {
				err = cause
			}
			err = fmt.Errorf("read upstream stream: %w", err)
			break
		}
		st.wd.token()
		err = s.event(ev)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return s.usage(), err
}

// errMalformed is one upstream event that does not parse; the relay drops
// it and goes on.
var errMalformed = errors.New("upstream sent an event that does not parse")

// checkFirst rejects a first event that is garbage or an error, while the
// request can still go elsewhere.
func checkFirst(f provider.Format, ev sse.Event) error {
	if f == provider.FormatOpenAI && bytes.Equal(ev.Data, openai.Done) {
		return errIncomplete
	}
	if !json.Valid(ev.Data) {
		return errGarbage
	}
	if isErrorPayload(f, ev) {
		return fmt.Errorf("upstream error event: %s", truncate(ev.Data, 200))
	}
	return nil
}

func isErrorPayload(f provider.Format, ev sse.Event) bool {
	if f == provider.FormatAnthropic {
		return ev.Name == anthropic.EventError
	}
	return bytes.HasPrefix(bytes.TrimSpace(ev.Data), []byte(`{"error"`))
}

// looksLikeObject is the per-event garbage check after the first event
// (which gets a full json.Valid): a JSON object starts with { and ends
// with }. A full validation of every chunk cost a quarter of the relay's
// CPU (docs/benchmarks.md); anything that passes this but is not JSON is
// the client's SDK's to reject, as it would be from the provider itself.
func looksLikeObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}

// cutOnce removes the first occurrence of pat from b, in place. b is the
// SSE reader's buffer, valid until the next event, so editing it is safe
// and saves a copy per event.
func cutOnce(b, pat []byte) []byte {
	i := bytes.Index(b, pat)
	if i < 0 {
		return b
	}
	n := copy(b[i:], b[i+len(pat):])
	return b[:i+n]
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func (g *Gateway) newStreamer(c *call, up *upstream, p *prepared, sw eventWriter) streamer {
	switch {
	case p.passthrough && c.f == formatOpenAI:
		return &openAIPass{w: sw, strip: p.stripUsage}
	case p.passthrough:
		return &anthropicPass{w: sw}
	case c.f == formatOpenAI:
		return &fromAnthropic{conv: translate.NewAnthropicToOpenAIStream(sw, up.dep.Model, c.includeUsage)}
	default:
		est := len(p.pl.body) / 4
		return &fromOpenAI{conv: translate.NewOpenAIToAnthropicStream(sw, up.dep.Model, est)}
	}
}

// openAIPass relays an OpenAI stream to an OpenAI client. When llmux
// added include_usage itself, it drops the usage chunk and the
// "usage":null fields the client did not ask for. `"usage":null` with
// unescaped quotes cannot occur inside a JSON string, so the byte
// replacement only ever hits the field itself.
type openAIPass struct {
	w     eventWriter
	strip bool
	u     usage
	done  bool
	// finished: a chunk carried a finish_reason.
	finished bool
}

// finishKey starts a non-null finish_reason.
var finishKey = []byte(`"finish_reason":"`)

var (
	usageNullComma = []byte(`,"usage":null`)
	usageNullFirst = []byte(`"usage":null,`)
	usageObject    = []byte(`"usage":{`)
)

func (s *openAIPass) event(ev sse.Event) error {
	if bytes.Equal(ev.Data, openai.Done) {
		s.done = true
		return s.w.Event("", ev.Data)
	}
	if !looksLikeObject(ev.Data) {
		return errMalformed
	}
	if !s.finished && bytes.Contains(ev.Data, finishKey) {
		s.finished = true
	}
	if isErrorPayload(provider.FormatOpenAI, ev) {
		s.w.Event("", ev.Data)
		return &errReported{fmt.Errorf("upstream error event: %s", truncate(ev.Data, 200))}
	}
	data := ev.Data
	if bytes.Contains(data, usageObject) {
		var chunk struct {
			Choices []json.RawMessage `json:"choices"`
			Usage   *openai.Usage     `json:"usage"`
		}
		if json.Unmarshal(data, &chunk) == nil && chunk.Usage != nil {
			s.u = openAIUsage(chunk.Usage)
			if s.strip && len(chunk.Choices) == 0 {
				return nil
			}
		}
	}
	if s.strip {
		data = cutOnce(data, usageNullComma)
		data = cutOnce(data, usageNullFirst)
	}
	return s.w.Event("", data)
}

// finish ends a stream at upstream EOF. A body that ends after its
// finish_reason but without [DONE] is complete: the client gets its
// [DONE] (and the usage chunk, if one came). Only a body that ends before
// any finish is a failure.
func (s *openAIPass) finish() error {
	switch {
	case s.done:
		return nil
	case s.finished:
		s.done = true
		return s.w.Event("", openai.Done)
	}
	return errIncomplete
}

func (s *openAIPass) usage() usage { return s.u }

// anthropicPass relays an Anthropic stream to an Anthropic client, reading
// usage from message_start and message_delta.
type anthropicPass struct {
	w    eventWriter
	u    usage
	done bool
	// finished: message_delta (with the stop reason and usage) arrived.
	finished bool
}

func (s *anthropicPass) event(ev sse.Event) error {
	if !looksLikeObject(ev.Data) {
		return errMalformed
	}
	switch ev.Name {
	case anthropic.EventMessageStart:
		var m anthropic.MessageStart
		if json.Unmarshal(ev.Data, &m) == nil {
			s.u = anthropicUsage(&m.Message.Usage)
		}
	case anthropic.EventMessageDelta:
		var m anthropic.MessageDelta
		if json.Unmarshal(ev.Data, &m) == nil {
			s.u.output = m.Usage.OutputTokens
			if m.Usage.InputTokens != nil {
				s.u.input = *m.Usage.InputTokens
			}
			s.finished = m.Delta.StopReason != nil
		}
	case anthropic.EventMessageStop:
		s.done = true
	case anthropic.EventError:
		s.w.Event(ev.Name, ev.Data)
		return &errReported{fmt.Errorf("upstream error event: %s", truncate(ev.Data, 200))}
	}
	return s.w.Event(ev.Name, ev.Data)
}

// finish ends a stream at upstream EOF: one that ends after message_delta
// but without message_stop is complete, and the client gets its
// message_stop.
func (s *anthropicPass) finish() error {
	switch {
	case s.done:
		return nil
	case s.finished:
		s.done = true
		return s.w.Event(anthropic.EventMessageStop, messageStop)
	}
	return errIncomplete
}

var messageStop = []byte(`{"type":"message_stop"}`)

func (s *anthropicPass) usage() usage { return s.u }

// reported marks an upstream error event the converter has already
// written to the client in the client's format.
func reported(err error) error {
	var ue *translate.UpstreamError
	if errors.As(err, &ue) {
		return &errReported{err}
	}
	return err
}

// fromAnthropic translates an Anthropic stream for an OpenAI client.
type fromAnthropic struct {
	conv *translate.AnthropicToOpenAIStream
}

func (s *fromAnthropic) event(ev sse.Event) error {
	return malformed(reported(s.conv.Event(ev)))
}

func (s *fromAnthropic) finish() error {
	if err := s.conv.Finish(); err != nil {
		return fmt.Errorf("%w: %w", errIncomplete, err)
	}
	return nil
}

// malformed marks a converter's failure to decode an event as a dropped
// event rather than a broken stream.
func malformed(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return errMalformed
	}
	return err
}

func (s *fromAnthropic) usage() usage {
	u := s.conv.Usage()
	return openAIUsage(&u)
}

// fromOpenAI translates an OpenAI stream for an Anthropic client.
type fromOpenAI struct {
	conv *translate.OpenAIToAnthropicStream
}

func (s *fromOpenAI) event(ev sse.Event) error {
	return malformed(reported(s.conv.Event(ev)))
}

func (s *fromOpenAI) finish() error {
	if err := s.conv.Finish(); err != nil {
		return fmt.Errorf("%w: %w", errIncomplete, err)
	}
	return nil
}

func (s *fromOpenAI) usage() usage {
	u := s.conv.Usage()
	return anthropicUsage(&u)
}
