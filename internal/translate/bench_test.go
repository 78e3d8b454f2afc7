package translate

import (
	"encoding/json"
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

// discard is an EventWriter that drops everything.
type discard struct{}

func (discard) Event(string, []byte) error { return nil }

func BenchmarkOpenAIToAnthropic(b *testing.B) {
	var req openai.ChatRequest
	if err := json.Unmarshal(readFile(b, "testdata/openai_to_anthropic/tool_calls_parallel.json"), &req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenAIToAnthropic(&req, "m", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnthropicToOpenAI(b *testing.B) {
	var req anthropic.MessagesRequest
	if err := json.Unmarshal(readFile(b, "testdata/anthropic_to_openai/tool_use_results.json"), &req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AnthropicToOpenAI(&req, "m"); err != nil {
			b.Fatal(err)
		}
	}
}

// The per-token cost of the stream converters: one text delta in, one
// chunk or event out.
func BenchmarkAnthropicToOpenAIStreamDelta(b *testing.B) {
	s := NewAnthropicToOpenAIStream(discard{}, "chat", true)
	if err := s.Event(aev("message_start", msgStart)); err != nil {
		b.Fatal(err)
	}
	ev := aev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Event(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenAIToAnthropicStreamDelta(b *testing.B) {
	s := NewOpenAIToAnthropicStream(discard{}, "chat", 10)
	ev := sse.Event{Data: []byte(`{"id":"chatcmpl-AD1","object":"chat.completion.chunk","created":1727889370,"model":"gpt-4o-mini","system_fingerprint":"fp_f85bea6784","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}`)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Event(ev); err != nil {
			b.Fatal(err)
		}
	}
}
