package gateway

import (
	"bytes"
	"encoding/json"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// transcript is what the client has of a streamed answer, read back from
// the events it was sent (in its own format, before secrets were put
// back): the text, the tool calls or content blocks so far, and the ids a
// continuation must keep. It is built only when a stream breaks, so the
// relay's hot path merely records events.
type transcript struct {
	// ok: the stream can be continued (one choice, parsed).
	ok bool
	// id is the OpenAI chunk id, or the Anthropic message id.
	id string
	// blocks are the answer's parts in order. OpenAI: the text (index 0,
	// when any) and then each tool call; Anthropic: its content blocks.
	blocks []block
	// finished: the client already got the finish (finish_reason, or
	// message_delta with a stop_reason).
	finished bool
	// openAI tool calls: call index -> blocks index.
	calls map[int]int
}

// block is one part of an answer.
type block struct {
	kind string // "text", "tool_use", "thinking", other Anthropic types
	// text is the text, a tool call's arguments so far, or a thinking
	// block's thinking.
	text     string
	id, name string
	closed   bool
}

// textOnly reports whether the answer so far is plain text, which an
// assistant prefill can carry.
func (t *transcript) textOnly() bool {
	for _, b := range t.blocks {
		if b.kind != "text" {
			return false
		}
	}
	return true
}

// text is the answer's text so far.
func (t *transcript) text() string {
	var n int
	for _, b := range t.blocks {
		n += len(b.text)
	}
	buf := make([]byte, 0, n)
	for _, b := range t.blocks {
		if b.kind == "text" {
			buf = append(buf, b.text...)
		}
	}
	return string(buf)
}

// size is how many bytes of answer (text and tool arguments) the client
// has, for the attempt log.
func (t *transcript) size() int {
	n := 0
	for _, b := range t.blocks {
		n += len(b.text)
	}
	return n
}

// readTranscript parses recorded client events.
func readTranscript(f format, events []recorded) *transcript {
	t := &transcript{ok: true, calls: map[int]int{}}
	for _, ev := range events {
		if f == formatAnthropic {
			t.anthropicEvent(ev)
		} else {
			t.openAIEvent(ev)
		}
		if !t.ok {
			break
		}
	}
	return t
}

// openAIChunkView is the part of a chunk a transcript reads.
type openAIChunkView struct {
	ID      string `json:"id"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string `json:"content"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

func (t *transcript) openAIEvent(ev recorded) {
	if bytes.Equal(ev.data, openai.Done) {
		return
	}
	var c openAIChunkView
	if json.Unmarshal(ev.data, &c) != nil {
		return // the client got it as it was; nothing to learn
	}
	if t.id == "" {
		t.id = c.ID
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			t.ok = false // n > 1: no continuation
			return
		}
		if s := ch.Delta.Content; s != nil && *s != "" {
			if len(t.blocks) == 0 || t.blocks[0].kind != "text" {
				t.blocks = append([]block{{kind: "text"}}, t.blocks...)
				for k := range t.calls {
					t.calls[k]++
				}
			}
			t.blocks[0].text += *s
		}
		for _, tc := range ch.Delta.ToolCalls {
			i, ok := t.calls[tc.Index]
			if !ok {
				t.blocks = append(t.blocks, block{kind: "tool_use"})
				i = len(t.blocks) - 1
				t.calls[tc.Index] = i
			}
			b := &t.blocks[i]
			if tc.ID != "" {
				b.id = tc.ID
			}
			b.name += tc.Function.Name
			b.text += tc.Function.Arguments
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			t.finished = true
		}
	}
}

// anthropicEventView is the part of an Anthropic event a transcript reads.
type anthropicEventView struct {
	Message *struct {
		ID string `json:"id"`
	} `json:"message"`
	Index        int `json:"index"`
	ContentBlock *struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Thinking string `json:"thinking"`
	} `json:"content_block"`
	Delta *struct {
		Type        string  `json:"type"`
		Text        string  `json:"text"`
		PartialJSON string  `json:"partial_json"`
		Thinking    string  `json:"thinking"`
		StopReason  *string `json:"stop_reason"`
	} `json:"delta"`
}

func (t *transcript) anthropicEvent(ev recorded) {
	var e anthropicEventView
	if json.Unmarshal(ev.data, &e) != nil {
		return
	}
	switch ev.name {
	case anthropic.EventMessageStart:
		if e.Message != nil {
			t.id = e.Message.ID
		}
	case anthropic.EventContentBlockStart:
		if e.ContentBlock == nil || e.Index != len(t.blocks) {
			t.ok = false
			return
		}
		cb := e.ContentBlock
		t.blocks = append(t.blocks, block{kind: cb.Type, text: cb.Text + cb.Thinking, id: cb.ID, name: cb.Name})
	case anthropic.EventContentBlockDelta:
		if e.Delta == nil || e.Index < 0 || e.Index >= len(t.blocks) {
			t.ok = false
			return
		}
		t.blocks[e.Index].text += e.Delta.Text + e.Delta.PartialJSON + e.Delta.Thinking
	case anthropic.EventContentBlockStop:
		if e.Index >= 0 && e.Index < len(t.blocks) {
			t.blocks[e.Index].closed = true
		}
	case anthropic.EventMessageDelta:
		if e.Delta != nil && e.Delta.StopReason != nil {
			t.finished = true
		}
	}
}
