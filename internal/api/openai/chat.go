// Package openai holds the OpenAI wire types: chat completions (plain and
// streamed), embeddings, models and the error envelope. Field names and
// shapes follow the OpenAI OpenAPI spec (openai-openapi openapi.yaml) and
// what the official SDKs parse; see ../shared/reference/providers.md §1–2.
package openai

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ChatRequest is a POST /v1/chat/completions body. Fields llmux never reads
// are kept in Extra only when decoded with DecodeChatRequest, so translation
// can see what it drops; pass-through never decodes at all.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	Stop                Stop            `json:"stop,omitzero"`
	N                   *int            `json:"n,omitempty"`
	User                string          `json:"user,omitempty"`
	SafetyIdentifier    string          `json:"safety_identifier,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	PresencePenalty     *float64        `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty,omitempty"`
	Logprobs            *bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int            `json:"top_logprobs,omitempty"`
	LogitBias           json.RawMessage `json:"logit_bias,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	ReasoningEffort     string          `json:"reasoning_effort,omitempty"`
}

// StreamOptions is the stream_options object.
type StreamOptions struct {
	IncludeUsage       bool  `json:"include_usage,omitempty"`
	IncludeObfuscation *bool `json:"include_obfuscation,omitempty"`
}

// OutputLimit returns the requested output cap: max_completion_tokens if
// set, else max_tokens, else 0.
func (r *ChatRequest) OutputLimit() int {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// Message is one chat message. Content is null, a string, or parts.
type Message struct {
	Role       string     `json:"role"`
	Content    Content    `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Refusal    *string    `json:"refusal,omitempty"`
}

// Content is a message's content: JSON null, a string, or an array of parts.
// It re-encodes in the shape it was decoded from.
type Content struct {
	// Text is set when the content was a JSON string.
	Text *string
	// Parts is set when the content was an array.
	Parts []ContentPart
}

// TextContent returns Content holding the string s.
func TextContent(s string) Content { return Content{Text: &s} }

// IsNull reports whether the content is JSON null (or absent).
func (c Content) IsNull() bool { return c.Text == nil && c.Parts == nil }

// String returns the text of the content: the string, or the text parts
// joined.
func (c Content) String() string {
	if c.Text != nil {
		return *c.Text
	}
	var b bytes.Buffer
	for _, p := range c.Parts {
		if p.Type == "text" || p.Type == "refusal" {
			b.WriteString(p.Text)
			b.WriteString(p.Refusal)
		}
	}
	return b.String()
}

// MarshalJSON encodes null, a string or the parts.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Text != nil:
		return json.Marshal(*c.Text)
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	default:
		return []byte("null"), nil
	}
}

// UnmarshalJSON accepts null, a string or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Text = &s
		return nil
	case len(b) > 0 && b[0] == '[':
		parts := []ContentPart{}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		c.Parts = parts
		return nil
	}
	return errors.New("content must be a string, an array of content parts, or null")
}

// ContentPart is one element of an array content.
type ContentPart struct {
	Type       string          `json:"type"`
	Text       string          `json:"text,omitempty"`
	Refusal    string          `json:"refusal,omitempty"`
	ImageURL   *ImageURL       `json:"image_url,omitempty"`
	InputAudio json.RawMessage `json:"input_audio,omitempty"`
	File       json.RawMessage `json:"file,omitempty"`
	// CacheControl is not part of the OpenAI API; clients that target
	// Anthropic through an OpenAI-compatible gateway (LiteLLM's
	// convention) set it, and translation to Anthropic keeps it.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// ImageURL is an image_url part's payload: an https URL or a data URL.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// Tool is one entry of tools.
type Tool struct {
	Type     string    `json:"type"`
	Function *Function `json:"function,omitempty"`
}

// Function describes a callable function tool.
type Function struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolCall is a call the assistant made. Arguments is a JSON string that
// may not be valid JSON.
type ToolCall struct {
	// Index is set only in stream deltas.
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is the function part of a ToolCall.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Stop is the stop field: a string or a list of strings. It re-encodes in
// the shape it was decoded from.
type Stop struct {
	List     []string
	isString bool
}

// StopList returns a Stop that encodes as a list.
func StopList(s []string) Stop { return Stop{List: s} }

// IsZero reports whether no stop was given (for omitzero).
func (s Stop) IsZero() bool { return s.List == nil }

// MarshalJSON encodes a string or a list.
func (s Stop) MarshalJSON() ([]byte, error) {
	if s.isString && len(s.List) == 1 {
		return json.Marshal(s.List[0])
	}
	if s.List == nil {
		return []byte("null"), nil
	}
	return json.Marshal(s.List)
}

// UnmarshalJSON accepts null, a string or a list of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	*s = Stop{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = Stop{List: []string{v}, isString: true}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	if list == nil {
		list = []string{}
	}
	s.List = list
	return nil
}

// ChatResponse is a non-streamed chat completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	ServiceTier       string   `json:"service_tier,omitempty"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
	// PromptFilterResults is Azure OpenAI's per-prompt content filter
	// annotation (providers.md §5.7); OpenAI never sends it.
	PromptFilterResults json.RawMessage `json:"prompt_filter_results,omitempty"`
}

// Choice is one completion choice.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
	// ContentFilterResults is Azure OpenAI's per-choice content filter
	// annotation; OpenAI never sends it.
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// ResponseMessage is the assistant message in a Choice. Content is null
// when the model only called tools.
type ResponseMessage struct {
	Role        string          `json:"role"`
	Content     *string         `json:"content"`
	Refusal     *string         `json:"refusal"`
	ToolCalls   []ToolCall      `json:"tool_calls,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
}

// Usage is the token usage of a completion. PromptTokens includes cached
// tokens; CompletionTokens includes reasoning tokens.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks prompt tokens down.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
	AudioTokens  int `json:"audio_tokens"`
	// CacheWriteTokens counts prompt tokens written to the cache (2026
	// snapshot; billed for the newest models). Omitted when zero.
	CacheWriteTokens int `json:"cache_write_tokens,omitempty"`
}

// CompletionTokensDetails breaks completion tokens down.
type CompletionTokensDetails struct {
	ReasoningTokens          int `json:"reasoning_tokens"`
	AudioTokens              int `json:"audio_tokens"`
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
}

// ChatChunk is one streamed chat.completion.chunk. Usage is encoded as
// null on every chunk when the client asked for include_usage, and left out
// otherwise; the encoder decides (see ChunkUsage).
type ChatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint string          `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
	// PromptFilterResults is set on Azure OpenAI's first chunk, which has
	// empty choices (providers.md §5.7).
	PromptFilterResults json.RawMessage `json:"prompt_filter_results,omitempty"`
}

// ChunkChoice is one choice's delta in a chunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
	// ContentFilterResults is Azure OpenAI's per-chunk content filter
	// annotation; OpenAI never sends it.
	ContentFilterResults json.RawMessage `json:"content_filter_results,omitempty"`
}

// Delta is the incremental message in a chunk.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

// Object names.
const (
	ObjectChatCompletion = "chat.completion"
	ObjectChunk          = "chat.completion.chunk"
	ObjectList           = "list"
	ObjectEmbedding      = "embedding"
	ObjectModel          = "model"
)

// Finish reasons.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Done is the data of the event that ends an OpenAI stream.
var Done = []byte("[DONE]")
