package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/api/sse"
)

// The fault matrix's raw HTTP client: it sends a cell's request with
// net/http, reads the whole answer and classifies it by what the client
// got, in the client's own wire format — no SDK in between, so a
// duplicated token or a missing [DONE] is seen as it is.

// newFaultsClient is the client of a run. Each request is bounded by its
// context (faultsCellLimit), not by the client.
func newFaultsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
}

// faultsRequest is a cell's request to the gateway: one user message,
// in the client's format; a streamed OpenAI request asks for usage.
func faultsRequest(ctx context.Context, base, client, route string, stream bool) (*http.Request, error) {
	msg := map[string]any{"role": "user", "content": faultsPrompt}
	body := map[string]any{"model": route, "max_tokens": faultsMaxTokens, "messages": []any{msg}}
	path := "/v1/chat/completions"
	if stream {
		body["stream"] = true
		if client == faultsOpenAI {
			body["stream_options"] = map[string]any{"include_usage": true}
		}
	}
	if client == faultsAnthropic {
		path = "/v1/messages"
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("bench faults: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("bench faults: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if client == faultsAnthropic {
		req.Header.Set("x-api-key", faultsClientKey)
		req.Header.Set("anthropic-version", "2023-06-01")
	} else {
		req.Header.Set("Authorization", "Bearer "+faultsClientKey)
	}
	return req, nil
}

// reference gets the healthy route's answer: the text every cell must
// produce. It must be long enough to be cut well inside.
func (e *faultsEnv) reference(ctx context.Context, client *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, faultsCellLimit)
	defer cancel()
	req, err := faultsRequest(ctx, e.url, faultsOpenAI, faultsReference, false)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench faults: reference: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench faults: reference: status %d, %.200q, %v", resp.StatusCode, body, err)
	}
	v := openAIJSON(body)
	if v.outcome != "" || v.outTokens < 3*faultsCutAfter {
		return "", fmt.Errorf("bench faults: the reference route answered %q (%d tokens) %s", v.text, v.outTokens, v.detail)
	}
	return v.text, nil
}

// sendCell sends cell c's request, reads the whole answer and classifies
// it against want. The upstream counts are filled in later.
func sendCell(ctx context.Context, client *http.Client, base string, c faultCell, want string) faultObs {
	ctx, cancel := context.WithTimeout(ctx, faultsCellLimit)
	defer cancel()
	start := time.Now()
	req, err := faultsRequest(ctx, base, c.client, c.route(), c.stream)
	if err != nil {
		return faultObs{outcome: OutcomeFail, detail: err.Error()}
	}
	resp, err := client.Do(req)
	if err != nil {
		return faultObs{outcome: OutcomeFail, detail: "no response: " + err.Error(), wall: time.Since(start)}
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	o := faultObs{wall: time.Since(start), deployment: resp.Header.Get("x-llmux-deployment")}
	o.attempts, _ = strconv.Atoi(resp.Header.Get("x-llmux-attempts"))
	o.log = resp.Header.Get("x-llmux-attempt-log")
	if o.log == "" {
		o.log = resp.Trailer.Get("x-llmux-attempt-log")
	}
	if n := resp.Trailer.Get("x-llmux-attempts"); n != "" {
		o.attempts, _ = strconv.Atoi(n) // streams: the final count comes as a trailer
	}
	v := classify(c.client, c.stream, resp.StatusCode, body, rerr, want)
	o.outcome, o.detail, o.text, o.outTokens, o.model = v.outcome, v.detail, v.text, v.outTokens, v.model
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.outcome, o.detail = OutcomeFail, fmt.Sprintf("no complete answer within %v", faultsCellLimit)
	}
	return o
}

// verdict is what the client got, classified.
type verdict struct {
	outcome, detail string
	text            string
	outTokens       int64
	model           string
}

// classify sorts what a client got into pass, partial, safe or fail.
// readErr is the error reading the body ended with, if any.
func classify(client string, stream bool, status int, body []byte, readErr error, want string) verdict {
	if status != http.StatusOK {
		return classifyError(client, status, body)
	}
	var v verdict
	switch {
	case !stream && client == faultsOpenAI:
		v = openAIJSON(body)
	case !stream:
		v = anthropicJSON(body)
	case client == faultsOpenAI:
		v = openAIEvents(body)
	default:
		v = anthropicEvents(body)
	}
	if v.outcome != "" { // already decided: an error event, or broken
		return finishPartial(v, want)
	}
	switch {
	case readErr != nil:
		v.outcome, v.detail = OutcomeFail, "the body ended with an error: "+readErr.Error()
	case v.text != want:
		v.outcome, v.detail = OutcomeFail, fmt.Sprintf("text %q, want %q", v.text, want)
	case v.outTokens <= 0:
		v.outcome, v.detail = OutcomeFail, "no output tokens in the usage"
	default:
		v.outcome = OutcomePass
	}
	return v
}

// finishPartial decides a stream that ended with an error event: safe
// with no answer, partial after a part of the right answer, fail after
// text that is not the answer's start.
func finishPartial(v verdict, want string) verdict {
	if v.outcome != OutcomePartial {
		return v
	}
	switch {
	case !strings.HasPrefix(want, v.text):
		v.outcome, v.detail = OutcomeFail, fmt.Sprintf("text %q before the error event is not the answer's start; error: %s", v.text, v.detail)
	case v.text == "":
		v.outcome = OutcomeSafe
	}
	return v
}

// classifyError: a non-200 answer is safe when it is an error in the
// client's format with a message.
func classifyError(client string, status int, body []byte) verdict {
	var e struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == nil || e.Error.Message == "" ||
		client == faultsAnthropic && e.Type != "error" {
		return verdict{outcome: OutcomeFail, detail: fmt.Sprintf("status %d with no error in the %s format: %.200q", status, client, body)}
	}
	return verdict{outcome: OutcomeSafe, detail: fmt.Sprintf("status %d: %s", status, e.Error.Message)}
}

func openAIJSON(body []byte) verdict {
	var r struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage *struct {
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return verdict{outcome: OutcomeFail, detail: "the body does not parse: " + err.Error()}
	}
	if len(r.Choices) != 1 {
		return verdict{outcome: OutcomeFail, detail: fmt.Sprintf("%d choices, want 1", len(r.Choices)), model: r.Model}
	}
	v := verdict{text: r.Choices[0].Message.Content, model: r.Model}
	if r.Usage != nil {
		v.outTokens = r.Usage.CompletionTokens
	}
	return v
}

func anthropicJSON(body []byte) verdict {
	var r struct {
		Type    string `json:"type"`
		Model   string `json:"model"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		Usage *struct {
			OutputTokens int64 `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return verdict{outcome: OutcomeFail, detail: "the body does not parse: " + err.Error()}
	}
	if r.Type != "message" {
		return verdict{outcome: OutcomeFail, detail: fmt.Sprintf("type %q, want message", r.Type), model: r.Model}
	}
	v := verdict{model: r.Model}
	for _, b := range r.Content {
		v.text += b.Text
	}
	if r.Usage != nil {
		v.outTokens = r.Usage.OutputTokens
	}
	return v
}

// openAIChunk is the part of an OpenAI stream chunk (or error event) the
// classification reads.
type openAIChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// openAIEvents reads an OpenAI stream: one chunk id, the text, one usage
// chunk, one [DONE] and nothing after it; or an error event (outcome
// partial, which finishPartial refines).
func openAIEvents(body []byte) verdict {
	var v verdict
	ids := map[string]bool{}
	dones, usages := 0, 0
	rd := sse.NewReader(bytes.NewReader(body))
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return broken(v, "the stream does not parse: "+err.Error())
		}
		if dones > 0 {
			return broken(v, "an event after [DONE]")
		}
		if string(ev.Data) == "[DONE]" {
			dones++
			continue
		}
		var c openAIChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return broken(v, fmt.Sprintf("event %.100q does not parse: %v", ev.Data, err))
		}
		if c.Error != nil {
			v.outcome, v.detail = OutcomePartial, "error event: "+c.Error.Message
			return v
		}
		ids[c.ID] = true
		if c.Model != "" {
			v.model = c.Model
		}
		for _, ch := range c.Choices {
			v.text += ch.Delta.Content
		}
		if c.Usage != nil {
			usages++
			v.outTokens = c.Usage.CompletionTokens
		}
	}
	switch {
	case dones != 1:
		return broken(v, fmt.Sprintf("%d [DONE], want 1, and no error event", dones))
	case len(ids) != 1:
		return broken(v, fmt.Sprintf("%d chunk ids, want 1", len(ids)))
	case usages != 1:
		return broken(v, fmt.Sprintf("%d usage chunks, want 1", usages))
	}
	return v
}

// anthropicEvent is the part of an Anthropic stream event the
// classification reads.
type anthropicEvent struct {
	Message *struct {
		Model string `json:"model"`
	} `json:"message"`
	Delta *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"delta"`
	Usage *struct {
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// anthropicEvents reads an Anthropic stream: one message_start, text
// deltas, one message_delta with usage, one message_stop and nothing
// after it; or an error event.
func anthropicEvents(body []byte) verdict {
	var v verdict
	counts := map[string]int{}
	rd := sse.NewReader(bytes.NewReader(body))
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return broken(v, "the stream does not parse: "+err.Error())
		}
		if counts["message_stop"] > 0 {
			return broken(v, "an event after message_stop")
		}
		counts[ev.Name]++
		var e anthropicEvent
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return broken(v, fmt.Sprintf("event %s %.100q does not parse: %v", ev.Name, ev.Data, err))
		}
		switch ev.Name {
		case "error":
			v.outcome, v.detail = OutcomePartial, "error event"
			if e.Error != nil {
				v.detail += ": " + e.Error.Message
			}
			return v
		case "message_start":
			if e.Message != nil {
				v.model = e.Message.Model
			}
		case "content_block_delta":
			if e.Delta != nil && e.Delta.Type == "text_delta" {
				v.text += e.Delta.Text
			}
		case "message_delta":
			if e.Usage != nil {
				v.outTokens = e.Usage.OutputTokens
			}
		}
	}
	for _, name := range []string{"message_start", "message_delta", "message_stop"} {
		if counts[name] != 1 {
			return broken(v, fmt.Sprintf("%d %s, want 1, and no error event", counts[name], name))
		}
	}
	return v
}

// broken marks v failed for why.
func broken(v verdict, why string) verdict {
	v.outcome, v.detail = OutcomeFail, why
	return v
}
