package sim

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/llmux/llmux/internal/api/openai"
)

// textChunkTokens is how many tokens one streamed text chunk carries.
const textChunkTokens = 2

// argsFragmentBytes is the size of one streamed tool-argument fragment.
const argsFragmentBytes = 8

func (s *Server) openaiChat(w http.ResponseWriter, r *http.Request) {
	s.chat(w, r, surface{provider: ProviderOpenAI})
}

// chat serves chat completions for OpenAI and Azure: authenticate,
// validate, charge the limits, apply faults, wait, answer.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, sf surface) {
	x := s.begin(w, r, sf)
	if x == nil {
		return
	}
	defer x.record()
	x.metered = true
	body, e := x.readBody()
	if e == nil {
		var c *chatCall
		if c, e = decodeChat(body, sf.deployment == ""); e == nil {
			x.serveChat(c)
			return
		}
	}
	x.fail(e)
}

func (x *exchange) serveChat(c *chatCall) {
	model := c.req.Model
	if x.sf.deployment != "" {
		model = x.sf.deployment
	}
	x.arrive(faultReq{model: model, stream: c.req.Stream, chat: true, prefill: c.turn.assistantLast, prompt: c.prompt})
	if !x.admit(c.charge(), model) {
		return
	}
	f := x.fault()
	if x.replaced(f) {
		return
	}
	outs := make([]output, c.n)
	total := 0
	for i := range outs {
		outs[i] = generate(c.turn, i)
		total += outs[i].outputTokens()
	}
	if !c.req.Stream {
		if x.waitWhole(f, total) != nil {
			return
		}
		x.in, x.out = c.prompt, total
		x.sendJSON(x.chatResponse(model, c.prompt, outs))
		return
	}
	x.in = c.prompt
	if x.runStream(x.chatEvents(c, model, outs), f) {
		x.out, x.result = total, resultOK
	}
}

// usage is the complete OpenAI usage object.
func usage(prompt, completion int) *openai.Usage {
	return &openai.Usage{
		PromptTokens:            prompt,
		CompletionTokens:        completion,
		TotalTokens:             prompt + completion,
		PromptTokensDetails:     &openai.PromptTokensDetails{},
		CompletionTokensDetails: &openai.CompletionTokensDetails{},
	}
}

func finishReason(o output) string {
	switch o.finish {
	case finishLength:
		return openai.FinishLength
	case finishTool:
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

func (x *exchange) chatResponse(model string, prompt int, outs []output) openai.ChatResponse {
	resp := openai.ChatResponse{
		ID:                x.s.chatID(),
		Object:            openai.ObjectChatCompletion,
		Created:           x.s.now().Unix(),
		Model:             model,
		SystemFingerprint: x.s.fingerprint,
		ServiceTier:       "default",
	}
	completion := 0
	for i, o := range outs {
		completion += o.outputTokens()
		msg := openai.ResponseMessage{Role: "assistant", Annotations: json.RawMessage("[]")}
		if len(o.calls) == 0 {
			text := o.text()
			msg.Content = &text
		}
		for _, call := range o.calls {
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{ID: x.s.callID(), Type: "function",
				Function: openai.FunctionCall{Name: call.name, Arguments: call.args}})
		}
		resp.Choices = append(resp.Choices, openai.Choice{Index: i, Message: msg, FinishReason: finishReason(o)})
	}
	resp.Usage = usage(prompt, completion)
	if x.sf.provider == ProviderAzure {
		azureDecorate(&resp)
	}
	return resp
}

// chunkStep is one choice's delta in a stream, before interleaving.
type chunkStep struct {
	choice openai.ChunkChoice
	tokens int
}

// chatEvents is the whole OpenAI (or Azure) stream for outs.
func (x *exchange) chatEvents(c *chatCall, model string, outs []output) []event {
	base := openai.ChatChunk{ID: x.s.chatID(), Object: openai.ObjectChunk, Created: x.s.now().Unix(),
		Model: model, SystemFingerprint: x.s.fingerprint}
	if c.includeUsage() {
		base.Usage = json.RawMessage("null")
	}
	azure := x.sf.provider == ProviderAzure
	var evs []event
	if azure {
		evs = append(evs, newEvent("", azureFirstChunk(), 0))
	}
	steps := make([][]chunkStep, len(outs))
	completion := 0
	for i, o := range outs {
		steps[i] = x.choiceSteps(i, o, azure)
		completion += o.outputTokens()
	}
	// Choices are interleaved, distinguished by index (providers.md §1.5).
	for k := 0; ; k++ {
		more := false
		for i := range steps {
			if k < len(steps[i]) {
				more = true
				chunk := base
				chunk.Choices = []openai.ChunkChoice{steps[i][k].choice}
				evs = append(evs, newEvent("", chunk, steps[i][k].tokens))
			}
		}
		if !more {
			break
		}
	}
	if c.includeUsage() {
		chunk := base
		chunk.Choices = []openai.ChunkChoice{}
		u, _ := json.Marshal(usage(c.prompt, completion))
		chunk.Usage = u
		evs = append(evs, newEvent("", chunk, 0))
	}
	return append(evs, event{data: openai.Done})
}

// choiceSteps is one choice's deltas: the role, the content or tool-call
// fragments, and the finish.
func (x *exchange) choiceSteps(i int, o output, azure bool) []chunkStep {
	empty := ""
	step := func(d openai.Delta, tokens int, filter json.RawMessage) chunkStep {
		cc := openai.ChunkChoice{Index: i, Delta: d}
		if azure {
			cc.ContentFilterResults = filter
		}
		return chunkStep{choice: cc, tokens: tokens}
	}
	steps := []chunkStep{step(openai.Delta{Role: "assistant", Content: &empty}, 0, json.RawMessage("{}"))}
	texts, counts := chunkPieces(o.pieces, textChunkTokens)
	for j := range texts {
		steps = append(steps, step(openai.Delta{Content: &texts[j]}, counts[j], azureOutputFilter()))
	}
	for k, call := range o.calls {
		first := openai.ToolCall{Index: &k, ID: x.s.callID(), Type: "function",
			Function: openai.FunctionCall{Name: call.name}}
		steps = append(steps, step(openai.Delta{ToolCalls: []openai.ToolCall{first}}, 1, json.RawMessage("{}")))
		for _, frag := range splitArgs(call.args, argsFragmentBytes) {
			tc := openai.ToolCall{Index: &k, Function: openai.FunctionCall{Arguments: frag}}
			steps = append(steps, step(openai.Delta{ToolCalls: []openai.ToolCall{tc}}, estimate(frag), json.RawMessage("{}")))
		}
	}
	reason := finishReason(o)
	last := step(openai.Delta{}, 0, json.RawMessage("{}"))
	last.choice.FinishReason = &reason
	return append(steps, last)
}

// openaiRateLimit is OpenAI's 429 for a rejection (providers.md §1.6).
func openaiRateLimit(rej *rejection, model string) *apiError {
	unit, abbr := "tokens", "TPM"
	if rej.dim == dimRequests {
		unit, abbr = "requests", "RPM"
	}
	e := &apiError{status: http.StatusTooManyRequests, typ: rej.dim, code: "rate_limit_exceeded"}
	if rej.tooLarge {
		e.msg = fmt.Sprintf("Request too large for %s in organization org-sim on %s per min (%s): Limit %d, Requested %d. "+
			"The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
			model, unit, abbr, rej.limit, rej.requested)
		return e
	}
	e.msg = fmt.Sprintf("Rate limit reached for %s in organization org-sim on %s per min (%s): Limit %d, Used %d, Requested %d. "+
		"Please try again in %s. Visit https://platform.openai.com/account/rate-limits to learn more.",
		model, unit, abbr, rej.limit, rej.used, rej.requested, goDuration(rej.wait))
	e.retryAfter = rej.wait
	return e
}
