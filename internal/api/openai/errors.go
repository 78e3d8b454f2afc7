package openai

import "encoding/json"

// ErrorBody is the OpenAI error envelope. The spec marks all four keys of
// the inner object required; Param and Code are nullable.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is the inner error object.
type Error struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Error types used by OpenAI.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServer         = "server_error"
	TypeTokens         = "tokens"   // 429 on tokens per minute (sic)
	TypeRequests       = "requests" // 429 on requests per minute (sic)
)

// NewError returns an encoded error body. Empty code or param encode as null.
func NewError(typ, code, param, message string) []byte {
	e := Error{Message: message, Type: typ}
	if code != "" {
		e.Code = &code
	}
	if param != "" {
		e.Param = &param
	}
	b, _ := json.Marshal(ErrorBody{Error: e})
	return b
}
