package anthropic

import "encoding/json"

// ErrorBody is the Anthropic error envelope.
type ErrorBody struct {
	Type      string `json:"type"` // always "error"
	Error     Error  `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

// Error is the inner error.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Error types by HTTP status (docs.anthropic.com/en/api/errors).
const (
	TypeInvalidRequest  = "invalid_request_error" // 400
	TypeAuthentication  = "authentication_error"  // 401
	TypeBilling         = "billing_error"         // 402
	TypePermission      = "permission_error"      // 403
	TypeNotFound        = "not_found_error"       // 404
	TypeRequestTooLarge = "request_too_large"     // 413
	TypeRateLimit       = "rate_limit_error"      // 429
	TypeAPI             = "api_error"             // 500
	TypeTimeout         = "timeout_error"         // 504
	TypeOverloaded      = "overloaded_error"      // 529
)

// TypeForStatus returns the error type Anthropic uses for an HTTP status.
func TypeForStatus(status int) string {
	switch status {
	case 400:
		return TypeInvalidRequest
	case 401:
		return TypeAuthentication
	case 402:
		return TypeBilling
	case 403:
		return TypePermission
	case 404:
		return TypeNotFound
	case 413:
		return TypeRequestTooLarge
	case 429:
		return TypeRateLimit
	case 504:
		return TypeTimeout
	case 529:
		return TypeOverloaded
	}
	if status >= 500 {
		return TypeAPI
	}
	return TypeInvalidRequest
}

// NewError returns an encoded error body.
func NewError(typ, message, requestID string) []byte {
	b, _ := json.Marshal(ErrorBody{Type: "error", Error: Error{Type: typ, Message: message}, RequestID: requestID})
	return b
}
