package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// Options control the lossy choices of OpenAIToAnthropic.
type Options struct {
	// DefaultMaxTokens is the max_tokens sent to Anthropic, which requires
	// one, when the OpenAI request sets neither max_completion_tokens nor
	// max_tokens. The caller passes the deployment's max output. Zero means
	// 4096.
	DefaultMaxTokens int
}

// fallbackMaxTokens is the max_tokens used when Options.DefaultMaxTokens is 0.
const fallbackMaxTokens = 4096

// OpenAIToAnthropic converts an OpenAI chat completion request into an
// Anthropic messages request for the upstream model (providers.md §6.1 and
// §6.6). It returns an *Error when the request asks for something Anthropic
// cannot do (n>1, audio input, OpenAI file ids), or is inconsistent (tool
// arguments that are not a JSON object, a tool message answering no earlier
// tool call). The request is not modified.
func OpenAIToAnthropic(req *openai.ChatRequest, model string, opt Options) (*anthropic.MessagesRequest, error) {
	if req == nil {
		return nil, errorf("", "request body is empty")
	}
	if req.N != nil && *req.N != 1 {
		return nil, errorf("n", "n=%d is not supported by this model: only one choice can be generated", *req.N)
	}
	out := &anthropic.MessagesRequest{Model: model, Stream: req.Stream}
	maxTokens, err := maxTokensToAnthropic(req, opt)
	if err != nil {
		return nil, err
	}
	out.MaxTokens = &maxTokens

	c := toAnthropic{ids: newToolIDs(), answered: map[string]bool{}}
	for i, m := range req.Messages {
		if err := c.message(i, m); err != nil {
			return nil, err
		}
	}
	if len(c.msgs) == 0 && len(c.system) > 0 {
		// A system-only conversation: Anthropic needs a user turn.
		c.push("user", c.system)
		c.system = nil
	}
	if len(c.msgs) == 0 {
		return nil, errorf("messages", "no message has content: at least one non-empty user or assistant message is required")
	}
	instruction, err := responseFormatInstruction(req.ResponseFormat)
	if err != nil {
		return nil, err
	}
	if instruction != "" {
		c.system = append(c.system, anthropic.ContentBlock{Type: anthropic.BlockText, Text: instruction})
	}
	out.System = c.systemPrompt()
	out.Messages = c.finish()

	samplingToAnthropic(req, out)
	if err := toolsToAnthropic(req, out); err != nil {
		return nil, err
	}
	if id := req.SafetyIdentifier; id != "" {
		out.Metadata = &anthropic.Metadata{UserID: id}
	} else if req.User != "" {
		out.Metadata = &anthropic.Metadata{UserID: req.User}
	}
	return out, nil
}

func maxTokensToAnthropic(req *openai.ChatRequest, opt Options) (int, error) {
	param, n := "max_completion_tokens", req.MaxCompletionTokens
	if n == nil {
		param, n = "max_tokens", req.MaxTokens
	}
	if n == nil {
		if opt.DefaultMaxTokens > 0 {
			return opt.DefaultMaxTokens, nil
		}
		return fallbackMaxTokens, nil
	}
	if *n < 1 {
		return 0, errorf(param, "must be at least 1, got %d", *n)
	}
	return *n, nil
}

// samplingToAnthropic copies stop, temperature and top_p. Temperature is
// clamped from OpenAI's 0..2 to Anthropic's 0..1; top_p is dropped when a
// temperature is set, because current Claude models reject the two together.
func samplingToAnthropic(req *openai.ChatRequest, out *anthropic.MessagesRequest) {
	for _, s := range req.Stop.List {
		if s != "" {
			out.StopSequences = append(out.StopSequences, s)
		}
	}
	if t := req.Temperature; t != nil {
		v := min(max(*t, 0), 1)
		out.Temperature = &v
	} else if req.TopP != nil {
		v := *req.TopP
		out.TopP = &v
	}
}

// toAnthropic accumulates the Anthropic conversation while walking the
// OpenAI messages in order.
type toAnthropic struct {
	system       []anthropic.ContentBlock
	systemBlocks bool // some system message had parts: send system as blocks
	msgs         []anthropic.Message
	ids          *toolIDs
	answered     map[string]bool // original ids of earlier assistant tool calls
}

func (c *toAnthropic) message(i int, m openai.Message) error {
	switch m.Role {
	case "system", "developer":
		return c.systemMessage(i, m)
	case "user":
		blocks, err := userBlocks(fmt.Sprintf("messages[%d].content", i), m.Content)
		if err != nil {
			return err
		}
		c.push("user", blocks)
		return nil
	case "assistant":
		return c.assistantMessage(i, m)
	case "tool":
		return c.toolMessage(i, m)
	case "function":
		return errorf(fmt.Sprintf("messages[%d].role", i), "the deprecated function role is not supported; use tool messages")
	}
	return errorf(fmt.Sprintf("messages[%d].role", i), "unknown role %q", m.Role)
}

func (c *toAnthropic) systemMessage(i int, m openai.Message) error {
	if m.Content.Parts == nil {
		if s := m.Content.String(); !isBlank(s) {
			c.system = append(c.system, anthropic.ContentBlock{Type: anthropic.BlockText, Text: s})
		}
		return nil
	}
	c.systemBlocks = true
	for j, p := range m.Content.Parts {
		if p.Type != "text" {
			return errorf(fmt.Sprintf("messages[%d].content[%d].type", i, j), "system messages accept only text parts, got %q", p.Type)
		}
		if !isBlank(p.Text) {
			c.system = append(c.system, anthropic.ContentBlock{Type: anthropic.BlockText, Text: p.Text, CacheControl: p.CacheControl})
		}
	}
	return nil
}

// systemPrompt returns the collected system text: a string joined by blank
// lines, or text blocks when any system message came as parts (so their
// cache_control survives).
func (c *toAnthropic) systemPrompt() anthropic.System {
	if len(c.system) == 0 {
		return anthropic.System{}
	}
	if c.systemBlocks {
		return anthropic.System{Blocks: c.system}
	}
	texts := make([]string, len(c.system))
	for i, b := range c.system {
		texts[i] = b.Text
	}
	s := strings.Join(texts, "\n\n")
	return anthropic.System{Text: &s}
}

func (c *toAnthropic) assistantMessage(i int, m openai.Message) error {
	var blocks []anthropic.ContentBlock
	if m.Content.Parts != nil {
		for j, p := range m.Content.Parts {
			switch p.Type {
			case "text", "refusal":
				if t := p.Text + p.Refusal; !isBlank(t) {
					blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: t, CacheControl: p.CacheControl})
				}
			default:
				return errorf(fmt.Sprintf("messages[%d].content[%d].type", i, j), "assistant messages accept only text and refusal parts, got %q", p.Type)
			}
		}
	} else if s := m.Content.String(); !isBlank(s) {
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: s})
	}
	if len(blocks) == 0 && m.Refusal != nil && !isBlank(*m.Refusal) {
		blocks = append(blocks, anthropic.ContentBlock{Type: anthropic.BlockText, Text: *m.Refusal})
	}
	for j, tc := range m.ToolCalls {
		param := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
		if tc.Type != "" && tc.Type != "function" {
			return errorf(param+".type", "tool call type %q is not supported", tc.Type)
		}
		if tc.ID == "" {
			return errorf(param+".id", "tool call id is missing")
		}
		if tc.Function.Name == "" {
			return errorf(param+".function.name", "tool call function name is missing")
		}
		input, err := parseArguments(tc.Function.Arguments)
		if err != nil {
			return errorf(param+".function.arguments", "%s", err)
		}
		c.answered[tc.ID] = true
		blocks = append(blocks, anthropic.ContentBlock{
			Type: anthropic.BlockToolUse, ID: c.ids.get(tc.ID), Name: tc.Function.Name, Input: input,
		})
	}
	c.push("assistant", blocks) // null content and no tool calls: nothing pushed
	return nil
}

func (c *toAnthropic) toolMessage(i int, m openai.Message) error {
	if !c.answered[m.ToolCallID] {
		return errorf(fmt.Sprintf("messages[%d].tool_call_id", i),
			"%q does not match the id of any tool call in an earlier assistant message", m.ToolCallID)
	}
	result := anthropic.ContentBlock{Type: anthropic.BlockToolResult, ToolUseID: c.ids.get(m.ToolCallID)}
	if m.Content.Parts == nil {
		if s := m.Content.String(); !isBlank(s) {
			result.Content, _ = json.Marshal(s)
		}
		c.push("user", []anthropic.ContentBlock{result})
		return nil
	}
	blocks, err := userBlocks(fmt.Sprintf("messages[%d].content", i), m.Content)
	if err != nil {
		return err
	}
	for k := range blocks {
		// cache_control is not allowed inside tool_result content: hoist it.
		if len(blocks[k].CacheControl) > 0 {
			result.CacheControl = blocks[k].CacheControl
			blocks[k].CacheControl = nil
		}
	}
	if len(blocks) > 0 {
		result.Content, _ = json.Marshal(blocks)
	}
	c.push("user", []anthropic.ContentBlock{result})
	return nil
}

// push appends blocks as a turn of role, merged into the previous turn
// when it has the same role (Anthropic alternates roles).
func (c *toAnthropic) push(role string, blocks []anthropic.ContentBlock) {
	if len(blocks) == 0 {
		return
	}
	if n := len(c.msgs); n > 0 && c.msgs[n-1].Role == role {
		c.msgs[n-1].Content.Blocks = append(c.msgs[n-1].Content.Blocks, blocks...)
		return
	}
	c.msgs = append(c.msgs, anthropic.Message{Role: role, Content: anthropic.Content{Blocks: blocks}})
}

// finish puts tool_result blocks first in every user turn (Anthropic
// requires them to lead the turn that follows the tool_use), trims trailing
// whitespace off a final assistant turn (a prefill; Anthropic rejects
// trailing whitespace there), and writes a lone plain text block as the
// string shorthand.
func (c *toAnthropic) finish() []anthropic.Message {
	for i := range c.msgs {
		m := &c.msgs[i]
		if m.Role == "user" {
			m.Content.Blocks = toolResultsFirst(m.Content.Blocks)
		}
	}
	if last := &c.msgs[len(c.msgs)-1]; last.Role == "assistant" {
		b := &last.Content.Blocks[len(last.Content.Blocks)-1]
		if b.Type == anthropic.BlockText {
			b.Text = strings.TrimRightFunc(b.Text, unicode.IsSpace)
		}
	}
	for i := range c.msgs {
		m := &c.msgs[i]
		if len(m.Content.Blocks) == 1 {
			if b := m.Content.Blocks[0]; b.Type == anthropic.BlockText && len(b.CacheControl) == 0 && len(b.Citations) == 0 {
				m.Content = anthropic.TextContent(b.Text)
			}
		}
	}
	return c.msgs
}

func toolResultsFirst(blocks []anthropic.ContentBlock) []anthropic.ContentBlock {
	out := make([]anthropic.ContentBlock, 0, len(blocks))
	for _, b := range blocks {
		if b.Type == anthropic.BlockToolResult {
			out = append(out, b)
		}
	}
	for _, b := range blocks {
		if b.Type != anthropic.BlockToolResult {
			out = append(out, b)
		}
	}
	return out
}

// userBlocks converts user (or tool) content to Anthropic blocks, dropping
// empty and whitespace-only text. param is the JSON path of the content.
func userBlocks(param string, content openai.Content) ([]anthropic.ContentBlock, error) {
	if content.Parts == nil {
		if s := content.String(); !isBlank(s) {
			return []anthropic.ContentBlock{{Type: anthropic.BlockText, Text: s}}, nil
		}
		return nil, nil
	}
	var blocks []anthropic.ContentBlock
	for j, p := range content.Parts {
		pp := fmt.Sprintf("%s[%d]", param, j)
		var b anthropic.ContentBlock
		var err error
		switch p.Type {
		case "text":
			if isBlank(p.Text) {
				continue
			}
			b = anthropic.ContentBlock{Type: anthropic.BlockText, Text: p.Text}
		case "image_url":
			b, err = imageBlock(pp+".image_url.url", p.ImageURL)
		case "file":
			b, err = documentBlock(pp+".file", p.File)
		case "input_audio":
			err = errorf(pp+".type", "audio input is not supported by this model")
		default:
			err = errorf(pp+".type", "content part type %q is not supported by this model", p.Type)
		}
		if err != nil {
			return nil, err
		}
		b.CacheControl = p.CacheControl
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// imageBlock converts an image_url part: a data URL becomes a base64
// source, an http(s) URL a url source. detail is dropped.
func imageBlock(param string, img *openai.ImageURL) (anthropic.ContentBlock, error) {
	if img == nil || img.URL == "" {
		return anthropic.ContentBlock{}, errorf(param, "image url is missing")
	}
	u := img.URL
	if strings.HasPrefix(u, "data:") {
		mediaType, data, ok := parseDataURL(u)
		if !ok {
			return anthropic.ContentBlock{}, errorf(param, "data URL must have the form data:<media type>;base64,<data>")
		}
		return anthropic.ContentBlock{Type: anthropic.BlockImage,
			Source: &anthropic.Source{Type: "base64", MediaType: mediaType, Data: data}}, nil
	}
	if lower := strings.ToLower(u); strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return anthropic.ContentBlock{Type: anthropic.BlockImage, Source: &anthropic.Source{Type: "url", URL: u}}, nil
	}
	return anthropic.ContentBlock{}, errorf(param, "image url must be an http(s) URL or a base64 data URL")
}

// parseDataURL splits data:<media type>[;params];base64,<data>.
func parseDataURL(u string) (mediaType, data string, ok bool) {
	head, data, found := strings.Cut(strings.TrimPrefix(u, "data:"), ",")
	if !found || data == "" {
		return "", "", false
	}
	params := strings.Split(head, ";")
	if len(params) < 2 || params[len(params)-1] != "base64" || params[0] == "" {
		return "", "", false
	}
	return strings.ToLower(params[0]), data, true
}

// documentBlock converts a file part with file_data (a base64 data URL, or
// bare base64 taken as a PDF) into a document block. Plain text becomes a
// text source, which Anthropic wants decoded. file_id references an OpenAI
// upload that Anthropic cannot read; the filename is dropped.
func documentBlock(param string, raw json.RawMessage) (anthropic.ContentBlock, error) {
	var f struct {
		FileID   string `json:"file_id"`
		FileData string `json:"file_data"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return anthropic.ContentBlock{}, errorf(param, "file must be an object with file_data")
	}
	if f.FileData == "" {
		if f.FileID != "" {
			return anthropic.ContentBlock{}, errorf(param+".file_id", "OpenAI file ids cannot be sent to this model; send the file inline as file_data")
		}
		return anthropic.ContentBlock{}, errorf(param+".file_data", "file_data is missing")
	}
	mediaType, data := "application/pdf", f.FileData
	if strings.HasPrefix(data, "data:") {
		var ok bool
		if mediaType, data, ok = parseDataURL(data); !ok {
			return anthropic.ContentBlock{}, errorf(param+".file_data", "data URL must have the form data:<media type>;base64,<data>")
		}
	}
	src := &anthropic.Source{Type: "base64", MediaType: mediaType, Data: data}
	if mediaType == "text/plain" {
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return anthropic.ContentBlock{}, errorf(param+".file_data", "invalid base64: %s", err)
		}
		src = &anthropic.Source{Type: "text", MediaType: mediaType, Data: string(text)}
	}
	return anthropic.ContentBlock{Type: anthropic.BlockDocument, Source: src}, nil
}

// parseArguments turns a tool call's arguments string into a tool_use
// input: empty means {}, anything else must be a JSON object.
func parseArguments(args string) (json.RawMessage, error) {
	t := strings.TrimSpace(args)
	if t == "" {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(t)); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if buf.Bytes()[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object")
	}
	return buf.Bytes(), nil
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// toolsToAnthropic converts tools, tool_choice and parallel_tool_calls.
// tool_choice without tools is dropped (Anthropic rejects it) unless it
// demands a tool, which is the client's error.
func toolsToAnthropic(req *openai.ChatRequest, out *anthropic.MessagesRequest) error {
	for i, t := range req.Tools {
		param := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" && t.Type != "" {
			return errorf(param+".type", "tool type %q is not supported by this model", t.Type)
		}
		if t.Function == nil || t.Function.Name == "" {
			return errorf(param+".function.name", "tool function name is missing")
		}
		schema, err := toolSchema(t.Function.Parameters)
		if err != nil {
			return errorf(param+".function.parameters", "%s", err)
		}
		out.Tools = append(out.Tools, anthropic.Tool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	choice, err := toolChoiceToAnthropic(req.ToolChoice, out)
	if err != nil {
		return err
	}
	if len(out.Tools) == 0 {
		return nil
	}
	if p := req.ParallelToolCalls; p != nil && !*p {
		if choice == nil {
			choice = &anthropic.ToolChoice{Type: "auto"}
		}
		if choice.Type != "none" {
			t := true
			choice.DisableParallelToolUse = &t
		}
	}
	out.ToolChoice = choice
	return nil
}

// emptySchema is the input_schema of a tool that takes no arguments.
const emptySchema = `{"type":"object","properties":{}}`

func toolSchema(params json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(params)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return json.RawMessage(emptySchema), nil
	}
	if t[0] != '{' {
		return nil, fmt.Errorf("must be a JSON schema object")
	}
	return params, nil
}

// toolChoiceToAnthropic maps auto/required/none/{function} to
// auto/any/none/{tool}. allowed_tools narrows out.Tools to the allowed ones
// and maps its mode the same way.
func toolChoiceToAnthropic(raw json.RawMessage, out *anthropic.MessagesRequest) (*anthropic.ToolChoice, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var mode string
	if json.Unmarshal(raw, &mode) == nil {
		return toolChoiceMode("tool_choice", mode, len(out.Tools))
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
		AllowedTools struct {
			Mode  string `json:"mode"`
			Tools []struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			} `json:"tools"`
		} `json:"allowed_tools"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, errorf("tool_choice", "must be a string or a tool choice object")
	}
	switch obj.Type {
	case "function":
		if obj.Function.Name == "" {
			return nil, errorf("tool_choice.function.name", "function name is missing")
		}
		if len(out.Tools) == 0 {
			return nil, errorf("tool_choice", "a function can only be chosen when tools are given")
		}
		return &anthropic.ToolChoice{Type: "tool", Name: obj.Function.Name}, nil
	case "allowed_tools":
		allowed := map[string]bool{}
		for _, t := range obj.AllowedTools.Tools {
			allowed[t.Function.Name] = true
		}
		kept := out.Tools[:0:0]
		for _, t := range out.Tools {
			if allowed[t.Name] {
				kept = append(kept, t)
			}
		}
		out.Tools = kept
		return toolChoiceMode("tool_choice.allowed_tools.mode", obj.AllowedTools.Mode, len(kept))
	}
	return nil, errorf("tool_choice.type", "tool choice type %q is not supported by this model", obj.Type)
}

func toolChoiceMode(param, mode string, tools int) (*anthropic.ToolChoice, error) {
	switch mode {
	case "auto", "none":
		if tools == 0 {
			return nil, nil
		}
		return &anthropic.ToolChoice{Type: mode}, nil
	case "required":
		if tools == 0 {
			return nil, errorf(param, "required needs at least one tool")
		}
		return &anthropic.ToolChoice{Type: "any"}, nil
	}
	return nil, errorf(param, "unknown tool choice %q", mode)
}

// responseFormatInstruction returns the system instruction that stands in
// for response_format. Anthropic's structured outputs (output_config) work
// only on some models and a forced synthetic tool clashes with the
// client's own tools and with extended thinking, so the format is asked for
// in words: this works on every model but does not guarantee valid JSON.
func responseFormatInstruction(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var rf struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Schema      json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return "", errorf("response_format", "must be an object with a type")
	}
	const tail = " Do not wrap it in a Markdown code block and do not add any other text."
	switch rf.Type {
	case "text":
		return "", nil
	case "json_object":
		return "Respond only with a single valid JSON object." + tail, nil
	case "json_schema":
		s := rf.JSONSchema
		if s == nil {
			return "", errorf("response_format.json_schema", "json_schema is missing")
		}
		var b strings.Builder
		b.WriteString("Respond only with a single valid JSON value that conforms to the JSON schema below")
		if s.Name != "" {
			b.WriteString(" (" + strconv.Quote(s.Name))
			if s.Description != "" {
				b.WriteString(": " + s.Description)
			}
			b.WriteString(")")
		}
		b.WriteString("." + tail)
		var schema bytes.Buffer
		if len(bytes.TrimSpace(s.Schema)) > 0 {
			if err := json.Compact(&schema, s.Schema); err != nil {
				return "", errorf("response_format.json_schema.schema", "not valid JSON")
			}
			b.WriteString("\n\n" + schema.String())
		}
		return b.String(), nil
	}
	return "", errorf("response_format.type", "unknown response format type %q", rf.Type)
}

// toolIDs maps tool-call ids to ids Anthropic accepts (^[a-zA-Z0-9_-]+$):
// invalid characters become '_'. The same id always maps the same way, so a
// tool_use and the tool_result answering it agree, and distinct ids stay
// distinct (a clash gets a numeric suffix).
type toolIDs struct {
	byOrig map[string]string
	owner  map[string]string // sanitised id → original id
}

func newToolIDs() *toolIDs {
	return &toolIDs{byOrig: map[string]string{}, owner: map[string]string{}}
}

func (t *toolIDs) get(orig string) string {
	if s, ok := t.byOrig[orig]; ok {
		return s
	}
	base := sanitizeToolID(orig)
	s := base
	for n := 2; ; n++ {
		if o, taken := t.owner[s]; !taken || o == orig {
			break
		}
		s = base + "_" + strconv.Itoa(n)
	}
	t.byOrig[orig], t.owner[s] = s, orig
	return s
}

func sanitizeToolID(id string) string {
	if id == "" {
		return "toolu_"
	}
	var b strings.Builder
	b.Grow(len(id))
	for _, r := range id {
		if r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// AnthropicToOpenAI converts an Anthropic messages request into an OpenAI
// chat completion request for the upstream model (providers.md §6.2). A
// streamed request asks for stream_options.include_usage so the stream
// reports usage. It returns an *Error for content OpenAI cannot take
// (server tools, document URLs, a tool_result answering no earlier
// tool_use). The request is not modified.
func AnthropicToOpenAI(req *anthropic.MessagesRequest, model string) (*openai.ChatRequest, error) {
	if req == nil {
		return nil, errorf("", "request body is empty")
	}
	out := &openai.ChatRequest{Model: model, Stream: req.Stream}
	if req.Stream {
		out.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	if req.MaxTokens != nil {
		if *req.MaxTokens < 1 {
			return nil, errorf("max_tokens", "must be at least 1 for this model, got %d", *req.MaxTokens)
		}
		n := *req.MaxTokens
		out.MaxCompletionTokens = &n
	}
	system, err := systemText(req.System)
	if err != nil {
		return nil, err
	}
	if !isBlank(system) {
		out.Messages = append(out.Messages, openai.Message{Role: "system", Content: openai.TextContent(system)})
	}
	c := toOpenAI{toolUses: map[string]bool{}}
	for i, m := range req.Messages {
		msgs, err := c.message(i, m)
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, msgs...)
	}
	if len(req.StopSequences) > 0 {
		out.Stop = openai.StopList(append([]string(nil), req.StopSequences...))
	}
	out.Temperature = copyPtr(req.Temperature)
	out.TopP = copyPtr(req.TopP)
	if err := toolsToOpenAI(req, out); err != nil {
		return nil, err
	}
	if req.Metadata != nil && req.Metadata.UserID != "" {
		out.User = req.Metadata.UserID
	}
	return out, nil
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// systemText joins a system prompt's text blocks by blank lines.
func systemText(s anthropic.System) (string, error) {
	for j, b := range s.Blocks {
		if b.Type != anthropic.BlockText {
			return "", errorf(fmt.Sprintf("system[%d].type", j), "system blocks must be text, got %q", b.Type)
		}
	}
	return s.String(), nil
}

// toOpenAI remembers the tool_use ids seen so far while walking the
// Anthropic messages in order.
type toOpenAI struct {
	toolUses map[string]bool
}

func (c *toOpenAI) message(i int, m anthropic.Message) ([]openai.Message, error) {
	switch m.Role {
	case "user":
		return c.userMessage(i, m)
	case "assistant":
		msg, keep, err := c.assistantMessage(i, m)
		if err != nil || !keep {
			return nil, err
		}
		return []openai.Message{msg}, nil
	case "system":
		// Newer models take system blocks mid-conversation; OpenAI takes
		// system messages anywhere.
		text, err := systemText(anthropic.System{Text: m.Content.Text, Blocks: m.Content.Blocks})
		if err != nil || isBlank(text) {
			return nil, err
		}
		return []openai.Message{{Role: "system", Content: openai.TextContent(text)}}, nil
	}
	return nil, errorf(fmt.Sprintf("messages[%d].role", i), "unknown role %q", m.Role)
}

// userMessage splits a user turn: its tool_result blocks become tool
// messages (in order, first, so they directly follow the assistant's
// tool_calls), the rest one user message after them. Images inside tool
// results, which OpenAI tool messages cannot hold, move to that user
// message.
func (c *toOpenAI) userMessage(i int, m anthropic.Message) ([]openai.Message, error) {
	if m.Content.Text != nil {
		return []openai.Message{{Role: "user", Content: openai.TextContent(*m.Content.Text)}}, nil
	}
	var tools []openai.Message
	var parts []openai.ContentPart
	for j, b := range m.Content.Blocks {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		switch b.Type {
		case anthropic.BlockToolResult:
			if !c.toolUses[b.ToolUseID] {
				return nil, errorf(param+".tool_use_id", "%q does not match the id of any tool_use block in an earlier assistant message", b.ToolUseID)
			}
			text, images, err := toolResultContent(param+".content", b)
			if err != nil {
				return nil, err
			}
			tools = append(tools, openai.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: openai.TextContent(text)})
			parts = append(parts, images...)
		case anthropic.BlockThinking, anthropic.BlockRedactedThinking:
		default:
			p, err := partToOpenAI(param, b)
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
	}
	out := tools
	switch {
	case len(parts) == 1 && parts[0].Type == "text":
		out = append(out, openai.Message{Role: "user", Content: openai.TextContent(parts[0].Text)})
	case len(parts) > 0:
		out = append(out, openai.Message{Role: "user", Content: openai.Content{Parts: parts}})
	}
	return out, nil
}

// toolResultContent returns a tool_result's text (text blocks joined by
// newlines, "Error: " in front when is_error) and its images as parts.
func toolResultContent(param string, b anthropic.ContentBlock) (string, []openai.ContentPart, error) {
	var text string
	var images []openai.ContentPart
	raw := bytes.TrimSpace(b.Content)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &text); err != nil {
			return "", nil, errorf(param, "not a valid JSON string")
		}
	default:
		var blocks []anthropic.ContentBlock
		if err := json.Unmarshal(raw, &blocks); err != nil {
			return "", nil, errorf(param, "must be a string or an array of content blocks")
		}
		var texts []string
		for k, blk := range blocks {
			switch blk.Type {
			case anthropic.BlockText:
				texts = append(texts, blk.Text)
			case anthropic.BlockImage:
				p, err := partToOpenAI(fmt.Sprintf("%s[%d]", param, k), blk)
				if err != nil {
					return "", nil, err
				}
				images = append(images, p)
			default:
				return "", nil, errorf(fmt.Sprintf("%s[%d].type", param, k), "tool result block type %q cannot be sent to this model", blk.Type)
			}
		}
		text = strings.Join(texts, "\n")
	}
	if b.IsError {
		text = strings.TrimRightFunc("Error: "+text, unicode.IsSpace)
	}
	return text, images, nil
}

// partToOpenAI converts a text, image or document block of a user turn.
func partToOpenAI(param string, b anthropic.ContentBlock) (openai.ContentPart, error) {
	switch b.Type {
	case anthropic.BlockText:
		return openai.ContentPart{Type: "text", Text: b.Text}, nil
	case anthropic.BlockImage:
		url, err := sourceURL(param+".source", b.Source)
		if err != nil {
			return openai.ContentPart{}, err
		}
		return openai.ContentPart{Type: "image_url", ImageURL: &openai.ImageURL{URL: url}}, nil
	case anthropic.BlockDocument:
		return documentPart(param+".source", b.Source)
	}
	return openai.ContentPart{}, errorf(param+".type", "content block type %q cannot be sent to this model", b.Type)
}

func sourceURL(param string, s *anthropic.Source) (string, error) {
	switch {
	case s == nil:
		return "", errorf(param, "source is missing")
	case s.Type == "base64":
		if s.MediaType == "" {
			return "", errorf(param+".media_type", "media_type is missing")
		}
		return "data:" + s.MediaType + ";base64," + s.Data, nil
	case s.Type == "url" && s.URL != "":
		return s.URL, nil
	}
	return "", errorf(param+".type", "source type %q cannot be sent to this model", s.Type)
}

// documentPart converts a document: base64 data becomes a file part with
// file_data, a text source a text part. OpenAI cannot fetch document URLs.
func documentPart(param string, s *anthropic.Source) (openai.ContentPart, error) {
	switch {
	case s == nil:
		return openai.ContentPart{}, errorf(param, "source is missing")
	case s.Type == "text":
		return openai.ContentPart{Type: "text", Text: s.Data}, nil
	case s.Type == "base64":
		url, err := sourceURL(param, s)
		if err != nil {
			return openai.ContentPart{}, err
		}
		file, _ := json.Marshal(map[string]string{"filename": "document" + extension(s.MediaType), "file_data": url})
		return openai.ContentPart{Type: "file", File: file}, nil
	}
	return openai.ContentPart{}, errorf(param+".type", "document source type %q cannot be sent to this model", s.Type)
}

func extension(mediaType string) string {
	if _, sub, ok := strings.Cut(mediaType, "/"); ok && sub != "" {
		return "." + sub
	}
	return ""
}

// assistantMessage converts an assistant turn: text blocks are joined into
// content (null when there are only tool calls), tool_use blocks become
// tool_calls, thinking is dropped. keep is false for a turn with nothing
// left.
func (c *toOpenAI) assistantMessage(i int, m anthropic.Message) (openai.Message, bool, error) {
	msg := openai.Message{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for j, b := range m.Content.AsBlocks() {
		param := fmt.Sprintf("messages[%d].content[%d]", i, j)
		switch b.Type {
		case anthropic.BlockText:
			text.WriteString(b.Text)
			hasText = hasText || b.Text != ""
		case anthropic.BlockToolUse:
			if b.ID == "" || b.Name == "" {
				return msg, false, errorf(param, "tool_use needs an id and a name")
			}
			args, err := inputToArguments(b.Input)
			if err != nil {
				return msg, false, errorf(param+".input", "%s", err)
			}
			c.toolUses[b.ID] = true
			msg.ToolCalls = append(msg.ToolCalls, openai.ToolCall{
				ID: b.ID, Type: "function", Function: openai.FunctionCall{Name: b.Name, Arguments: args},
			})
		case anthropic.BlockThinking, anthropic.BlockRedactedThinking:
		default:
			return msg, false, errorf(param+".type", "content block type %q cannot be sent to this model", b.Type)
		}
	}
	if hasText {
		msg.Content = openai.TextContent(text.String())
	}
	return msg, hasText || len(msg.ToolCalls) > 0, nil
}

// inputToArguments encodes a tool_use input as a compact JSON string; no
// input means {}.
func inputToArguments(input json.RawMessage) (string, error) {
	t := bytes.TrimSpace(input)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, t); err != nil {
		return "", fmt.Errorf("not valid JSON")
	}
	return buf.String(), nil
}

// toolsToOpenAI converts tools and tool_choice; disable_parallel_tool_use
// becomes parallel_tool_calls:false. Server tools (web search, code
// execution, ...) run at Anthropic and have no OpenAI equivalent.
func toolsToOpenAI(req *anthropic.MessagesRequest, out *openai.ChatRequest) error {
	for i, t := range req.Tools {
		if t.Type != "" && t.Type != "custom" {
			return errorf(fmt.Sprintf("tools[%d].type", i), "server tool %q cannot be used with this model", t.Type)
		}
		if t.Name == "" {
			return errorf(fmt.Sprintf("tools[%d].name", i), "tool name is missing")
		}
		schema, err := toolSchema(t.InputSchema)
		if err != nil {
			return errorf(fmt.Sprintf("tools[%d].input_schema", i), "%s", err)
		}
		out.Tools = append(out.Tools, openai.Tool{Type: "function",
			Function: &openai.Function{Name: t.Name, Description: t.Description, Parameters: schema}})
	}
	tc := req.ToolChoice
	if tc == nil || len(out.Tools) == 0 {
		return nil
	}
	switch tc.Type {
	case "auto", "none":
		out.ToolChoice, _ = json.Marshal(tc.Type)
	case "any":
		out.ToolChoice, _ = json.Marshal("required")
	case "tool":
		if tc.Name == "" {
			return errorf("tool_choice.name", "tool name is missing")
		}
		out.ToolChoice, _ = json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
	default:
		return errorf("tool_choice.type", "unknown tool choice type %q", tc.Type)
	}
	if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse && tc.Type != "none" {
		f := false
		out.ParallelToolCalls = &f
	}
	return nil
}
