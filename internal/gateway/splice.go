package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// Splicing: a continuation attempt's events, already in the client's
// format, are rewritten so that the client sees one answer. The client
// keeps the first attempt's envelope (OpenAI chunk id; Anthropic
// message_start and block indices), and gets only what extends what it
// already has:
//
//   - prefill: the continuation was asked to go on from the text the
//     client has (an assistant prefill), so everything it produces is
//     new; its first text block continues the client's open text block.
//   - regenerate: the continuation answered from scratch; its answer must
//     start with what the client has (text, tool calls, blocks), which is
//     skipped, and only the rest is sent. If it differs, the splice fails
//     and the stream ends with an error event: text the client already
//     has is never contradicted or repeated.
//
// Both modes drop the continuation's own prologue (the role delta, the
// second message_start).

// errDiverged: a regenerated answer does not start with what the client
// already has.
var errDiverged = errors.New("the regenerated answer does not start with the text the client already has")

// spliceMode is how a continuation relates to what the client has.
type spliceMode uint8

const (
	splicePrefill spliceMode = iota + 1
	spliceRegenerate
)

func (m spliceMode) String() string {
	if m == splicePrefill {
		return "prefill"
	}
	return "regenerate"
}

// splicer is the eventWriter of a continuation attempt.
type splicer struct {
	f    format
	w    eventWriter
	t    *transcript
	mode spliceMode
	// trim is whitespace cut from the end of the prefill (Anthropic
	// rejects a final assistant text ending in whitespace); the
	// continuation's text usually starts with it and it is dropped once.
	trim string
	// prefillTokens estimates the prefill's tokens, moved from the
	// continuation's input to its output in the usage the client sees.
	prefillTokens int

	// seen is what the continuation produced so far per part, in
	// regenerate mode (OpenAI: text is part 0, tool call i is the block
	// the transcript gave it; Anthropic: by block index).
	seen map[int]string
	// anthropic, prefill mode: the index the continuation's block 0 maps to,
	// and whether it merges into the client's open text block.
	offset int
	merged bool
	closed bool // the client's open block was closed for a new one
}

func newSplicer(f format, w eventWriter, t *transcript, mode spliceMode, trim string) *splicer {
	s := &splicer{f: f, w: w, t: t, mode: mode, trim: trim, seen: map[int]string{}}
	if mode == splicePrefill {
		s.prefillTokens = (len(t.text()) + 3) / 4
		s.offset = len(t.blocks)
		if n := len(t.blocks); n > 0 && !t.blocks[n-1].closed && t.blocks[n-1].kind == "text" {
			s.offset, s.merged = n-1, true
		}
	}
	return s
}

func (s *splicer) Event(name string, data []byte) error {
	if s.f == formatAnthropic {
		return s.anthropicEvent(name, data)
	}
	return s.openAIEvent(data)
}

// extend returns the part of piece that extends have, given that the
// continuation produced before piece; ok is false when they disagree.
func extend(have, before, piece string) (string, bool) {
	pos := len(before)
	if pos >= len(have) {
		return piece, true
	}
	overlap := have[pos:min(len(have), pos+len(piece))]
	if !strings.HasPrefix(piece, overlap) {
		return "", false
	}
	return piece[len(overlap):], true
}

// cutTrim drops the prefill's trimmed whitespace from the start of the
// continuation's first text.
func (s *splicer) cutTrim(text string) string {
	if s.trim == "" || text == "" {
		return text
	}
	n := 0
	for n < len(text) && n < len(s.trim) && text[n] == s.trim[n] {
		n++
	}
	if n == 0 {
		s.trim = "" // the continuation went another way: keep its text
		return text
	}
	s.trim = s.trim[n:] // the rest may come with the next piece
	return text[n:]
}

func (s *splicer) openAIEvent(data []byte) error {
	if bytes.Equal(data, openai.Done) {
		return s.w.Event("", data)
	}
	var c openAIChunkView
	if json.Unmarshal(data, &c) != nil {
		return s.w.Event("", data)
	}
	out, err := sjson.SetBytes(data, "id", s.t.id)
	if err != nil {
		return err
	}
	if len(c.Choices) == 0 {
		return s.w.Event("", s.openAIUsage(out))
	}
	ch := c.Choices[0]
	keep := ch.FinishReason != nil && *ch.FinishReason != ""
	out, _ = sjson.DeleteBytes(out, "choices.0.delta.role")
	if p := ch.Delta.Content; p != nil {
		text := *p
		if s.mode == spliceRegenerate {
			have := ""
			if len(s.t.blocks) > 0 && s.t.blocks[0].kind == "text" {
				have = s.t.blocks[0].text
			}
			ext, ok := extend(have, s.seen[-1], text)
			if !ok {
				return errDiverged
			}
			s.seen[-1] += text
			text = ext
		} else {
			text = s.cutTrim(text)
		}
		if text == "" {
			out, _ = sjson.DeleteBytes(out, "choices.0.delta.content")
		} else {
			keep = true
			out, _ = sjson.SetBytes(out, "choices.0.delta.content", text)
		}
	}
	for i, tc := range ch.Delta.ToolCalls {
		path := fmt.Sprintf("choices.0.delta.tool_calls.%d", i)
		bi, had := s.t.calls[tc.Index]
		if s.mode == splicePrefill || !had {
			keep = true
			continue
		}
		b := s.t.blocks[bi]
		// The client has this call: keep its id, compare the rest.
		if tc.Function.Name != "" && tc.Function.Name != b.name {
			return errDiverged
		}
		ext, ok := extend(b.text, s.seen[bi], tc.Function.Arguments)
		if !ok {
			return errDiverged
		}
		s.seen[bi] += tc.Function.Arguments
		if ext == "" {
			out, _ = sjson.SetRawBytes(out, path, []byte(fmt.Sprintf(`{"index":%d,"function":{"arguments":""}}`, tc.Index)))
			continue
		}
		keep = true
		frag, _ := json.Marshal(ext)
		out, _ = sjson.SetRawBytes(out, path, []byte(fmt.Sprintf(`{"index":%d,"function":{"arguments":%s}}`, tc.Index, frag)))
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" && s.mode == spliceRegenerate && !s.caughtUp() {
		return errDiverged // it ended before reaching what the client has
	}
	if !keep {
		return nil
	}
	return s.w.Event("", out)
}

// caughtUp reports whether a regenerated answer has reproduced all the
// client has.
func (s *splicer) caughtUp() bool {
	for i, b := range s.t.blocks {
		key := i
		if s.f == formatOpenAI && b.kind == "text" {
			key = -1
		}
		if len(s.seen[key]) < len(b.text) {
			return false
		}
	}
	return true
}

// openAIUsage moves the prefill's tokens from prompt to completion in a
// usage chunk, so the client sees the usage of one answer.
func (s *splicer) openAIUsage(data []byte) []byte {
	n := int64(s.prefillTokens)
	if n == 0 || !gjson.GetBytes(data, "usage.completion_tokens").Exists() {
		return data
	}
	prompt := gjson.GetBytes(data, "usage.prompt_tokens").Int()
	data, _ = sjson.SetBytes(data, "usage.prompt_tokens", max(prompt-n, 0))
	data, _ = sjson.SetBytes(data, "usage.completion_tokens", gjson.GetBytes(data, "usage.completion_tokens").Int()+n)
	return data
}

func (s *splicer) anthropicEvent(name string, data []byte) error {
	var e anthropicEventView
	if json.Unmarshal(data, &e) != nil {
		return s.w.Event(name, data)
	}
	switch name {
	case anthropic.EventMessageStart:
		return nil // the client has its message
	case anthropic.EventContentBlockStart:
		return s.anthropicStart(e, data)
	case anthropic.EventContentBlockDelta:
		return s.anthropicDelta(e, data)
	case anthropic.EventContentBlockStop:
		return s.anthropicStop(e, data)
	case anthropic.EventMessageDelta:
		if s.mode == spliceRegenerate && !s.caughtUp() {
			return errDiverged
		}
		if s.mode == splicePrefill {
			// A continuation with nothing to add still closes the
			// client's open block.
			if err := s.closeOpen(); err != nil {
				return err
			}
		}
		if n := int64(s.prefillTokens); n > 0 {
			data, _ = sjson.SetBytes(data, "usage.output_tokens", gjson.GetBytes(data, "usage.output_tokens").Int()+n)
			if in := gjson.GetBytes(data, "usage.input_tokens"); in.Exists() && in.Type == gjson.Number {
				data, _ = sjson.SetBytes(data, "usage.input_tokens", max(in.Int()-n, 0))
			}
		}
	}
	return s.w.Event(name, data)
}

// index maps a continuation block index to the client's.
func (s *splicer) index(i int) int {
	if s.mode == spliceRegenerate {
		return i
	}
	return s.offset + i
}

func (s *splicer) anthropicStart(e anthropicEventView, data []byte) error {
	if s.mode == spliceRegenerate {
		if e.Index < len(s.t.blocks) {
			b := s.t.blocks[e.Index]
			if e.ContentBlock == nil || e.ContentBlock.Type != b.kind || b.name != "" && e.ContentBlock.Name != b.name {
				return errDiverged
			}
			return nil // the client has this block's start
		}
		return s.w.Event(anthropic.EventContentBlockStart, data)
	}
	if e.Index == 0 && s.merged {
		if e.ContentBlock != nil && e.ContentBlock.Type == "text" {
			return nil // continues the client's open text block
		}
		// Something else comes first: close the client's text block.
		s.merged = false
		s.offset++
		if err := s.closeOpen(); err != nil {
			return err
		}
	}
	out, _ := sjson.SetBytes(data, "index", s.index(e.Index))
	return s.w.Event(anthropic.EventContentBlockStart, out)
}

// closeOpen closes the client's open block before a new one starts.
func (s *splicer) closeOpen() error {
	n := len(s.t.blocks)
	if n == 0 || s.t.blocks[n-1].closed || s.closed {
		return nil
	}
	s.closed = true
	b, _ := json.Marshal(anthropic.ContentBlockStop{Type: anthropic.EventContentBlockStop, Index: n - 1})
	return s.w.Event(anthropic.EventContentBlockStop, b)
}

func (s *splicer) anthropicDelta(e anthropicEventView, data []byte) error {
	if e.Delta == nil {
		return nil
	}
	piece := e.Delta.Text + e.Delta.PartialJSON + e.Delta.Thinking
	field := "delta.text"
	switch e.Delta.Type {
	case "input_json_delta":
		field = "delta.partial_json"
	case "thinking_delta":
		field = "delta.thinking"
	}
	if s.mode == spliceRegenerate {
		if e.Index < len(s.t.blocks) {
			ext, ok := extend(s.t.blocks[e.Index].text, s.seen[e.Index], piece)
			s.seen[e.Index] += piece
			if !ok || ext != "" && s.t.blocks[e.Index].closed {
				return errDiverged
			}
			if ext == "" {
				return nil
			}
			out, _ := sjson.SetBytes(data, field, ext)
			return s.w.Event(anthropic.EventContentBlockDelta, out)
		}
		return s.w.Event(anthropic.EventContentBlockDelta, data)
	}
	if e.Delta.Type == "text_delta" && s.trim != "" {
		piece = s.cutTrim(piece)
		if piece == "" {
			return nil
		}
		data, _ = sjson.SetBytes(data, field, piece)
	}
	out, _ := sjson.SetBytes(data, "index", s.index(e.Index))
	return s.w.Event(anthropic.EventContentBlockDelta, out)
}

func (s *splicer) anthropicStop(e anthropicEventView, data []byte) error {
	if s.mode == spliceRegenerate && e.Index < len(s.t.blocks) {
		b := s.t.blocks[e.Index]
		if len(s.seen[e.Index]) < len(b.text) {
			return errDiverged
		}
		if b.closed {
			return nil
		}
		return s.w.Event(anthropic.EventContentBlockStop, data)
	}
	i := s.index(e.Index)
	if n := len(s.t.blocks); i == n-1 && !s.t.blocks[n-1].closed {
		s.closed = true // the continuation closes the client's open block
	}
	out, _ := sjson.SetBytes(data, "index", i)
	return s.w.Event(anthropic.EventContentBlockStop, out)
}
