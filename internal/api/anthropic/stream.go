package anthropic

import "encoding/json"

// Stream event names. The event name equals the data's type field.
const (
	EventMessageStart      = "message_start"
	EventContentBlockStart = "content_block_start"
	EventContentBlockDelta = "content_block_delta"
	EventContentBlockStop  = "content_block_stop"
	EventMessageDelta      = "message_delta"
	EventMessageStop       = "message_stop"
	EventPing              = "ping"
	EventError             = "error"
)

// Delta types in content_block_delta.
const (
	DeltaText      = "text_delta"
	DeltaInputJSON = "input_json_delta"
	DeltaThinking  = "thinking_delta"
	DeltaSignature = "signature_delta"
	DeltaCitations = "citations_delta"
)

// StreamEvent decodes any stream event; which fields are set depends on
// Type. Encode events with the specific types below, which match the wire
// exactly.
type StreamEvent struct {
	Type         string          `json:"type"`
	Message      *Response       `json:"message,omitempty"`
	Index        int             `json:"index"`
	ContentBlock *ContentBlock   `json:"content_block,omitempty"`
	Delta        json.RawMessage `json:"delta,omitempty"`
	Usage        *DeltaUsage     `json:"usage,omitempty"`
	Error        *Error          `json:"error,omitempty"`
}

// MessageStart is the message_start event.
type MessageStart struct {
	Type    string   `json:"type"`
	Message Response `json:"message"`
}

// ContentBlockStart is the content_block_start event.
type ContentBlockStart struct {
	Type         string       `json:"type"`
	Index        int          `json:"index"`
	ContentBlock ContentBlock `json:"content_block"`
}

// ContentBlockDelta is the content_block_delta event.
type ContentBlockDelta struct {
	Type  string     `json:"type"`
	Index int        `json:"index"`
	Delta BlockDelta `json:"delta"`
}

// BlockDelta is the delta of a content block.
type BlockDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
	Thinking    *string `json:"thinking,omitempty"`
	Signature   *string `json:"signature,omitempty"`
}

// ContentBlockStop is the content_block_stop event.
type ContentBlockStop struct {
	Type  string `json:"type"`
	Index int    `json:"index"`
}

// MessageDelta is the message_delta event. Usage values are cumulative.
type MessageDelta struct {
	Type  string           `json:"type"`
	Delta MessageDeltaBody `json:"delta"`
	Usage DeltaUsage       `json:"usage"`
}

// MessageDeltaBody carries the stop reason.
type MessageDeltaBody struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// DeltaUsage is the usage in message_delta: output_tokens always, the
// input fields when known.
type DeltaUsage struct {
	InputTokens              *int `json:"input_tokens,omitempty"`
	OutputTokens             int  `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens,omitempty"`
}

// TypeOnly is an event with only a type: message_stop and ping.
type TypeOnly struct {
	Type string `json:"type"`
}

// ErrorEvent is the error event sent after a 200 when a stream fails.
type ErrorEvent struct {
	Type  string `json:"type"`
	Error Error  `json:"error"`
}
