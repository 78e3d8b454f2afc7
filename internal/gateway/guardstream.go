package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/sjson"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/guard"
)

// eventWriter takes client events; *sse.Writer is one, guardedStream
// another in front of it.
type eventWriter interface {
	Event(name string, data []byte) error
}

// maxCheckedText bounds the answer text kept for post_call checks on a
// stream; past it the report says the check saw a prefix only.
const maxCheckedText = 4 << 20

// guardedStream sits between a streamer and the client on calls with
// redacted secrets or post_call guardrails. It puts secrets back into the
// text deltas (holding back a possible placeholder cut between two
// events), and at the end of the stream runs the post_call checks on the
// whole answer text and reports them in the last event: an extra chunk
// before [DONE] (OpenAI), a field of message_stop (Anthropic). What was
// already streamed cannot be recalled, so a failed check is reported,
// not enforced: the report says so ("enforced": false). A stream that
// ends early reports nothing: the checks never claim what they did not
// see.
type guardedStream struct {
	ctx   context.Context
	w     eventWriter
	f     format
	vault *guard.Vault
	post  []*guard.Rule

	restorers map[int]*guard.StreamRestorer
	text      strings.Builder
	truncated bool
	// id, model and created of the last OpenAI chunk, for the report chunk.
	last struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Created int64  `json:"created"`
	}
}

// guardStream wraps w when the call needs it, else returns w.
func (g *Gateway) guardStream(ctx context.Context, c *call, p *payload, w eventWriter) eventWriter {
	var post []*guard.Rule
	if c.guards != nil {
		post = c.guards.post
	}
	if p.vault == nil && len(post) == 0 {
		return w
	}
	return &guardedStream{ctx: ctx, w: w, f: c.f, vault: p.vault, post: post, restorers: map[int]*guard.StreamRestorer{}}
}

func (s *guardedStream) Event(name string, data []byte) error {
	if s.f == formatAnthropic {
		return s.anthropicEvent(name, data)
	}
	return s.openAIEvent(data)
}

// openAIChunk is the part of a chunk the guard reads.
type openAIChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Created int64  `json:"created"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

func (s *guardedStream) openAIEvent(data []byte) error {
	if bytes.Equal(data, openai.Done) {
		if err := s.openAIReport(); err != nil {
			return err
		}
		return s.w.Event("", data)
	}
	var ch openAIChunk
	if json.Unmarshal(data, &ch) != nil {
		return s.w.Event("", data)
	}
	s.last.ID, s.last.Model, s.last.Created = ch.ID, ch.Model, ch.Created
	for i, c := range ch.Choices {
		text, has := "", c.Delta.Content != nil
		if has {
			text = *c.Delta.Content
			if c.Index == 0 {
				s.keep(text)
			}
		}
		if s.vault == nil {
			continue
		}
		r := s.restorer(c.Index)
		out := r.Push(text)
		if c.FinishReason != nil {
			out += r.Flush()
		}
		if has || out != "" {
			var err error
			if data, err = sjson.SetBytes(data, "choices."+strconv.Itoa(i)+".delta.content", out); err != nil {
				return err
			}
		}
	}
	return s.w.Event("", data)
}

// openAIReport writes the post_call results as a chunk without choices.
func (s *guardedStream) openAIReport() error {
	if len(s.post) == 0 {
		return nil
	}
	chunk := map[string]any{"id": s.last.ID, "object": "chat.completion.chunk", "created": s.last.Created,
		"model": s.last.Model, "choices": []any{}, "llmux_guardrails": s.report()}
	data, err := marshal(chunk)
	if err != nil {
		return err
	}
	return s.w.Event("", data)
}

// anthropicDelta is the part of a content_block_delta the guard reads.
type anthropicDelta struct {
	Index int `json:"index"`
	Delta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
}

func (s *guardedStream) anthropicEvent(name string, data []byte) error {
	switch name {
	case anthropic.EventContentBlockDelta:
		var d anthropicDelta
		if json.Unmarshal(data, &d) != nil || d.Delta.Type != "text_delta" {
			break
		}
		s.keep(d.Delta.Text)
		if s.vault == nil {
			break
		}
		out := s.restorer(d.Index).Push(d.Delta.Text)
		var err error
		if data, err = sjson.SetBytes(data, "delta.text", out); err != nil {
			return err
		}
	case anthropic.EventContentBlockStop:
		if err := s.flushBlock(data); err != nil {
			return err
		}
	case anthropic.EventMessageStop:
		if len(s.post) > 0 {
			var err error
			if data, err = sjson.SetBytes(data, "llmux_guardrails", s.report()); err != nil {
				return err
			}
		}
	}
	return s.w.Event(name, data)
}

// flushBlock writes what a block's restorer still holds as one more text
// delta, before the block's stop event.
func (s *guardedStream) flushBlock(stop []byte) error {
	var b struct {
		Index int `json:"index"`
	}
	if s.vault == nil || json.Unmarshal(stop, &b) != nil {
		return nil
	}
	r := s.restorers[b.Index]
	if r == nil {
		return nil
	}
	rest := r.Flush()
	if rest == "" {
		return nil
	}
	data, err := marshal(map[string]any{"type": anthropic.EventContentBlockDelta, "index": b.Index,
		"delta": map[string]string{"type": "text_delta", "text": rest}})
	if err != nil {
		return err
	}
	return s.w.Event(anthropic.EventContentBlockDelta, data)
}

func (s *guardedStream) restorer(i int) *guard.StreamRestorer {
	r := s.restorers[i]
	if r == nil {
		r = s.vault.NewStream()
		s.restorers[i] = r
	}
	return r
}

// keep accumulates answer text (with placeholders, never secrets) for
// the post_call checks.
func (s *guardedStream) keep(t string) {
	if len(s.post) == 0 || s.truncated {
		return
	}
	if s.text.Len()+len(t) > maxCheckedText {
		s.truncated = true
		return
	}
	s.text.WriteString(t)
}

// streamReport is the post_call verdict in a stream's last event.
type streamReport struct {
	Checked []string     `json:"checked"`
	Failed  []failedRule `json:"failed"`
	// Enforced is always false on a stream: the answer was already sent.
	Enforced bool `json:"enforced"`
	// Partial: the answer was longer than the checks keep; they saw its
	// first 4 MiB.
	Partial bool `json:"partial,omitempty"`
}

// failedRule is one failed check in a report.
type failedRule struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func (s *guardedStream) report() streamReport {
	r := streamReport{Failed: []failedRule{}, Partial: s.truncated}
	for _, f := range guard.Run(s.ctx, s.post, hookPost, s.text.String()) {
		r.Failed = append(r.Failed, failedRule{Rule: f.Rule, Action: f.Action, Reason: f.Reason})
	}
	for _, rule := range s.post {
		r.Checked = append(r.Checked, rule.Name)
	}
	return r
}
