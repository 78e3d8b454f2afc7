package openai

import "encoding/json"

// AzureErrorBody is the error envelope Azure OpenAI's front end returns for
// authentication failures, rate limits, unknown routes and capacity errors:
// code is a string ("401", "429", "404") and there is no type or param
// (providers.md §5.6). Errors raised by the model itself (validation, 500
// server_error) keep the OpenAI envelope, ErrorBody.
type AzureErrorBody struct {
	Error AzureError `json:"error"`
}

// AzureError is the inner object of AzureErrorBody.
type AzureError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewAzureError returns an encoded AzureErrorBody.
func NewAzureError(code, message string) []byte {
	b, _ := json.Marshal(AzureErrorBody{Error: AzureError{Code: code, Message: message}})
	return b
}
