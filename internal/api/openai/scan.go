package openai

import (
	"encoding/json"
	"fmt"
)

// Scan holds what the gateway needs from a request body without decoding
// it fully: the route, whether it streams, the requested output, and
// whether usage was asked for in the stream.
type Scan struct {
	Model               string         `json:"model"`
	Stream              bool           `json:"stream"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	N                   *int           `json:"n"`
	StreamOptions       *StreamOptions `json:"stream_options"`
}

// ScanRequest reads the scan fields of a chat or embeddings body.
func ScanRequest(body []byte) (Scan, error) {
	var s Scan
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("parse request body: %w", err)
	}
	return s, nil
}

// IncludeUsage reports whether the client asked for a usage chunk.
func (s Scan) IncludeUsage() bool { return s.StreamOptions != nil && s.StreamOptions.IncludeUsage }
