package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// Error is a request that cannot be translated because of what the client
// sent. The gateway answers it with 400 in the client's format, naming
// Param (the JSON path of the offending field, in the client's request,
// e.g. "messages[2].tool_calls[0].function.arguments"; empty when the
// request as a whole is at fault).
type Error struct {
	Param   string
	Message string
}

// Error returns "translate: <param>: <message>".
func (e *Error) Error() string {
	if e.Param == "" {
		return "translate: " + e.Message
	}
	return "translate: " + e.Param + ": " + e.Message
}

func errorf(param, format string, args ...any) *Error {
	return &Error{Param: param, Message: fmt.Sprintf(format, args...)}
}

// UpstreamError is returned by a stream converter's Event when the upstream
// stream carried an error (an Anthropic error event, or an OpenAI data
// payload with an "error" key). The converter has already written the error
// to the client in the client's format, so the caller must stop relaying
// and write nothing more.
type UpstreamError struct {
	Type    string // the upstream's error type or code, as sent
	Message string
}

// Error returns "translate: upstream stream error: <type>: <message>".
func (e *UpstreamError) Error() string {
	return "translate: upstream stream error: " + e.Type + ": " + e.Message
}

// upstreamFault is an error body of either format reduced to what both
// formats can express.
type upstreamFault struct {
	typ       string // Anthropic error.type, or OpenAI error.type
	code      string // OpenAI error.code (string or number), Anthropic error.details.error_code
	message   string
	parseable bool
}

// parseAnthropicError reads {"type":"error","error":{"type","message",
// "details":{"error_code"}}}, the body of a failed response and the data of
// an error event alike.
func parseAnthropicError(body []byte) upstreamFault {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		return upstreamFault{}
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(env.Error, &inner) != nil {
		// {"error":"text"}: not Anthropic's shape, but readable.
		msg := scalar(env.Error)
		return upstreamFault{message: msg, parseable: msg != ""}
	}
	f := upstreamFault{typ: scalar(inner["type"]), message: scalar(inner["message"]), parseable: true}
	var details map[string]json.RawMessage
	if json.Unmarshal(inner["details"], &details) == nil {
		f.code = scalar(details["error_code"])
	}
	return f
}

// parseOpenAIError reads OpenAI's {"error":{"message","type","param","code"}},
// Azure's variant ({"error":{"code":"429","message"}}, no type), and the
// shapes OpenAI-compatible servers use: {"error":"text"}, {"message":"text"},
// {"detail":"text"}.
func parseOpenAIError(body []byte) upstreamFault {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return upstreamFault{}
	}
	if raw, ok := env["error"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) != nil {
			msg := scalar(raw)
			return upstreamFault{message: msg, parseable: msg != ""}
		}
		return upstreamFault{
			typ:       scalar(inner["type"]),
			code:      scalar(inner["code"]),
			message:   scalar(inner["message"]),
			parseable: true,
		}
	}
	for _, key := range []string{"message", "detail"} {
		if msg := scalar(env[key]); msg != "" {
			return upstreamFault{message: msg, parseable: true}
		}
	}
	return upstreamFault{}
}

// scalar returns a JSON string's value or a number's text; "" otherwise.
func scalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return ""
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return string(raw)
	}
	return ""
}

func genericMessage(status int) string {
	if status <= 0 || status == 200 {
		return "The upstream provider failed while streaming the response."
	}
	return fmt.Sprintf("The upstream provider returned HTTP %d with an unreadable error body.", status)
}

// ErrorToOpenAI converts an Anthropic error body (or the data of an
// Anthropic error event, with status 0) into an OpenAI error body for the
// same status. The message is kept verbatim; type and code are chosen so
// that OpenAI clients branch the way they would on OpenAI's own errors
// (rate limits get code rate_limit_exceeded, spend caps insufficient_quota,
// a too-long prompt context_length_exceeded). An unreadable body yields a
// generic message.
func ErrorToOpenAI(status int, anthropicBody []byte) []byte {
	f := parseAnthropicError(anthropicBody)
	if f.message == "" {
		f.message = genericMessage(status)
	}
	typ, code := openAIKind(status, f)
	return openai.NewError(typ, code, "", f.message)
}

// openAIKind returns the OpenAI error type and code for an Anthropic fault.
func openAIKind(status int, f upstreamFault) (typ, code string) {
	kind := f.typ
	switch kind {
	case anthropic.TypeInvalidRequest, anthropic.TypeAuthentication, anthropic.TypeBilling,
		anthropic.TypePermission, anthropic.TypeNotFound, anthropic.TypeRequestTooLarge,
		anthropic.TypeRateLimit, anthropic.TypeAPI, anthropic.TypeTimeout, anthropic.TypeOverloaded:
	default:
		if status >= 400 {
			kind = anthropic.TypeForStatus(status)
		} else {
			kind = anthropic.TypeAPI
		}
	}
	switch kind {
	case anthropic.TypeRateLimit:
		if f.code == "enforced_spend_limit_reached" {
			return "insufficient_quota", "insufficient_quota"
		}
		if strings.Contains(f.message, "requests per minute") {
			return openai.TypeRequests, "rate_limit_exceeded"
		}
		return openai.TypeTokens, "rate_limit_exceeded"
	case anthropic.TypeBilling:
		return "insufficient_quota", "insufficient_quota"
	case anthropic.TypeAuthentication:
		return openai.TypeInvalidRequest, "invalid_api_key"
	case anthropic.TypeAPI, anthropic.TypeOverloaded, anthropic.TypeTimeout:
		return openai.TypeServer, ""
	case anthropic.TypeInvalidRequest:
		if strings.Contains(f.message, "prompt is too long") {
			return openai.TypeInvalidRequest, "context_length_exceeded"
		}
	}
	return openai.TypeInvalidRequest, ""
}

// ErrorToAnthropic converts an OpenAI error body (or Azure's, or an
// OpenAI-compatible server's; or the data of a mid-stream error payload,
// with status 0) into an Anthropic error body for the same status. The
// error type follows the status the way Anthropic assigns it; without an
// error status it is inferred from the OpenAI type and code. An unreadable
// body yields a generic message.
func ErrorToAnthropic(status int, openaiBody []byte) []byte {
	f := parseOpenAIError(openaiBody)
	if f.message == "" {
		f.message = genericMessage(status)
	}
	return anthropic.NewError(anthropicKind(status, f), f.message, "")
}

// anthropicKind returns the Anthropic error type for an OpenAI fault.
func anthropicKind(status int, f upstreamFault) string {
	if status >= 400 {
		return anthropic.TypeForStatus(status)
	}
	switch {
	case f.code == "insufficient_quota" || f.typ == "insufficient_quota":
		return anthropic.TypeBilling
	case f.code == "rate_limit_exceeded" || f.code == "429" ||
		f.typ == openai.TypeTokens || f.typ == openai.TypeRequests:
		return anthropic.TypeRateLimit
	case f.code == "invalid_api_key":
		return anthropic.TypeAuthentication
	case f.typ == openai.TypeInvalidRequest:
		return anthropic.TypeInvalidRequest
	}
	return anthropic.TypeAPI
}
