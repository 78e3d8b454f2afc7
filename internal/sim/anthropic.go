package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
)

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	x := s.beginAnthropic(w, r)
	if x == nil {
		return
	}
	defer x.record()
	x.metered = true
	body, e := x.readBody()
	if e == nil {
		var c *messagesCall
		if c, e = decodeMessages(body, false); e == nil {
			x.serveMessages(c)
			return
		}
	}
	x.fail(e)
}

func (s *Server) anthropicCountTokens(w http.ResponseWriter, r *http.Request) {
	x := s.beginAnthropic(w, r)
	if x == nil {
		return
	}
	defer x.record()
	body, e := x.readBody()
	if e == nil {
		var c *messagesCall
		if c, e = decodeMessages(body, true); e == nil {
			x.sendJSON(anthropic.CountTokensResponse{InputTokens: c.prompt})
			return
		}
	}
	x.fail(e)
}

// beginAnthropic authenticates and checks the anthropic-version header.
func (s *Server) beginAnthropic(w http.ResponseWriter, r *http.Request) *exchange {
	x := s.begin(w, r, surface{provider: ProviderAnthropic})
	if x == nil {
		return nil
	}
	if r.Header.Get("anthropic-version") == "" {
		x.fail(badRequest("anthropic-version: header is required"))
		x.record()
		return nil
	}
	return x
}

// blockOut is one content block of a reply, with what streaming needs.
type blockOut struct {
	block  anthropic.ContentBlock
	pieces []string // text tokens
	args   string   // tool_use input JSON
}

func (x *exchange) serveMessages(c *messagesCall) {
	x.arrive(faultReq{model: c.req.Model, stream: c.req.Stream, chat: true, prefill: c.turn.assistantLast, prompt: c.prompt})
	if !x.admit(c.prompt, c.req.Model) {
		return
	}
	f := x.fault()
	if x.replaced(f) {
		return
	}
	o := generate(c.turn, 0)
	if f != nil && f.Kind == FaultContentFilter {
		o = o.refused(f.AfterTokens)
	}
	blocks, total := x.messageBlocks(c.turn, o)
	x.in = c.prompt
	if !c.req.Stream {
		if x.waitWhole(f, total) != nil {
			return
		}
		x.out = total
		x.key.limits.settle(x.s.now(), total)
		x.sendJSON(x.messageResponse(c, o, blocks, total))
		return
	}
	if x.runStream(x.messageEvents(c, o, blocks, total), f) {
		x.out, x.result = total, resultOK
	}
	x.key.limits.settle(x.s.now(), x.out)
}

// messageBlocks lays a reply out as content blocks. With tool_choice auto,
// Claude writes a sentence before its tool calls; with any or tool it does
// not (the API prefills the assistant turn).
func (x *exchange) messageBlocks(t turn, o output) ([]blockOut, int) {
	var blocks []blockOut
	pieces := o.pieces
	if len(o.calls) > 0 && t.choice.mode == "auto" {
		pieces = []string{"I'll", " use", " the", " " + o.calls[0].name, " tool", "."}
	}
	if len(pieces) > 0 {
		blocks = append(blocks, blockOut{
			block:  anthropic.ContentBlock{Type: anthropic.BlockText, Text: output{pieces: pieces}.text()},
			pieces: pieces,
		})
	}
	for _, call := range o.calls {
		blocks = append(blocks, blockOut{
			block: anthropic.ContentBlock{Type: anthropic.BlockToolUse, ID: x.s.toolUseID(), Name: call.name,
				Input: json.RawMessage(call.args)},
			args: call.args,
		})
	}
	total := o.outputTokens()
	if len(o.calls) > 0 {
		total += len(pieces)
	}
	return blocks, max(1, total) // output_tokens is never 0
}

func stopReason(o output) (*string, *string) {
	reason := anthropic.StopEndTurn
	switch o.finish {
	case finishLength:
		reason = anthropic.StopMaxTokens
	case finishTool:
		reason = anthropic.StopToolUse
	case finishRefusal:
		reason = anthropic.StopRefusal
	case finishStopSeq:
		reason = anthropic.StopSequence
		seq := o.stopSeq
		return &reason, &seq
	}
	return &reason, nil
}

func (x *exchange) messageResponse(c *messagesCall, o output, blocks []blockOut, total int) anthropic.Response {
	content := make([]anthropic.ContentBlock, 0, len(blocks))
	for _, b := range blocks {
		content = append(content, b.block)
	}
	reason, seq := stopReason(o)
	return anthropic.Response{
		ID: x.s.messageID(), Type: "message", Role: "assistant", Model: c.req.Model,
		Content: content, StopReason: reason, StopSequence: seq,
		Usage: anthropic.Usage{InputTokens: c.prompt, OutputTokens: total, ServiceTier: "standard"},
	}
}

// messageEvents is the whole Anthropic stream (providers.md §4.4).
func (x *exchange) messageEvents(c *messagesCall, o output, blocks []blockOut, total int) []event {
	start := anthropic.MessageStart{Type: anthropic.EventMessageStart, Message: anthropic.Response{
		ID: x.s.messageID(), Type: "message", Role: "assistant", Model: c.req.Model,
		Content: []anthropic.ContentBlock{},
		Usage:   anthropic.Usage{InputTokens: c.prompt, OutputTokens: 1, ServiceTier: "standard"},
	}}
	ping := newEvent(anthropic.EventPing, anthropic.TypeOnly{Type: anthropic.EventPing}, 0)
	evs := []event{newEvent(anthropic.EventMessageStart, start, 0)}
	if len(blocks) == 0 {
		evs = append(evs, ping)
	}
	for i, b := range blocks {
		be := blockEvents(i, b)
		evs = append(evs, be[0])
		if i == 0 {
			evs = append(evs, ping) // where the API sends it: after the first block starts
		}
		evs = append(evs, be[1:]...)
	}
	reason, seq := stopReason(o)
	zero, prompt := 0, c.prompt
	delta := anthropic.MessageDelta{Type: anthropic.EventMessageDelta,
		Delta: anthropic.MessageDeltaBody{StopReason: reason, StopSequence: seq},
		Usage: anthropic.DeltaUsage{InputTokens: &prompt, OutputTokens: total,
			CacheCreationInputTokens: &zero, CacheReadInputTokens: &zero}}
	return append(evs, newEvent(anthropic.EventMessageDelta, delta, 0),
		newEvent(anthropic.EventMessageStop, anthropic.TypeOnly{Type: anthropic.EventMessageStop}, 0))
}

// blockEvents is content_block_start, the deltas and content_block_stop.
func blockEvents(i int, b blockOut) []event {
	startBlock := b.block
	if startBlock.Type == anthropic.BlockText {
		startBlock.Text = ""
	} else {
		startBlock.Input = nil // encodes as {}
	}
	evs := []event{newEvent(anthropic.EventContentBlockStart,
		anthropic.ContentBlockStart{Type: anthropic.EventContentBlockStart, Index: i, ContentBlock: startBlock}, 0)}
	delta := func(d anthropic.BlockDelta, tokens int) event {
		return newEvent(anthropic.EventContentBlockDelta,
			anthropic.ContentBlockDelta{Type: anthropic.EventContentBlockDelta, Index: i, Delta: d}, tokens)
	}
	texts, counts := chunkPieces(b.pieces, textChunkTokens)
	for j := range texts {
		evs = append(evs, delta(anthropic.BlockDelta{Type: anthropic.DeltaText, Text: &texts[j]}, counts[j]))
	}
	if b.block.Type == anthropic.BlockToolUse {
		frags := append([]string{""}, splitArgs(b.args, argsFragmentBytes)...)
		for _, frag := range frags {
			evs = append(evs, delta(anthropic.BlockDelta{Type: anthropic.DeltaInputJSON, PartialJSON: &frag}, estimate(frag)))
		}
	}
	return append(evs, newEvent(anthropic.EventContentBlockStop,
		anthropic.ContentBlockStop{Type: anthropic.EventContentBlockStop, Index: i}, 0))
}

// anthropicRateLimit is Anthropic's 429 for a rejection (providers.md §4.5).
func anthropicRateLimit(rej *rejection, org string) *apiError {
	unit := map[string]string{dimRequests: "requests", dimInput: "input tokens", dimOutput: "output tokens"}[rej.dim]
	return &apiError{
		status: http.StatusTooManyRequests,
		typ:    anthropic.TypeRateLimit,
		msg: fmt.Sprintf("This request would exceed the rate limit for your organization (%s) of %s %s per minute. "+
			"For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. "+
			"Please reduce the prompt length or the maximum tokens requested, or try again later. "+
			"You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
			org, thousands(rej.limit), unit),
		retryAfter: max(rej.wait, time.Second),
	}
}

// thousands formats n with comma separators, as Anthropic's messages do.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
