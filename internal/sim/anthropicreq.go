package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/llmux/llmux/internal/api/anthropic"
)

// messagesCall is a decoded, validated Messages (or count_tokens) request.
type messagesCall struct {
	req    anthropic.MessagesRequest
	turn   turn
	prompt int // input token estimate
}

// badRequest is Anthropic's 400 invalid_request_error.
func badRequest(format string, args ...any) *apiError {
	return &apiError{status: 400, typ: anthropic.TypeInvalidRequest, msg: fmt.Sprintf(format, args...)}
}

// decodeMessages decodes and validates a Messages body the way Anthropic
// does. countOnly is for count_tokens, which has no max_tokens.
func decodeMessages(body []byte, countOnly bool) (*messagesCall, *apiError) {
	c := &messagesCall{}
	if err := json.Unmarshal(body, &c.req); err != nil {
		return nil, anthropicDecodeError(err)
	}
	req := &c.req
	switch {
	case req.Model == "":
		return nil, badRequest("model: Field required")
	case !countOnly && req.MaxTokens == nil:
		return nil, badRequest("max_tokens: Field required")
	case !countOnly && *req.MaxTokens < 0:
		return nil, badRequest("max_tokens: Input should be greater than or equal to 0")
	case req.Messages == nil:
		return nil, badRequest("messages: Field required")
	case len(req.Messages) == 0:
		return nil, badRequest("messages: at least one message is required")
	case req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 1):
		return nil, badRequest("temperature: Input should be between 0 and 1")
	}
	for _, check := range []func(*anthropic.MessagesRequest) *apiError{checkTurns, checkToolResults, checkAnthropicTools} {
		if e := check(req); e != nil {
			return nil, e
		}
	}
	choice, e := anthropicToolChoice(req)
	if e != nil {
		return nil, e
	}
	c.turn = anthropicTurn(req, choice)
	c.prompt = messagesPromptTokens(req)
	return c, nil
}

// anthropicDecodeError maps a JSON decoding error to Anthropic's 400.
func anthropicDecodeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return badRequest("%s: Input should be a valid %s", te.Field, pydanticType(te.Type.Kind().String()))
	case errors.As(err, &se):
		return badRequest("The request body is not valid JSON: %s (char %d)", se.Error(), se.Offset)
	case errors.As(err, &te):
		return badRequest("Input should be a valid dictionary")
	}
	return badRequest("%s", err.Error())
}

func pydanticType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "map", "struct", "ptr":
		return "dictionary"
	case "float32", "float64":
		return "number"
	}
	return "integer"
}

// checkTurns checks roles and text blocks.
func checkTurns(req *anthropic.MessagesRequest) *apiError {
	for i, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return badRequest("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		if m.Content.Text == nil && m.Content.Blocks == nil {
			return badRequest("messages.%d.content: Field required", i)
		}
		for _, b := range m.Content.AsBlocks() {
			switch {
			case b.Type == anthropic.BlockText && b.Text == "":
				return badRequest("messages: text content blocks must be non-empty")
			case b.Type == anthropic.BlockText && strings.TrimSpace(b.Text) == "":
				return badRequest("messages: text content blocks must contain non-whitespace text")
			case b.Type == "":
				return badRequest("messages.%d.content: each content block needs a type", i)
			}
		}
	}
	// The real API refuses a prefill ending in whitespace instead of
	// trimming it (observed 400s, e.g. tailcallhq/forgecode#1872).
	last := req.Messages[len(req.Messages)-1]
	if blocks := last.Content.AsBlocks(); last.Role == "assistant" && len(blocks) > 0 {
		if b := blocks[len(blocks)-1]; b.Type == anthropic.BlockText && strings.TrimRightFunc(b.Text, unicode.IsSpace) != b.Text {
			return badRequest("messages: final assistant content cannot end with trailing whitespace")
		}
	}
	return nil
}

// checkToolResults enforces that each tool_use is answered by a
// tool_result in the very next message, and that results answer calls.
func checkToolResults(req *anthropic.MessagesRequest) *apiError {
	var uses []string
	for i, m := range req.Messages {
		results := map[string]bool{}
		for j, b := range m.Content.AsBlocks() {
			if b.Type != anthropic.BlockToolResult {
				continue
			}
			if !contains(uses, b.ToolUseID) {
				return badRequest("messages.%d.content.%d: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, j, b.ToolUseID)
			}
			results[b.ToolUseID] = true
		}
		var missing []string
		for _, id := range uses {
			if !results[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			return badRequest("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i, strings.Join(missing, ", "))
		}
		uses = nil
		for _, b := range m.Content.AsBlocks() {
			if b.Type == anthropic.BlockToolUse && m.Role == "assistant" {
				uses = append(uses, b.ID)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func checkAnthropicTools(req *anthropic.MessagesRequest) *apiError {
	for i, t := range req.Tools {
		switch {
		case t.Name == "":
			return badRequest("tools.%d.name: Field required", i)
		case (t.Type == "" || t.Type == "custom") && len(t.InputSchema) == 0:
			return badRequest("tools.%d.input_schema: Field required", i)
		case (t.Type == "" || t.Type == "custom") && !validName(t.Name):
			return badRequest("tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i)
		}
	}
	return nil
}

// anthropicToolChoice reads tool_choice {type: auto|any|tool|none}.
func anthropicToolChoice(req *anthropic.MessagesRequest) (toolChoice, *apiError) {
	tc := toolChoice{mode: "auto"}
	if len(req.Tools) == 0 {
		tc.mode = "none"
	}
	if req.ToolChoice == nil {
		return tc, nil
	}
	switch req.ToolChoice.Type {
	case "auto", "none":
		tc.mode = req.ToolChoice.Type
	case "any":
		tc.mode = "required"
	case "tool":
		if req.ToolChoice.Name == "" {
			return tc, badRequest("tool_choice.tool.name: Field required")
		}
		tc = toolChoice{mode: "forced", name: req.ToolChoice.Name}
	default:
		return tc, badRequest("tool_choice: Input tag '%s' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", req.ToolChoice.Type)
	}
	if tc.mode == "forced" && !hasTool(req.Tools, tc.name) {
		return tc, badRequest("tool_choice: tool '%s' not found in tools", tc.name)
	}
	if tc.mode != "none" && tc.mode != "auto" && len(req.Tools) == 0 {
		return tc, badRequest("tool_choice: may only be specified while providing tools")
	}
	return tc, nil
}

func hasTool(tools []anthropic.Tool, name string) bool {
	for _, t := range tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// anthropicTurn is the neutral view of a validated request.
func anthropicTurn(req *anthropic.MessagesRequest, choice toolChoice) turn {
	last := req.Messages[len(req.Messages)-1]
	t := turn{maxTokens: noLimit, stops: req.StopSequences, choice: choice}
	if req.MaxTokens != nil {
		t.maxTokens = *req.MaxTokens
	}
	if req.ToolChoice != nil && req.ToolChoice.DisableParallelToolUse != nil {
		t.parallel = !*req.ToolChoice.DisableParallelToolUse
	} else {
		t.parallel = true
	}
	// A final assistant message is a prefill: the reply is the one to the
	// turn before it, continued from the prefill (providers.md §4.2).
	src := req.Messages[:len(req.Messages)-1]
	if last.Role == "assistant" {
		t.assistantLast = true
		var pre []string
		for _, b := range last.Content.AsBlocks() {
			if b.Type == anthropic.BlockText {
				pre = append(pre, b.Text)
			}
		}
		t.prefill = strings.TrimRightFunc(strings.Join(pre, ""), unicode.IsSpace)
		for len(src) > 0 && src[len(src)-1].Role == "assistant" {
			src = src[:len(src)-1]
		}
	} else {
		src = append(src, last)
	}
	var text []string
	if len(src) > 0 {
		for _, b := range src[len(src)-1].Content.AsBlocks() {
			switch b.Type {
			case anthropic.BlockText:
				text = append(text, b.Text)
			case anthropic.BlockToolResult:
				t.toolResult = true
				text = append(text, toolResultText(b.Content))
			}
		}
	}
	t.seed = strings.Join(text, " ")
	if last.Role != "user" || t.toolResult {
		t.choice.mode = "none"
	}
	for _, tool := range req.Tools {
		if tool.Type == "" || tool.Type == "custom" {
			t.tools = append(t.tools, toolSpec{name: tool.Name, schema: tool.InputSchema})
		}
	}
	return t
}

// toolResultText is the text of a tool_result's content (a string or
// blocks).
func toolResultText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var blocks []anthropic.ContentBlock
	_ = json.Unmarshal(raw, &blocks)
	var parts []string
	for _, b := range blocks {
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, " ")
}

// messagesPromptTokens estimates input tokens: 3 per message and 3 more,
// the system prompt, every block's text, and the tool definitions.
func messagesPromptTokens(req *anthropic.MessagesRequest) int {
	n := 3 + estimate(req.System.String())
	for _, m := range req.Messages {
		n += 3
		for _, b := range m.Content.AsBlocks() {
			switch b.Type {
			case anthropic.BlockText:
				n += estimate(b.Text)
			case anthropic.BlockToolUse:
				n += 3 + estimate(b.Name) + estimate(string(b.Input))
			case anthropic.BlockToolResult:
				n += 3 + estimate(toolResultText(b.Content))
			case anthropic.BlockImage, anthropic.BlockDocument:
				n += 85
			default:
				n += estimate(b.Thinking) + estimate(b.Data)
			}
		}
	}
	for _, t := range req.Tools {
		n += 19 + estimate(t.Name) + estimate(t.Description) + estimate(string(t.InputSchema))
	}
	return n
}
