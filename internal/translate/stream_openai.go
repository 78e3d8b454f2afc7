package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

// EventWriter receives a converted stream one server-sent event at a time;
// name is empty for OpenAI events, which carry no "event:" line.
// *sse.Writer satisfies it.
type EventWriter interface {
	Event(name string, data []byte) error
}

var _ EventWriter = (*sse.Writer)(nil)

// AnthropicToOpenAIStream converts an Anthropic message stream into an
// OpenAI chat.completion.chunk stream (providers.md §6.5). Feed it each
// upstream event in order with Event; it writes the client's events to its
// EventWriter as they become known, so tokens are never held back.
//
// message_start becomes the first chunk (role assistant, content ""); text
// deltas become content chunks; each tool_use block becomes a tool call
// whose index counts tool blocks only, its input_json_delta fragments
// argument fragments; the first message_delta with a stop_reason becomes a
// chunk with an empty delta and the mapped finish_reason; message_stop
// becomes the usage chunk (choices [], only when includeUsage) and
// "[DONE]". With includeUsage every other chunk carries "usage":null, as
// OpenAI's do. Thinking, citations, pings and unknown events are dropped.
// An upstream error event is written as an OpenAI error payload and
// returned as an *UpstreamError; the stream then ends without "[DONE]".
//
// A converter serves one stream and is not safe for concurrent use.
type AnthropicToOpenAIStream struct {
	// Now returns the time stamped on every chunk as created; nil means
	// time.Now. Set it before the first Event.
	Now func() time.Time

	w            EventWriter
	model        string
	includeUsage bool

	started  bool
	id       string
	created  int64
	tools    map[int]int // Anthropic block index → OpenAI tool call index
	usage    anthropic.Usage
	finished bool // the finish_reason chunk was written
	done     bool // message_stop seen
	failed   bool // an upstream error was relayed
}

// NewAnthropicToOpenAIStream returns a converter writing to w. model is
// what the client asked for (the route name) and goes into every chunk;
// includeUsage is the client's stream_options.include_usage.
func NewAnthropicToOpenAIStream(w EventWriter, model string, includeUsage bool) *AnthropicToOpenAIStream {
	return &AnthropicToOpenAIStream{w: w, model: model, includeUsage: includeUsage, tools: map[int]int{}}
}

// Event consumes one upstream Anthropic event. It returns an error when the
// event cannot be decoded or arrives out of order, when writing fails, and
// (as an *UpstreamError, after relaying it) when the event is an error.
// Events after message_stop or an error are ignored.
func (s *AnthropicToOpenAIStream) Event(ev sse.Event) error {
	if s.done || s.failed {
		return nil
	}
	if ev.Name == anthropic.EventError {
		return s.fail(ev.Data)
	}
	var e anthropic.StreamEvent
	if err := json.Unmarshal(ev.Data, &e); err != nil {
		return fmt.Errorf("translate: anthropic stream event %q: %w", ev.Name, err)
	}
	typ := e.Type
	if typ == "" {
		typ = ev.Name
	}
	if !s.started && typ != anthropic.EventMessageStart && typ != anthropic.EventError {
		switch typ {
		case anthropic.EventContentBlockStart, anthropic.EventContentBlockDelta, anthropic.EventMessageDelta, anthropic.EventMessageStop:
			return fmt.Errorf("translate: anthropic stream: %s before message_start", typ)
		}
		return nil
	}
	switch typ {
	case anthropic.EventMessageStart:
		return s.start(e.Message)
	case anthropic.EventContentBlockStart:
		return s.blockStart(e.Index, e.ContentBlock)
	case anthropic.EventContentBlockDelta:
		return s.blockDelta(e.Index, e.Delta)
	case anthropic.EventMessageDelta:
		return s.messageDelta(e.Delta, e.Usage)
	case anthropic.EventMessageStop:
		return s.stop()
	case anthropic.EventError:
		return s.fail(ev.Data)
	}
	return nil // ping, content_block_stop, new event types
}

// Usage returns the usage seen so far in OpenAI terms: the input counts of
// message_start and the latest cumulative counts of message_delta.
func (s *AnthropicToOpenAIStream) Usage() openai.Usage { return UsageToOpenAI(s.usage) }

// Done reports whether message_stop was seen (and "[DONE]" written).
func (s *AnthropicToOpenAIStream) Done() bool { return s.done }

// Finish is called at upstream EOF. A stream that ended after its
// message_delta (stop reason and usage) but without message_stop is
// complete: the client gets its usage chunk and "[DONE]". One that ended
// before any stop reason was cut, and Finish returns an error (the caller
// ends the client stream, or continues it elsewhere).
func (s *AnthropicToOpenAIStream) Finish() error {
	switch {
	case s.done:
		return nil
	case s.finished && !s.failed:
		return s.stop()
	}
	return errors.New("translate: anthropic stream ended before its stop reason")
}

func (s *AnthropicToOpenAIStream) start(m *anthropic.Response) error {
	if s.started {
		return nil
	}
	s.started = true
	id := "llmux"
	if m != nil {
		s.usage = m.Usage
		if m.ID != "" {
			id = strings.TrimPrefix(m.ID, "msg_")
		}
	}
	s.id = "chatcmpl-" + id
	now := s.Now
	if now == nil {
		now = time.Now
	}
	s.created = now().Unix()
	empty := ""
	return s.chunk(openai.Delta{Role: "assistant", Content: &empty}, nil)
}

func (s *AnthropicToOpenAIStream) blockStart(index int, b *anthropic.ContentBlock) error {
	if b == nil {
		return nil
	}
	switch b.Type {
	case anthropic.BlockText:
		if b.Text != "" {
			return s.content(b.Text)
		}
	case anthropic.BlockToolUse:
		k := len(s.tools)
		s.tools[index] = k
		return s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{
			Index: &k, ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name},
		}}}, nil)
	}
	return nil
}

func (s *AnthropicToOpenAIStream) blockDelta(index int, raw json.RawMessage) error {
	var d anthropic.BlockDelta
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("translate: anthropic stream content_block_delta: %w", err)
	}
	switch d.Type {
	case anthropic.DeltaText:
		if d.Text != nil && *d.Text != "" {
			return s.content(*d.Text)
		}
	case anthropic.DeltaInputJSON:
		k, ok := s.tools[index]
		if !ok || d.PartialJSON == nil || *d.PartialJSON == "" {
			return nil
		}
		return s.chunk(openai.Delta{ToolCalls: []openai.ToolCall{{
			Index: &k, Function: openai.FunctionCall{Arguments: *d.PartialJSON},
		}}}, nil)
	}
	return nil
}

func (s *AnthropicToOpenAIStream) messageDelta(raw json.RawMessage, u *anthropic.DeltaUsage) error {
	if u != nil {
		s.usage.OutputTokens = u.OutputTokens
		if u.InputTokens != nil {
			s.usage.InputTokens = *u.InputTokens
		}
		if u.CacheCreationInputTokens != nil {
			s.usage.CacheCreationInputTokens = *u.CacheCreationInputTokens
		}
		if u.CacheReadInputTokens != nil {
			s.usage.CacheReadInputTokens = *u.CacheReadInputTokens
		}
	}
	if len(raw) == 0 {
		return nil
	}
	var d anthropic.MessageDeltaBody
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("translate: anthropic stream message_delta: %w", err)
	}
	if d.StopReason == nil || s.finished {
		return nil
	}
	return s.finish(*d.StopReason)
}

func (s *AnthropicToOpenAIStream) finish(stopReason string) error {
	s.finished = true
	reason := FinishReason(stopReason)
	return s.chunk(openai.Delta{}, &reason)
}

func (s *AnthropicToOpenAIStream) stop() error {
	if !s.finished {
		// A stream without a stop_reason still tells the client it ended.
		if err := s.finish(""); err != nil {
			return err
		}
	}
	s.done = true
	if s.includeUsage {
		usage, err := json.Marshal(s.Usage())
		if err != nil {
			return fmt.Errorf("translate: encode usage chunk: %w", err)
		}
		if err := s.write(openai.ChatChunk{
			ID: s.id, Object: openai.ObjectChunk, Created: s.created, Model: s.model,
			Choices: []openai.ChunkChoice{}, Usage: usage,
		}); err != nil {
			return err
		}
	}
	return s.w.Event("", openai.Done)
}

func (s *AnthropicToOpenAIStream) fail(data []byte) error {
	s.failed = true
	f := parseAnthropicError(data)
	if f.message == "" {
		f.message = genericMessage(0)
	}
	typ, code := openAIKind(0, f)
	if err := s.w.Event("", openai.NewError(typ, code, "", f.message)); err != nil {
		return err
	}
	return &UpstreamError{Type: f.typ, Message: f.message}
}

func (s *AnthropicToOpenAIStream) content(text string) error {
	return s.chunk(openai.Delta{Content: &text}, nil)
}

func (s *AnthropicToOpenAIStream) chunk(d openai.Delta, finish *string) error {
	c := openai.ChatChunk{
		ID: s.id, Object: openai.ObjectChunk, Created: s.created, Model: s.model,
		Choices: []openai.ChunkChoice{{Index: 0, Delta: d, FinishReason: finish}},
	}
	if s.includeUsage {
		c.Usage = json.RawMessage("null")
	}
	return s.write(c)
}

func (s *AnthropicToOpenAIStream) write(c openai.ChatChunk) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("translate: encode chunk: %w", err)
	}
	return s.w.Event("", b)
}
