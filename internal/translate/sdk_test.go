package translate

// These tests serve the converters' output to the official SDKs, so the
// chunks and events are checked by the code clients really run: the
// stream decoders and accumulators of openai-go and anthropic-sdk-go, and
// their response decoders.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	openaisdk "github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

// relayServer plays a gateway in front of a recorded upstream stream: it
// translates the SDK's request (which must translate cleanly), then relays
// the upstream file through the converter made by newConv.
func relayServer(t *testing.T, upstream string, translate func([]byte) error, newConv func(EventWriter) (streamConverter, func() error)) *httptest.Server {
	t.Helper()
	input := readFile(t, upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := translate(body); err != nil {
			t.Errorf("translate the SDK's request: %v\n%s", err, body)
		}
		sse.SetHeaders(w.Header())
		conv, finish := newConv(sse.NewWriter(w))
		var buf bytes.Buffer
		runStream(input, &buf, conv, finish)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openAIClient(url string) openaisdk.Client {
	return openaisdk.NewClient(openaioption.WithBaseURL(url), openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0))
}

func anthropicClient(url string) anthropicsdk.Client {
	return anthropicsdk.NewClient(anthropicoption.WithBaseURL(url), anthropicoption.WithAPIKey("test"), anthropicoption.WithMaxRetries(0))
}

func translateOpenAIBody(body []byte) error {
	var req openai.ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	_, err := OpenAIToAnthropic(&req, "claude", Options{})
	return err
}

func translateAnthropicBody(body []byte) error {
	var req anthropic.MessagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return err
	}
	_, err := AnthropicToOpenAI(&req, "gpt")
	return err
}

func newAnthropicToOpenAI(w EventWriter) (streamConverter, func() error) {
	return NewAnthropicToOpenAIStream(w, "chat", true), nil
}

func newOpenAIToAnthropic(w EventWriter) (streamConverter, func() error) {
	s := NewOpenAIToAnthropicStream(w, "chat", 42)
	return s, s.Finish
}

func TestOpenAISDKStream(t *testing.T) {
	srv := relayServer(t, "testdata/stream_anthropic_to_openai/tool_calls.sse", translateOpenAIBody, newAnthropicToOpenAI)
	client := openAIClient(srv.URL)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openaisdk.ChatCompletionNewParams{
		Model:         "chat",
		Messages:      []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Weather in Paris and Rome?")},
		StreamOptions: openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)},
	})
	var acc openaisdk.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator rejected chunk %s", stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("choices = %d", len(acc.Choices))
	}
	msg := acc.Choices[0].Message
	if msg.Content != "Checking both." || acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("content %q, finish %q", msg.Content, acc.Choices[0].FinishReason)
	}
	if len(msg.ToolCalls) != 2 {
		t.Fatalf("tool calls = %+v", msg.ToolCalls)
	}
	for i, want := range []string{`{"city": "Paris"}`, `{"city": "Rome"}`} {
		tc := msg.ToolCalls[i]
		if tc.Function.Name != "get_weather" || tc.Function.Arguments != want {
			t.Errorf("tool call %d = %s %q, want get_weather %q", i, tc.Function.Name, tc.Function.Arguments, want)
		}
	}
	if acc.Usage.PromptTokens != 472 || acc.Usage.CompletionTokens != 89 || acc.Usage.TotalTokens != 561 {
		t.Errorf("usage = %+v", acc.Usage)
	}
}

func TestOpenAISDKStreamError(t *testing.T) {
	srv := relayServer(t, "testdata/stream_anthropic_to_openai/error.sse", translateOpenAIBody, newAnthropicToOpenAI)
	client := openAIClient(srv.URL)
	stream := client.Chat.Completions.NewStreaming(context.Background(), openaisdk.ChatCompletionNewParams{
		Model: "chat", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")},
	})
	var text strings.Builder
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "Overloaded") {
		t.Fatalf("stream error = %v, want the upstream's Overloaded", err)
	}
	if text.String() != "Partial" {
		t.Errorf("text before the error = %q", text.String())
	}
}

func TestAnthropicSDKStream(t *testing.T) {
	tests := []struct {
		file      string
		wantText  string
		wantTools []string // inputs, in order
		wantStop  anthropicsdk.StopReason
		wantIn    int64
		wantOut   int64
	}{
		{"text.sse", "Hello, world!", nil, anthropicsdk.StopReasonEndTurn, 6, 9},
		{"tool_calls.sse", "", []string{`{"city": "Paris"}`, `{"city": "Rome"}`}, anthropicsdk.StopReasonToolUse, 80, 40},
		{"text_then_tool.sse", "Let me check.", []string{`{}`, `{}`}, anthropicsdk.StopReasonToolUse, 42, 0},
		{"azure_prompt_filter.sse", "Hi there", nil, anthropicsdk.StopReasonRefusal, 12, 3},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			srv := relayServer(t, "testdata/stream_openai_to_anthropic/"+tt.file, translateAnthropicBody, newOpenAIToAnthropic)
			client := anthropicClient(srv.URL)
			stream := client.Messages.NewStreaming(context.Background(), anthropicsdk.MessageNewParams{
				Model: "chat", MaxTokens: 100,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
			})
			var msg anthropicsdk.Message
			for stream.Next() {
				if err := msg.Accumulate(stream.Current()); err != nil {
					t.Fatalf("accumulate %s: %v", stream.Current().RawJSON(), err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			var tools []string
			for _, b := range msg.Content {
				switch b := b.AsAny().(type) {
				case anthropicsdk.TextBlock:
					text.WriteString(b.Text)
				case anthropicsdk.ToolUseBlock:
					tools = append(tools, string(b.Input))
				}
			}
			if text.String() != tt.wantText || strings.Join(tools, "|") != strings.Join(tt.wantTools, "|") {
				t.Errorf("text %q tools %q, want %q %q", text.String(), tools, tt.wantText, tt.wantTools)
			}
			if msg.StopReason != tt.wantStop || msg.Usage.InputTokens != tt.wantIn || msg.Usage.OutputTokens != tt.wantOut {
				t.Errorf("stop %q usage %d/%d, want %q %d/%d", msg.StopReason, msg.Usage.InputTokens, msg.Usage.OutputTokens, tt.wantStop, tt.wantIn, tt.wantOut)
			}
		})
	}
}

func TestAnthropicSDKStreamError(t *testing.T) {
	srv := relayServer(t, "testdata/stream_openai_to_anthropic/error.sse", translateAnthropicBody, newOpenAIToAnthropic)
	client := anthropicClient(srv.URL)
	stream := client.Messages.NewStreaming(context.Background(), anthropicsdk.MessageNewParams{
		Model: "chat", MaxTokens: 100,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
	})
	for stream.Next() {
	}
	err := stream.Err()
	if err == nil || !strings.Contains(err.Error(), "The server had an error") {
		t.Fatalf("stream error = %v, want the upstream's message", err)
	}
}

// The non-streamed responses decode with the SDKs' own types.
func TestSDKResponses(t *testing.T) {
	serve := func(t *testing.T, body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	t.Run("openai", func(t *testing.T) {
		var resp anthropic.Response
		if err := json.Unmarshal(readFile(t, "testdata/response_anthropic_to_openai/tool_use.json"), &resp); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(AnthropicResponseToOpenAI(&resp, "chat"))
		client := openAIClient(serve(t, body))
		got, err := client.Chat.Completions.New(context.Background(), openaisdk.ChatCompletionNewParams{
			Model: "chat", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")},
		})
		if err != nil {
			t.Fatal(err)
		}
		m := got.Choices[0].Message
		if m.Content != "Checking." || len(m.ToolCalls) != 2 || m.ToolCalls[1].Function.Arguments != `{"city":"Rome"}` ||
			got.Choices[0].FinishReason != "tool_calls" || got.Usage.TotalTokens != 561 || got.Created == 0 {
			t.Errorf("decoded %s", got.RawJSON())
		}
	})
	t.Run("anthropic", func(t *testing.T) {
		var resp openai.ChatResponse
		if err := json.Unmarshal(readFile(t, "testdata/response_openai_to_anthropic/tool_calls.json"), &resp); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(OpenAIResponseToAnthropic(&resp, "chat"))
		client := anthropicClient(serve(t, body))
		got, err := client.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
			Model: "chat", MaxTokens: 100,
			Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Content) != 3 || got.Content[1].AsToolUse().ID != "call_def" || got.StopReason != anthropicsdk.StopReasonToolUse || got.Usage.InputTokens != 80 {
			t.Errorf("decoded %s", got.RawJSON())
		}
	})
}

// Upstream error bodies converted for the client come out of the SDKs as
// their typed API errors with the message intact.
func TestSDKErrors(t *testing.T) {
	serve := func(t *testing.T, status int, body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write(body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	t.Run("openai", func(t *testing.T) {
		body := ErrorToOpenAI(429, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`))
		client := openAIClient(serve(t, 429, body))
		_, err := client.Chat.Completions.New(context.Background(), openaisdk.ChatCompletionNewParams{
			Model: "chat", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("hi")},
		})
		var apiErr *openaisdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Message != "slow down" || apiErr.Code != "rate_limit_exceeded" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("anthropic", func(t *testing.T) {
		body := ErrorToAnthropic(429, []byte(`{"error":{"code":"429","message":"Requests have exceeded token rate limit."}}`))
		client := anthropicClient(serve(t, 429, body))
		_, err := client.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
			Model: "chat", MaxTokens: 100,
			Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
		})
		var apiErr *anthropicsdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || !strings.Contains(apiErr.Error(), "Requests have exceeded token rate limit.") {
			t.Fatalf("err = %v", err)
		}
	})
}
