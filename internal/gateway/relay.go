package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/provider"
	"github.com/llmux/llmux/internal/translate"
)

// maxResponseBytes bounds a non-streamed upstream body.
const maxResponseBytes = 64 << 20

// errGarbage is an upstream 2xx body that is not what its format promises.
var errGarbage = errors.New("upstream sent a body that is not valid JSON")

func (g *Gateway) convertJSON(c *call, up *upstream, p *prepared, data []byte) ([]byte, usage, error) {
	if c.op == provider.OpEmbeddings {
		var r struct {
			Usage *openai.EmbeddingsUsage `json:"usage"`
		}
		if json.Unmarshal(data, &r) != nil {
			return nil, usage{}, errGarbage
		}
		if r.Usage != nil {
			return data, usage{input: r.Usage.PromptTokens}, nil
		}
		return data, usage{}, nil
	}
	switch {
	case p.passthrough && c.f == formatOpenAI:
		if !json.Valid(data) {
			return nil, usage{}, errGarbage
		}
		var u openai.Usage
		if !decodeUsage(data, &u) {
			return data, usage{}, nil
		}
		return data, openAIUsage(&u), nil
	case p.passthrough:
		if !json.Valid(data) {
			return nil, usage{}, errGarbage
		}
		var u anthropic.Usage
		if !decodeUsage(data, &u) {
			return data, usage{}, nil
		}
		return data, anthropicUsage(&u), nil
	case c.f == formatOpenAI: // Anthropic upstream
		var r anthropic.Response
		if json.Unmarshal(data, &r) != nil || r.Type != "message" {
			return nil, usage{}, errGarbage
		}
		out, err := json.Marshal(translate.AnthropicResponseToOpenAI(&r, r.Model))
		return out, anthropicUsage(&r.Usage), err
	default: // Anthropic client, OpenAI upstream
		var r openai.ChatResponse
		if json.Unmarshal(data, &r) != nil || len(r.Choices) == 0 {
			return nil, usage{}, errGarbage
		}
		out, err := json.Marshal(translate.OpenAIResponseToAnthropic(&r, r.Model))
		return out, openAIUsage(r.Usage), err
	}
}

// decodeUsage decodes the value of the last "usage" key of a valid JSON
// body into u, without decoding the rest (which cost a quarter of the
// non-streaming relay's CPU). A "usage": with unescaped quotes cannot
// occur inside a JSON string, so the match is the key itself; providers
// put usage at the top level, after the content.
// Bodies formatted some other way ("usage" : {...}) take the slow path.
func decodeUsage(data []byte, u any) bool {
	if i := bytes.LastIndex(data, usageKey); i >= 0 {
		if json.NewDecoder(bytes.NewReader(data[i+len(usageKey):])).Decode(u) == nil {
			return true
		}
	}
	var env struct {
		Usage json.RawMessage `json:"usage"`
	}
	return json.Unmarshal(data, &env) == nil && len(env.Usage) > 0 && json.Unmarshal(env.Usage, u) == nil
}

var usageKey = []byte(`"usage":`)

func openAIUsage(u *openai.Usage) usage {
	if u == nil {
		return usage{}
	}
	return usage{input: u.PromptTokens, output: u.CompletionTokens}
}

func anthropicUsage(u *anthropic.Usage) usage {
	if u == nil {
		return usage{}
	}
	return usage{input: u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens, output: u.OutputTokens}
}

// writeUpstreamError returns a client-fault error from upstream: unchanged
// when the client speaks the upstream's format, translated otherwise.
func (g *Gateway) writeUpstreamError(w http.ResponseWriter, c *call, up *upstream, e *provider.Error) outcome {
	body := e.Body
	if !json.Valid(body) {
		body = errorBody(c.f, &apiError{status: e.Status, message: fmt.Sprintf("upstream returned status %d", e.Status)},
			w.Header().Get(headerRequestID))
	} else if e.Format != c.f.wire() {
		if c.f == formatAnthropic {
			body = translate.ErrorToAnthropic(e.Status, body)
		} else {
			body = translate.ErrorToOpenAI(e.Status, body)
		}
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(headerDeployment, up.dep.Name)
	w.WriteHeader(status)
	w.Write(body)
	return outcome{status: status, deployment: up.dep.Name, reason: "upstream_client_error"}
}

// finalError is the answer when every attempt failed before reaching the
// client: 429 with Retry-After when all were rate limited, the
// translation error when no candidate could take the request, else 502.
func finalFailure(f format, failures []attemptFailure, limiterWait time.Duration) *apiError {
	allLimited := len(failures) > 0
	var wait time.Duration
	var last attemptFailure
	for _, fl := range failures {
		last = fl
		if fl.err == nil || fl.err.Class != provider.ClassRateLimited {
			allLimited = false
			continue
		}
		if ra := fl.err.RetryAfter; ra > 0 && (wait == 0 || ra < wait) {
			wait = ra
		}
	}
	switch {
	case len(failures) == 0:
		return &apiError{status: http.StatusServiceUnavailable, code: "no_deployment", message: "No deployment is available for this route."}
	case allLimited:
		if wait == 0 {
			wait = limiterWait
		}
		if wait == 0 {
			wait = time.Second
		}
		return &apiError{status: http.StatusTooManyRequests, code: "rate_limit_exceeded", retryAfter: wait,
			message: fmt.Sprintf("Every deployment of this route is rate limited; retry in %s.", wait.Round(time.Millisecond))}
	case last.clientErr != nil:
		return last.clientErr
	}
	msg := fmt.Sprintf("All %d upstream attempts failed; the last (deployment %s) with: %s",
		len(failures), last.deployment, describe(last.err))
	return &apiError{status: http.StatusBadGateway, code: "upstream_error", message: msg}
}

// describe summarises an upstream failure without the upstream body (which
// may echo account details).
func describe(e *provider.Error) string {
	switch {
	case e == nil:
		return "unknown error"
	case e.Status != 0 && e.Code != "":
		return fmt.Sprintf("status %d (%s)", e.Status, e.Code)
	case e.Status != 0:
		return fmt.Sprintf("status %d", e.Status)
	case provider.IsTimeout(e.Err):
		return "timeout"
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Class.String()
}
