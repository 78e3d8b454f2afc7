package openai

import (
	"bytes"
	"encoding/json"
	"errors"
)

// EmbeddingRequest is a POST /v1/embeddings body.
type EmbeddingRequest struct {
	Model          string         `json:"model"`
	Input          EmbeddingInput `json:"input"`
	EncodingFormat string         `json:"encoding_format,omitempty"`
	Dimensions     *int           `json:"dimensions,omitempty"`
	User           string         `json:"user,omitempty"`
}

// EmbeddingInput is the input field: a string, a list of strings, a list
// of token ids, or a list of token-id lists. Texts holds strings; Tokens
// holds token arrays (one per input).
type EmbeddingInput struct {
	Texts  []string
	Tokens [][]int
	shape  byte // 's' string, 'S' strings, 't' tokens, 'T' token lists
}

// Len returns the number of inputs.
func (in EmbeddingInput) Len() int { return len(in.Texts) + len(in.Tokens) }

// MarshalJSON encodes the input in its original shape.
func (in EmbeddingInput) MarshalJSON() ([]byte, error) {
	switch in.shape {
	case 's':
		return json.Marshal(in.Texts[0])
	case 't':
		return json.Marshal(in.Tokens[0])
	case 'T':
		return json.Marshal(in.Tokens)
	}
	if in.Tokens != nil {
		return json.Marshal(in.Tokens)
	}
	return json.Marshal(in.Texts)
}

// UnmarshalJSON accepts every documented input shape.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	*in = EmbeddingInput{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("input is empty")
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*in = EmbeddingInput{Texts: []string{s}, shape: 's'}
		return nil
	}
	var strs []string
	if err := json.Unmarshal(b, &strs); err == nil {
		*in = EmbeddingInput{Texts: strs, shape: 'S'}
		return nil
	}
	var toks []int
	if err := json.Unmarshal(b, &toks); err == nil {
		*in = EmbeddingInput{Tokens: [][]int{toks}, shape: 't'}
		return nil
	}
	var lists [][]int
	if err := json.Unmarshal(b, &lists); err == nil {
		*in = EmbeddingInput{Tokens: lists, shape: 'T'}
		return nil
	}
	return errors.New("input must be a string, an array of strings, an array of tokens, or an array of token arrays")
}

// EmbeddingResponse is the embeddings list.
type EmbeddingResponse struct {
	Object string          `json:"object"`
	Data   []Embedding     `json:"data"`
	Model  string          `json:"model"`
	Usage  EmbeddingsUsage `json:"usage"`
}

// Embedding is one vector. Embedding holds a JSON array of floats, or a
// base64 string of little-endian float32s when encoding_format is base64.
type Embedding struct {
	Object    string          `json:"object"`
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
}

// EmbeddingsUsage counts input tokens only.
type EmbeddingsUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// Model is one entry of GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the GET /v1/models body.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}
