package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// The error bodies of faults, per provider. Sources are in
// docs/simulator.md; the context windows below only make the numbers in
// the messages plausible, the simulator has no real limit.
const (
	faultContextWindow          = 128000 // OpenAI and Azure chat models
	faultEmbeddingContextWindow = 8192
	faultAnthropicContextWindow = 200000
)

// statusError is the provider's body for a status fault (or the 503 of a
// flapping one). retryAfter > 0 adds retry-after, and retry-after-ms on
// OpenAI and Azure; 0 sends neither, so "429 without Retry-After" is
// expressible.
func statusError(provider string, status int, retryAfter time.Duration) *apiError {
	e := &apiError{status: status, msg: statusMessage(provider, status, retryAfter), retryAfter: retryAfter, retryMS: true}
	switch {
	case provider == ProviderAzure && (status == 429 || status == 503 || status == 404 || status == 401):
		e.front = true
	case provider == ProviderOpenAI && status == 429:
		e.typ, e.code = "requests", "rate_limit_exceeded"
	}
	return e
}

func statusMessage(provider string, status int, retryAfter time.Duration) string {
	switch {
	case provider == ProviderAnthropic && status == 529:
		return "Overloaded"
	case provider == ProviderAnthropic && status >= 500:
		return "Internal server error"
	case provider == ProviderAzure && status == 429 && retryAfter > 0:
		return "Rate limit is exceeded. Try again in " + strconv.Itoa(ceilSeconds(retryAfter)) + " seconds."
	case provider == ProviderAzure && status == 429:
		return "Rate limit is exceeded."
	case provider == ProviderAzure && status == 503:
		return "The service is temporarily unable to process your request. Please try again later."
	case provider == ProviderAzure && status >= 500:
		return "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error."
	case status == 503:
		return "The engine is currently overloaded, please try again later"
	case status == 502:
		return "Bad gateway."
	case status >= 500:
		return "The server had an error while processing your request. Sorry about that!"
	case status == 429 && retryAfter > 0:
		return "Rate limit reached (simulated fault). Please try again in " + goDuration(retryAfter) + "."
	case status == 429:
		return "Rate limit reached (simulated fault)."
	}
	return "Simulated error " + http.StatusText(status) + "."
}

// contextLengthError is the provider's 400 for a prompt over the context
// window (providers.md §1.6; Anthropic's message as its API words it).
// The prompt is reported as prompt tokens over the window.
func contextLengthError(provider string, prompt int, chat bool) *apiError {
	if provider == ProviderAnthropic {
		return badRequest("prompt is too long: %d tokens > %d maximum", faultAnthropicContextWindow+prompt, faultAnthropicContextWindow)
	}
	if !chat {
		n := faultEmbeddingContextWindow + prompt
		return &apiError{status: http.StatusBadRequest, typ: openai.TypeInvalidRequest,
			msg: fmt.Sprintf("This model's maximum context length is %d tokens, however you requested %d tokens (%d in your prompt; 0 for the completion). "+
				"Please reduce your prompt; or completion length.", faultEmbeddingContextWindow, n, n)}
	}
	return &apiError{status: http.StatusBadRequest, typ: openai.TypeInvalidRequest, param: "messages", code: "context_length_exceeded",
		msg: fmt.Sprintf("This model's maximum context length is %d tokens. However, your messages resulted in %d tokens. "+
			"Please reduce the length of the messages.", faultContextWindow, faultContextWindow+prompt)}
}

// azureFilterBlocked is the filter result of a blocked prompt
// (providers.md §5.7).
const azureFilterBlocked = `{"hate":{"filtered":false,"severity":"safe"},` +
	`"jailbreak":{"filtered":false,"detected":false},` +
	`"self_harm":{"filtered":true,"severity":"medium"},` +
	`"sexual":{"filtered":false,"severity":"safe"},` +
	`"violence":{"filtered":false,"severity":"safe"}}`

// azureFilterError is Azure's content-filter error: the OpenAI envelope
// with type null, status and innererror.
type azureFilterError struct {
	Error struct {
		Message    string  `json:"message"`
		Type       *string `json:"type"`
		Param      string  `json:"param"`
		Code       string  `json:"code"`
		Status     int     `json:"status"`
		InnerError struct {
			Code                string          `json:"code"`
			ContentFilterResult json.RawMessage `json:"content_filter_result"`
		} `json:"innererror"`
	} `json:"error"`
}

// contentFilterError is the 400 for a prompt the provider's filter
// blocked: Azure's shape (providers.md §5.7), and for OpenAI its plain
// envelope with the same param and code. Anthropic has no such error; a
// content_filter fault there is a refusal (see serveMessages).
func contentFilterError(provider string) *apiError {
	if provider != ProviderAzure {
		return &apiError{status: http.StatusBadRequest, typ: openai.TypeInvalidRequest, param: "prompt", code: "content_filter",
			msg: "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system."}
	}
	var b azureFilterError
	b.Error.Message = "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. " +
		"Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: " +
		"https://go.microsoft.com/fwlink/?linkid=2198766"
	b.Error.Param, b.Error.Code, b.Error.Status = "prompt", "content_filter", http.StatusBadRequest
	b.Error.InnerError.Code = "ResponsibleAIPolicyViolation"
	b.Error.InnerError.ContentFilterResult = json.RawMessage(azureFilterBlocked)
	raw, _ := json.Marshal(b)
	return &apiError{status: http.StatusBadRequest, raw: raw}
}

// prefillMessage is what models without prefill support answer
// (providers.md §4.2).
const prefillMessage = "This model does not support assistant message prefill. The conversation must end with a user message."

// prefillError is the 400 for a conversation ending with an assistant
// message on a model that does not take prefills: Anthropic's error, in
// the OpenAI envelope on OpenAI and Azure.
func prefillError(provider string) *apiError {
	if provider == ProviderAnthropic {
		return &apiError{status: http.StatusBadRequest, typ: anthropic.TypeInvalidRequest, msg: prefillMessage}
	}
	return &apiError{status: http.StatusBadRequest, typ: openai.TypeInvalidRequest, param: "messages", msg: prefillMessage}
}
