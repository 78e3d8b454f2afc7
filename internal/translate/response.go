package translate

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// AnthropicResponseToOpenAI converts a non-streamed Anthropic message into
// an OpenAI chat completion created now; see AnthropicResponseToOpenAIAt.
func AnthropicResponseToOpenAI(resp *anthropic.Response, model string) *openai.ChatResponse {
	return AnthropicResponseToOpenAIAt(resp, model, time.Now())
}

// AnthropicResponseToOpenAIAt converts a non-streamed Anthropic message into
// an OpenAI chat completion with the given creation time. model is what
// the client asked for (the route name). The id is "chatcmpl-" followed by
// the message id without its "msg_" prefix. Text blocks are concatenated
// into content (null when the reply is only tool calls), tool_use blocks
// become tool_calls, thinking and server-tool blocks are dropped.
func AnthropicResponseToOpenAIAt(resp *anthropic.Response, model string, created time.Time) *openai.ChatResponse {
	if resp == nil {
		resp = &anthropic.Response{}
	}
	msg := openai.ResponseMessage{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for _, b := range resp.Content {
		switch b.Type {
		case anthropic.BlockText:
			text.WriteString(b.Text)
			hasText = true
		case anthropic.BlockToolUse:
			args, err := inputToArguments(b.Input)
			if err != nil {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
				ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: args},
			})
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if resp.StopReason != nil {
		stop = *resp.StopReason
	}
	usage := UsageToOpenAI(resp.Usage)
	return &openai.ChatResponse{
		ID:      "chatcmpl-" + strings.TrimPrefix(resp.ID, "msg_"),
		Object:  openai.ObjectChatCompletion,
		Created: created.Unix(),
		Model:   model,
		Choices: []openai.Choice{{Index: 0, Message: msg, FinishReason: FinishReason(stop)}},
		Usage:   &usage,
	}
}

// OpenAIResponseToAnthropic converts a non-streamed OpenAI chat completion
// into an Anthropic message. model is what the client asked for. Only the
// first choice is used. The id is "msg_" followed by the completion id
// without its "chatcmpl-" prefix. The content is a text block (the text, or
// the refusal) followed by a tool_use block per tool call; tool call ids are
// sanitised as in requests, and arguments that are not a JSON object are
// kept as {"_raw_arguments": "<the string>"} since an input must be an
// object. A refusal sets stop_reason refusal; stop_sequence is null
// because OpenAI does not say which stop sequence matched.
func OpenAIResponseToAnthropic(resp *openai.ChatResponse, model string) *anthropic.Response {
	out := &anthropic.Response{
		Type:    "message",
		Role:    "assistant",
		Model:   model,
		Content: []anthropic.ContentBlock{},
	}
	if resp == nil {
		resp = &openai.ChatResponse{}
	}
	out.ID = "msg_" + strings.TrimPrefix(resp.ID, "chatcmpl-")
	if resp.Usage != nil {
		out.Usage = UsageToAnthropic(*resp.Usage)
	}
	stop := anthropic.StopEndTurn
	if len(resp.Choices) > 0 {
		ch := resp.Choices[0]
		stop = StopReason(ch.FinishReason)
		var refused bool
		out.Content, refused = messageToAnthropic(ch.Message, out.ID)
		if refused {
			stop = anthropic.StopRefusal
		}
	}
	out.StopReason = &stop
	return out
}

// messageToAnthropic returns the blocks of an assistant message, and
// whether it was a refusal.
func messageToAnthropic(m openai.ResponseMessage, msgID string) ([]anthropic.ContentBlock, bool) {
	blocks := []anthropic.ContentBlock{}
	refused := false
	switch {
	case m.Content != nil && *m.Content != "":
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: *m.Content})
	case m.Refusal != nil && *m.Refusal != "":
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: *m.Refusal})
		refused = true
	}
	ids := newToolIDs()
	for i, tc := range m.ToolCalls {
		blocks = append(blocks, anthropic.ContentBlock{
			Type:  anthropic.BlockToolUse,
			ID:    ids.get(toolCallID(tc.ID, msgID, i)),
			Name:  tc.Function.Name,
			Input: argumentsToInput(tc.Function.Arguments),
		})
	}
	return blocks, refused
}

// toolCallID returns id, or one made from the message id when a server
// sent none.
func toolCallID(id, msgID string, i int) string {
	if id != "" {
		return id
	}
	return "toolu_" + strings.TrimPrefix(msgID, "msg_") + "_" + strconv.Itoa(i)
}

// argumentsToInput parses a model's tool arguments into an input object;
// what is not a JSON object is wrapped as {"_raw_arguments": "..."}.
func argumentsToInput(args string) json.RawMessage {
	input, err := parseArguments(args)
	if err == nil {
		return input
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"_raw_arguments": args})
	return bytes.TrimSpace(buf.Bytes())
}
