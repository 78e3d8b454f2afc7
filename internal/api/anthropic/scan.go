package anthropic

import (
	"encoding/json"
	"fmt"
)

// Scan holds what the gateway needs from a messages body without decoding
// it fully.
type Scan struct {
	Model     string `json:"model"`
	Stream    bool   `json:"stream"`
	MaxTokens *int   `json:"max_tokens"`
}

// ScanRequest reads the scan fields of a messages body.
func ScanRequest(body []byte) (Scan, error) {
	var s Scan
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("parse request body: %w", err)
	}
	return s, nil
}
