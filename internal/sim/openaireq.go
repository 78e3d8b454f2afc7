package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmux/llmux/internal/api/openai"
)

// defaultMaxOutput is what OpenAI and Azure requests without max_tokens are
// charged per choice against TPM (Azure documents "the model's maximum";
// OpenAI does not say).
const defaultMaxOutput = 4096

// chatCall is a decoded, validated chat completions request.
type chatCall struct {
	req    openai.ChatRequest
	turn   turn
	n      int
	prompt int // prompt token estimate
}

// charge is what the request costs against TPM at arrival: the prompt
// estimate plus n times the output cap (providers.md §1.8, §5.5).
func (c *chatCall) charge() int {
	out := defaultMaxOutput
	if c.turn.maxTokens != noLimit {
		out = c.turn.maxTokens
	}
	return c.prompt + c.n*out
}

func (c *chatCall) includeUsage() bool {
	return c.req.StreamOptions != nil && c.req.StreamOptions.IncludeUsage
}

// decodeChat decodes and validates a chat body the way OpenAI does.
// needModel is false on Azure classic routes, where the path names the
// deployment.
func decodeChat(body []byte, needModel bool) (*chatCall, *apiError) {
	c := &chatCall{}
	if err := json.Unmarshal(body, &c.req); err != nil {
		return nil, openaiDecodeError(err, body)
	}
	req := &c.req
	if needModel && req.Model == "" {
		return nil, invalid("", "", "you must provide a model parameter")
	}
	if req.Messages == nil {
		return nil, invalid("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	}
	if len(req.Messages) == 0 {
		return nil, invalid("messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	for _, check := range []func(*openai.ChatRequest) *apiError{checkMessages, checkToolPairs, checkRanges, checkTools} {
		if e := check(req); e != nil {
			return nil, e
		}
	}
	choice, e := openaiToolChoice(req)
	if e != nil {
		return nil, e
	}
	c.n = 1
	if req.N != nil {
		c.n = *req.N
	}
	c.turn = openaiTurn(req, choice)
	c.prompt = chatPromptTokens(req)
	return c, nil
}

// invalid is a 400 invalid_request_error.
func invalid(param, code, msg string) *apiError {
	return &apiError{status: 400, typ: openai.TypeInvalidRequest, param: param, code: code, msg: msg}
}

// openaiDecodeError maps a JSON decoding error in body to OpenAI's 400.
func openaiDecodeError(err error, body []byte) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return invalid(te.Field, "invalid_type", fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.",
			te.Field, jsonTypeName(te.Type.Kind().String()), article(numberKind(te, body))))
	case errors.As(err, &se), errors.As(err, &te):
		return invalid("", "", "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)")
	}
	return invalid("", "", "Invalid request: "+err.Error())
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "float32", "float64":
		return "a decimal"
	}
	return "an integer"
}

// numberKind refines encoding/json's "number" to "integer" or "number"
// (a decimal) by looking at the literal that ends at the error's offset.
func numberKind(te *json.UnmarshalTypeError, body []byte) string {
	if te.Value != "number" || te.Offset > int64(len(body)) {
		return te.Value
	}
	i := int(te.Offset)
	for i > 0 && strings.IndexByte("0123456789-+.eE", body[i-1]) >= 0 {
		i--
	}
	if strings.ContainsAny(string(body[i:te.Offset]), ".eE") {
		return "number"
	}
	return "integer"
}

func article(v string) string {
	switch v {
	case "object", "array", "integer":
		return "an " + v
	case "bool":
		return "a boolean"
	case "number":
		return "a decimal"
	}
	return "a " + v
}

var openaiRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

func checkMessages(req *openai.ChatRequest) *apiError {
	for i, m := range req.Messages {
		p := fmt.Sprintf("messages.[%d]", i)
		switch {
		case m.Role == "":
			return invalid(p+".role", "missing_required_parameter", fmt.Sprintf("Missing required parameter: '%s.role'.", p))
		case !openaiRoles[m.Role]:
			return invalid(p+".role", "invalid_value", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", m.Role))
		case m.Content.IsNull() && !(m.Role == "assistant" && len(m.ToolCalls) > 0):
			return invalid(p+".content", "", "Invalid value for 'content': expected a string, got null.")
		case m.Role == "tool" && m.ToolCallID == "":
			return invalid(p+".tool_call_id", "", "Missing parameter 'tool_call_id': messages with role 'tool' must have a 'tool_call_id'.")
		}
	}
	return nil
}

// checkToolPairs enforces OpenAI's pairing rules: every tool message
// answers a call of the assistant message before it, and every call is
// answered before the conversation moves on.
func checkToolPairs(req *openai.ChatRequest) *apiError {
	pending := map[string]bool{}
	var order []string
	unanswered := func(i int) *apiError {
		var ids []string
		for _, id := range order {
			if pending[id] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return invalid(fmt.Sprintf("messages.[%d].role", i), "", "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: "+strings.Join(ids, ", "))
	}
	for i, m := range req.Messages {
		if m.Role == "tool" {
			if !pending[m.ToolCallID] {
				return invalid(fmt.Sprintf("messages.[%d].role", i), "", "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.")
			}
			pending[m.ToolCallID] = false
			continue
		}
		if e := unanswered(i); e != nil {
			return e
		}
		pending, order = map[string]bool{}, nil
		for _, tc := range m.ToolCalls {
			pending[tc.ID] = true
			order = append(order, tc.ID)
		}
	}
	return unanswered(len(req.Messages))
}

func checkRanges(req *openai.ChatRequest) *apiError {
	for _, r := range []struct {
		name     string
		v        *int
		min, max int
	}{{"max_tokens", req.MaxTokens, 1, 1 << 30}, {"max_completion_tokens", req.MaxCompletionTokens, 1, 1 << 30}, {"n", req.N, 1, 128}} {
		switch {
		case r.v != nil && *r.v < r.min:
			return invalid(r.name, "integer_below_min_value", fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", r.name, r.min, *r.v))
		case r.v != nil && *r.v > r.max:
			return invalid(r.name, "integer_above_max_value", fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", r.name, r.max, *r.v))
		}
	}
	if t := req.Temperature; t != nil && (*t < 0 || *t > 2) {
		code, rel, bound := "decimal_above_max_value", "above maximum", "<= 2"
		if *t < 0 {
			code, rel, bound = "decimal_below_min_value", "below minimum", ">= 0"
		}
		return invalid("temperature", code, fmt.Sprintf("Invalid 'temperature': decimal %s value. Expected a value %s, but got %v instead.", rel, bound, *t))
	}
	if req.StreamOptions != nil && !req.Stream {
		return invalid("stream_options", "", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	return nil
}

func checkTools(req *openai.ChatRequest) *apiError {
	for i, t := range req.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		switch {
		case t.Type != "function" && t.Type != "custom":
			return invalid(p+".type", "invalid_value", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'function' and 'custom'.", t.Type))
		case t.Type == "function" && t.Function == nil:
			return invalid(p+".function", "missing_required_parameter", fmt.Sprintf("Missing required parameter: '%s.function'.", p))
		case t.Type == "function" && !validName(t.Function.Name):
			return invalid(p+".function.name", "invalid_value", fmt.Sprintf("Invalid '%s.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.", p))
		}
	}
	return nil
}

// validName reports whether s matches ^[a-zA-Z0-9_-]{1,64}$.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// openaiToolChoice reads tool_choice: "none" | "auto" | "required" |
// {"type":"function","function":{"name"}} | {"type":"allowed_tools",...}.
func openaiToolChoice(req *openai.ChatRequest) (toolChoice, *apiError) {
	tc := toolChoice{mode: "auto"}
	if len(req.Tools) == 0 {
		tc.mode = "none"
	}
	raw := req.ToolChoice
	if len(raw) == 0 || string(raw) == "null" {
		return tc, nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools struct {
			Mode string `json:"mode"`
		} `json:"allowed_tools"`
	}
	var mode string
	switch {
	case json.Unmarshal(raw, &mode) == nil:
		if mode != "none" && mode != "auto" && mode != "required" {
			return tc, invalid("tool_choice", "invalid_value", fmt.Sprintf("Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", mode))
		}
		tc.mode = mode
	case json.Unmarshal(raw, &obj) == nil && obj.Type == "function" && obj.Function.Name != "":
		tc = toolChoice{mode: "forced", name: obj.Function.Name}
	case obj.Type == "allowed_tools":
		tc.mode = obj.AllowedTools.Mode
	default:
		return tc, invalid("tool_choice", "invalid_value", "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.")
	}
	if tc.mode != "none" && len(req.Tools) == 0 {
		return tc, invalid("tool_choice", "", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	if tc.mode == "forced" && !hasFunction(req.Tools, tc.name) {
		return tc, invalid("tool_choice", "", fmt.Sprintf("Invalid value for 'tool_choice': function '%s' not found in 'tools'.", tc.name))
	}
	return tc, nil
}

func hasFunction(tools []openai.Tool, name string) bool {
	for _, t := range tools {
		if t.Function != nil && t.Function.Name == name {
			return true
		}
	}
	return false
}

// openaiTurn is the neutral view of a validated request.
func openaiTurn(req *openai.ChatRequest, choice toolChoice) turn {
	last := req.Messages[len(req.Messages)-1]
	// A final assistant message is history, not a prefill: the reply is
	// the one to the turn before it, generated afresh.
	src := last
	for i := len(req.Messages) - 1; src.Role == "assistant" && i > 0; i-- {
		src = req.Messages[i-1]
	}
	t := turn{
		seed:          src.Content.String(),
		toolResult:    src.Role == "tool" || src.Role == "function",
		assistantLast: last.Role == "assistant",
		maxTokens:     noLimit,
		stops:         req.Stop.List,
		choice:        choice,
		parallel:      req.ParallelToolCalls == nil || *req.ParallelToolCalls,
	}
	if last.Role != "user" {
		t.choice.mode = "none"
	}
	if req.MaxTokens != nil || req.MaxCompletionTokens != nil {
		t.maxTokens = req.OutputLimit()
	}
	for _, tool := range req.Tools {
		if tool.Type == "function" && tool.Function != nil {
			t.tools = append(t.tools, toolSpec{name: tool.Function.Name, schema: tool.Function.Parameters})
		}
	}
	return t
}

// chatPromptTokens estimates prompt tokens the way the tiktoken cookbook
// counts (3 per message, 3 to prime the reply) with estimate for text.
func chatPromptTokens(req *openai.ChatRequest) int {
	n := 3
	for _, m := range req.Messages {
		n += 3 + estimate(m.Content.String())
		for _, p := range m.Content.Parts {
			if p.Type != "text" && p.Type != "refusal" {
				n += 85 // an image or file at low detail
			}
		}
		if m.Name != "" {
			n += 1 + estimate(m.Name)
		}
		for _, tc := range m.ToolCalls {
			n += 3 + estimate(tc.Function.Name) + estimate(tc.Function.Arguments)
		}
	}
	for _, t := range req.Tools {
		if t.Function != nil {
			n += 19 + estimate(t.Function.Name) + estimate(t.Function.Description) + estimate(string(t.Function.Parameters))
		}
	}
	return n
}
