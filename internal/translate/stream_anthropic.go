package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

// OpenAIToAnthropicStream converts an OpenAI chat.completion.chunk stream
// into an Anthropic message stream (providers.md §6.5). Feed it each
// upstream event in order with Event, then call Finish at upstream EOF.
//
// The first chunk with choices produces message_start (its usage carries
// the caller's input estimate, the real count being unknown until the end)
// followed by a ping, as Anthropic sends. Content opens a text block; the
// first fragment of each tool call closes the open block and opens a
// tool_use block; argument fragments become input_json_delta events; a
// finish_reason closes the open block. Because the usage chunk (choices
// []) comes after the finish_reason chunk, message_delta (stop_reason,
// output_tokens, and the real input counts when a usage chunk arrived) and
// message_stop are written when "[DONE]" arrives. Chunks with empty
// choices, such as Azure's first chunk carrying only
// prompt_filter_results, produce nothing. Only choice 0 is relayed. A
// payload with an "error" key is written as an Anthropic error event and
// returned as an *UpstreamError.
//
// A converter serves one stream and is not safe for concurrent use.
type OpenAIToAnthropicStream struct {
	w             EventWriter
	model         string
	inputEstimate int

	started    bool
	id         string
	next       int         // index of the next content block
	open       int         // index of the open block; -1 when none
	openKind   string      // type of the open block
	calls      map[int]int // OpenAI tool call index → Anthropic block index
	openCall   int         // OpenAI index of the open tool call; -1 when none
	openCallID string      // its upstream id
	ids        *toolIDs
	finish     string // finish_reason, once seen
	refused    bool   // a refusal was streamed
	usage      *openai.Usage
	sawDone    bool // "[DONE]" arrived
	done       bool // message_stop written
	failed     bool // an upstream error was relayed
}

// NewOpenAIToAnthropicStream returns a converter writing to w. model is
// what the client asked for (the route name); inputEstimate is the
// caller's prompt token estimate, reported in message_start.
func NewOpenAIToAnthropicStream(w EventWriter, model string, inputEstimate int) *OpenAIToAnthropicStream {
	return &OpenAIToAnthropicStream{
		w: w, model: model, inputEstimate: inputEstimate,
		open: -1, openCall: -1, calls: map[int]int{}, ids: newToolIDs(),
	}
}

// Event consumes one upstream OpenAI event. It returns an error when the
// chunk cannot be decoded, when tool call fragments arrive in an order
// Anthropic's blocks cannot express, when writing fails, and (as an
// *UpstreamError, after relaying it) when the payload is an error. Events
// after "[DONE]" or an error are ignored.
func (s *OpenAIToAnthropicStream) Event(ev sse.Event) error {
	if s.sawDone || s.failed {
		return nil
	}
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, openai.Done) {
		s.sawDone = true
		return s.end()
	}
	var c struct {
		ID      string               `json:"id"`
		Choices []openai.ChunkChoice `json:"choices"`
		Usage   *openai.Usage        `json:"usage"`
		Error   json.RawMessage      `json:"error"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("translate: openai stream chunk: %w", err)
	}
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		return s.fail(data)
	}
	if c.Usage != nil {
		u := *c.Usage
		s.usage = &u
	}
	if len(c.Choices) == 0 {
		return nil
	}
	if err := s.start(c.ID); err != nil {
		return err
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if err := s.choice(ch); err != nil {
			return err
		}
	}
	return nil
}

// Finish is called at upstream EOF. After "[DONE]", or after a
// finish_reason when "[DONE]" never came, it makes sure the message is
// closed; a stream that ended before any finish_reason was cut and it
// returns an error (the caller ends the client stream, or continues it
// elsewhere).
func (s *OpenAIToAnthropicStream) Finish() error {
	if !s.sawDone && (s.finish == "" || s.failed) {
		return errors.New("translate: openai stream ended before its finish_reason")
	}
	return s.end()
}

// Usage returns the usage seen so far in Anthropic terms: the upstream's
// usage chunk when one arrived, else the input estimate and no output.
func (s *OpenAIToAnthropicStream) Usage() anthropic.Usage {
	if s.usage != nil {
		return UsageToAnthropic(*s.usage)
	}
	return anthropic.Usage{InputTokens: s.inputEstimate}
}

// Done reports whether message_stop was written.
func (s *OpenAIToAnthropicStream) Done() bool { return s.done }

func (s *OpenAIToAnthropicStream) start(chunkID string) error {
	if s.started {
		return nil
	}
	s.started = true
	s.id = "msg_llmux"
	if id := strings.TrimPrefix(chunkID, "chatcmpl-"); id != "" {
		s.id = "msg_" + id
	}
	if err := s.event(anthropic.EventMessageStart, anthropic.MessageStart{
		Type: anthropic.EventMessageStart,
		Message: anthropic.Response{
			ID: s.id, Type: "message", Role: "assistant", Model: s.model,
			Content: []anthropic.ContentBlock{},
			Usage:   anthropic.Usage{InputTokens: s.inputEstimate},
		},
	}); err != nil {
		return err
	}
	return s.event(anthropic.EventPing, anthropic.TypeOnly{Type: anthropic.EventPing})
}

func (s *OpenAIToAnthropicStream) choice(ch openai.ChunkChoice) error {
	d := ch.Delta
	var text string
	if d.Content != nil {
		text = *d.Content
	}
	if d.Refusal != nil && *d.Refusal != "" {
		text += *d.Refusal
		s.refused = true
	}
	if text != "" {
		if err := s.text(text); err != nil {
			return err
		}
	}
	for _, tc := range d.ToolCalls {
		if err := s.toolCall(tc); err != nil {
			return err
		}
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		s.finish = *ch.FinishReason
		return s.closeBlock()
	}
	return nil
}

func (s *OpenAIToAnthropicStream) text(t string) error {
	if s.openKind != anthropic.BlockText {
		if err := s.openBlock(anthropic.ContentBlock{Type: anthropic.BlockText}); err != nil {
			return err
		}
	}
	return s.event(anthropic.EventContentBlockDelta, anthropic.ContentBlockDelta{
		Type: anthropic.EventContentBlockDelta, Index: s.open,
		Delta: anthropic.BlockDelta{Type: anthropic.DeltaText, Text: &t},
	})
}

func (s *OpenAIToAnthropicStream) toolCall(tc openai.ToolCall) error {
	idx, known := s.callIndex(tc)
	if !known {
		id := s.ids.get(toolCallID(tc.ID, s.id, idx))
		if err := s.openBlock(anthropic.ContentBlock{Type: anthropic.BlockToolUse, ID: id, Name: tc.Function.Name}); err != nil {
			return err
		}
		s.calls[idx] = s.open
		s.openCall, s.openCallID = idx, tc.ID
	}
	args := tc.Function.Arguments
	if args == "" {
		return nil
	}
	if s.calls[idx] != s.open {
		return fmt.Errorf("translate: openai stream: arguments for tool call %d arrived after a later block started", idx)
	}
	return s.event(anthropic.EventContentBlockDelta, anthropic.ContentBlockDelta{
		Type: anthropic.EventContentBlockDelta, Index: s.open,
		Delta: anthropic.BlockDelta{Type: anthropic.DeltaInputJSON, PartialJSON: &args},
	})
}

// callIndex returns the OpenAI index of a tool call fragment and whether
// the call was seen before. Some OpenAI-compatible servers leave index
// out: then a new id starts a new call and no id continues the open one.
func (s *OpenAIToAnthropicStream) callIndex(tc openai.ToolCall) (int, bool) {
	if tc.Index != nil {
		_, known := s.calls[*tc.Index]
		return *tc.Index, known
	}
	if s.openCall >= 0 && (tc.ID == "" || tc.ID == s.openCallID) {
		return s.openCall, true
	}
	idx := len(s.calls)
	for {
		if _, taken := s.calls[idx]; !taken {
			return idx, false
		}
		idx++
	}
}

func (s *OpenAIToAnthropicStream) openBlock(b anthropic.ContentBlock) error {
	if err := s.closeBlock(); err != nil {
		return err
	}
	s.open, s.openKind = s.next, b.Type
	s.next++
	return s.event(anthropic.EventContentBlockStart, anthropic.ContentBlockStart{
		Type: anthropic.EventContentBlockStart, Index: s.open, ContentBlock: b,
	})
}

func (s *OpenAIToAnthropicStream) closeBlock() error {
	if s.open < 0 {
		return nil
	}
	index := s.open
	s.open, s.openKind, s.openCall, s.openCallID = -1, "", -1, ""
	return s.event(anthropic.EventContentBlockStop, anthropic.ContentBlockStop{
		Type: anthropic.EventContentBlockStop, Index: index,
	})
}

// end closes the message: open block, message_delta, message_stop.
func (s *OpenAIToAnthropicStream) end() error {
	if s.done {
		return nil
	}
	if err := s.start(""); err != nil {
		return err
	}
	if err := s.closeBlock(); err != nil {
		return err
	}
	stop := StopReason(s.finish)
	if s.refused && stop == anthropic.StopEndTurn {
		stop = anthropic.StopRefusal
	}
	usage := anthropic.DeltaUsage{}
	if s.usage != nil {
		u := UsageToAnthropic(*s.usage)
		usage = anthropic.DeltaUsage{
			InputTokens: &u.InputTokens, OutputTokens: u.OutputTokens,
			CacheCreationInputTokens: &u.CacheCreationInputTokens, CacheReadInputTokens: &u.CacheReadInputTokens,
		}
	}
	if err := s.event(anthropic.EventMessageDelta, anthropic.MessageDelta{
		Type: anthropic.EventMessageDelta, Delta: anthropic.MessageDeltaBody{StopReason: &stop}, Usage: usage,
	}); err != nil {
		return err
	}
	s.done = true
	return s.event(anthropic.EventMessageStop, anthropic.TypeOnly{Type: anthropic.EventMessageStop})
}

func (s *OpenAIToAnthropicStream) fail(data []byte) error {
	s.failed = true
	f := parseOpenAIError(data)
	if f.message == "" {
		f.message = genericMessage(0)
	}
	typ := anthropicKind(0, f)
	if err := s.event(anthropic.EventError, anthropic.ErrorEvent{
		Type: anthropic.EventError, Error: anthropic.Error{Type: typ, Message: f.message},
	}); err != nil {
		return err
	}
	upstreamType := f.code
	if upstreamType == "" {
		upstreamType = f.typ
	}
	return &UpstreamError{Type: upstreamType, Message: f.message}
}

func (s *OpenAIToAnthropicStream) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("translate: encode %s event: %w", name, err)
	}
	return s.w.Event(name, b)
}
