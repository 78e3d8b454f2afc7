package tokens

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/llmux/llmux/internal/api/openai"
)

// chatBody builds a realistic chat body of about size bytes: a system
// prompt, a tool, then alternating turns of corpus text (prose, code,
// JSON, non-ASCII) until the size is reached. It returns the body and the
// text it carries.
func chatBody(b testing.TB, size int) ([]byte, string) {
	samples := corpus(b)
	mt := 1024
	req := openai.ChatRequest{
		Model: "gpt-4o",
		Messages: []openai.Message{{Role: "system", Content: openai.TextContent(
			"You are a careful assistant for a software team. Answer briefly, cite files by path, and never invent APIs.")}},
		Tools: []openai.Tool{{Type: "function", Function: &openai.Function{
			Name: "search_code", Description: "Search the repository for a symbol or phrase.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"What to look for"},"path":{"type":"string"}},"required":["query"]}`),
		}}},
		MaxCompletionTokens: &mt,
	}
	text := ""
	for i := 0; ; i += 13 {
		s := samples[i%len(samples)].text
		if cur, _ := json.Marshal(req); len(cur)+len(s) > size {
			if len(cur) > size*9/10 {
				body, _ := json.Marshal(req)
				return body, text
			}
			s = s[:size-len(cur)-60]
		}
		role := []string{"user", "assistant"}[len(req.Messages)%2]
		req.Messages = append(req.Messages, openai.Message{Role: role, Content: openai.TextContent(s)})
		text += s
	}
}

func BenchmarkOpenAIChatEstimate(b *testing.B) {
	e := NewEstimator()
	for _, size := range []int{2 << 10, 100 << 10} {
		body, _ := chatBody(b, size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := e.OpenAIChat(body, "gpt-4o", 4096); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExact tokenizes the text of the same bodies, for comparison.
func BenchmarkExact(b *testing.B) {
	e := NewEstimator()
	for _, size := range []int{2 << 10, 100 << 10} {
		_, text := chatBody(b, size)
		e.Exact(text, "gpt-4o") // load the encoding outside the loop
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				e.Exact(text, "gpt-4o")
			}
		})
	}
}
