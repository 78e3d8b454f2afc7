// Package anthropic holds the Anthropic Messages API wire types: requests,
// responses, stream events and the error envelope, as documented at
// docs.anthropic.com and parsed by anthropic-sdk-go (see
// ../shared/reference/providers.md §4).
package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Version is the anthropic-version header value the SDKs send.
const Version = "2023-06-01"

// MessagesRequest is a POST /v1/messages body.
type MessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens,omitempty"`
	Messages      []Message       `json:"messages"`
	System        System          `json:"system,omitzero"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	TopK          *int            `json:"top_k,omitempty"`
	Tools         []Tool          `json:"tools,omitempty"`
	ToolChoice    *ToolChoice     `json:"tool_choice,omitempty"`
	Stream        bool            `json:"stream,omitempty"`
	Metadata      *Metadata       `json:"metadata,omitempty"`
	Thinking      json.RawMessage `json:"thinking,omitempty"`
	ServiceTier   string          `json:"service_tier,omitempty"`
}

// Metadata is the request metadata.
type Metadata struct {
	UserID string `json:"user_id,omitempty"`
}

// System is the system prompt: a string or an array of text blocks. It
// re-encodes in the shape it was decoded from.
type System struct {
	Text   *string
	Blocks []ContentBlock
}

// IsZero reports whether no system prompt was given (for omitzero).
func (s System) IsZero() bool { return s.Text == nil && s.Blocks == nil }

// String returns the system text, blocks joined by blank lines.
func (s System) String() string {
	if s.Text != nil {
		return *s.Text
	}
	var b bytes.Buffer
	for i, blk := range s.Blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(blk.Text)
	}
	return b.String()
}

// MarshalJSON encodes a string or blocks.
func (s System) MarshalJSON() ([]byte, error) {
	if s.Text != nil {
		return json.Marshal(*s.Text)
	}
	if s.Blocks != nil {
		return json.Marshal(s.Blocks)
	}
	return []byte("null"), nil
}

// UnmarshalJSON accepts a string or an array of text blocks.
func (s *System) UnmarshalJSON(b []byte) error {
	*s = System{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		s.Text = &v
		return nil
	case len(b) > 0 && b[0] == '[':
		blocks := []ContentBlock{}
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		s.Blocks = blocks
		return nil
	}
	return errors.New("system must be a string or an array of text blocks")
}

// Message is one conversation turn.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's content: a string (shorthand for one text block)
// or an array of blocks. It re-encodes in the shape it was decoded from.
type Content struct {
	Text   *string
	Blocks []ContentBlock
}

// TextContent returns Content holding the string s.
func TextContent(s string) Content { return Content{Text: &s} }

// AsBlocks returns the content as blocks; a string becomes one text block.
func (c Content) AsBlocks() []ContentBlock {
	if c.Text != nil {
		return []ContentBlock{{Type: BlockText, Text: *c.Text}}
	}
	return c.Blocks
}

// MarshalJSON encodes a string or blocks.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Text != nil {
		return json.Marshal(*c.Text)
	}
	if c.Blocks == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(c.Blocks)
}

// UnmarshalJSON accepts a string or an array of blocks.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		c.Text = &v
		return nil
	case len(b) > 0 && b[0] == '[':
		blocks := []ContentBlock{}
		if err := json.Unmarshal(b, &blocks); err != nil {
			return err
		}
		c.Blocks = blocks
		return nil
	}
	return errors.New("content must be a string or an array of content blocks")
}

// ContentBlock is one block of any type. Which fields are set depends on
// Type: text (Text), image (Source), tool_use (ID, Name, Input),
// tool_result (ToolUseID, Content, IsError), thinking (Thinking,
// Signature), redacted_thinking (Data).
type ContentBlock struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	Source       *Source         `json:"source,omitempty"`
	ID           string          `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Input        json.RawMessage `json:"input,omitempty"`
	ToolUseID    string          `json:"tool_use_id,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	IsError      bool            `json:"is_error,omitempty"`
	Thinking     string          `json:"thinking,omitempty"`
	Signature    string          `json:"signature,omitempty"`
	Data         string          `json:"data,omitempty"`
	Citations    json.RawMessage `json:"citations,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// MarshalJSON writes a text block's text even when empty (the API and the
// SDKs expect the key), and a tool_use block's input as {} when unset.
func (b ContentBlock) MarshalJSON() ([]byte, error) {
	type plain ContentBlock
	switch b.Type {
	case BlockText:
		return json.Marshal(struct {
			Type         string          `json:"type"`
			Text         string          `json:"text"`
			Citations    json.RawMessage `json:"citations,omitempty"`
			CacheControl json.RawMessage `json:"cache_control,omitempty"`
		}{b.Type, b.Text, b.Citations, b.CacheControl})
	case BlockToolUse:
		if len(b.Input) == 0 {
			b.Input = json.RawMessage("{}")
		}
	}
	return json.Marshal(plain(b))
}

// Source is an image or document source.
type Source struct {
	Type      string `json:"type"` // base64 | url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

// Block types.
const (
	BlockText             = "text"
	BlockImage            = "image"
	BlockDocument         = "document"
	BlockToolUse          = "tool_use"
	BlockToolResult       = "tool_result"
	BlockThinking         = "thinking"
	BlockRedactedThinking = "redacted_thinking"
)

// Tool is a client tool definition.
type Tool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	Type         string          `json:"type,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ToolChoice says how the model may use tools.
type ToolChoice struct {
	Type                   string `json:"type"` // auto | any | tool | none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse *bool  `json:"disable_parallel_tool_use,omitempty"`
}

// Response is a non-streamed message, and the message in message_start.
type Response struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []ContentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        Usage          `json:"usage"`
}

// Usage counts tokens. InputTokens excludes cached tokens: the whole prompt
// is InputTokens + CacheCreationInputTokens + CacheReadInputTokens.
type Usage struct {
	InputTokens              int    `json:"input_tokens"`
	OutputTokens             int    `json:"output_tokens"`
	CacheCreationInputTokens int    `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int    `json:"cache_read_input_tokens"`
	ServiceTier              string `json:"service_tier,omitempty"`
}

// Stop reasons.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopSequence     = "stop_sequence"
	StopToolUse      = "tool_use"
	StopPauseTurn    = "pause_turn"
	StopRefusal      = "refusal"
	StopContextLimit = "model_context_window_exceeded"
)
