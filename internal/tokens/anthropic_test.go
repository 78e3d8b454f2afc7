package tokens

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
)

func TestAnthropicMessages(t *testing.T) {
	schema := `{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`
	msg := perMessage + perRole
	tests := []struct {
		name string
		body string
		want Estimate
	}{{
		name: "per-message overhead and max_tokens",
		body: `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":""}]}`,
		want: Estimate{Input: replyPriming + msg, Output: 1024},
	}, {
		name: "system as a string",
		body: `{"max_tokens":10,"system":"You are terse.","messages":[{"role":"user","content":"Hi"}]}`,
		want: Estimate{Input: replyPriming + 2*msg + textTok("claude", "You are terse.", "Hi"), Output: 10},
	}, {
		name: "system as blocks",
		body: `{"max_tokens":10,"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Answer in French."}],"messages":[{"role":"user","content":"Hi"}]}`,
		want: Estimate{Input: replyPriming + 2*msg + textTok("claude", "You are terse.", "Answer in French.", "Hi"), Output: 10},
	}, {
		name: "tool_use and tool_result",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":"Weather?"},` +
			`{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"SF"}}]},` +
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"15C, fog","is_error":false},{"type":"text","text":"And tomorrow?"}]}]}`,
		want: Estimate{Input: replyPriming + 3*msg + 2*toolCallOverhead +
			textTok("claude", "Weather?", "Checking.", "toolu_1", "get_weather", `{"location":"SF"}`, "toolu_1", "15C, fog", "And tomorrow?"), Output: 5},
	}, {
		name: "tool_result with block content",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"rows: 3"}]}]}]}`,
		want: Estimate{Input: replyPriming + msg + toolCallOverhead + textTok("claude", "t", "rows: 3"), Output: 5},
	}, {
		name: "tools add the tool-use system prompt",
		body: `{"max_tokens":5,"messages":[],"tools":[{"name":"get_weather","description":"Get the weather.","input_schema":` + schema + `}],"tool_choice":{"type":"auto"}}`,
		want: Estimate{Input: replyPriming + anthropicToolSystem + funcInitO200k + textTok("claude", "get_weather", "Get the weather.", schema), Output: 5},
	}, {
		name: "anthropic-defined tool",
		body: `{"max_tokens":5,"messages":[],"tools":[{"type":"bash_20250124","name":"bash"}]}`,
		want: Estimate{Input: replyPriming + anthropicToolSystem + funcInitO200k + anthropicServerTool + textTok("claude", "bash"), Output: 5},
	}, {
		name: "image of known size",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + pngBase64(t, 200, 300) + `"}}]}]}`,
		want: Estimate{Input: replyPriming + msg + 80, Output: 5},
	}, {
		name: "large image is capped",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"source":{"data":"` + pngBase64(t, 3000, 2000) + `","media_type":"image/png","type":"base64"},"type":"image"}]}]}`,
		want: Estimate{Input: replyPriming + msg + anthropicImageMax, Output: 5},
	}, {
		name: "image by URL",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]}]}`,
		want: Estimate{Input: replyPriming + msg + anthropicImageMax, Output: 5},
	}, {
		name: "plain text document",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"The grass is green."},"title":"Facts","citations":{"enabled":true}}]}]}`,
		want: Estimate{Input: replyPriming + msg + textTok("claude", "The grass is green.", "Facts"), Output: 5},
	}, {
		name: "pdf document",
		body: `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + strings.Repeat("JVBE", 10000) + `"}}]}]}`,
		want: Estimate{Input: replyPriming + msg + documentBase + 300, Output: 5},
	}, {
		name: "thinking blocks",
		body: `{"max_tokens":5,"thinking":{"type":"enabled","budget_tokens":2000},"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"Let me see.","signature":"abc"},{"type":"redacted_thinking","data":"` + strings.Repeat("A", 400) + `"}]}]}`,
		want: Estimate{Input: replyPriming + msg + 100 + textTok("claude", "Let me see."), Output: 5},
	}}
	e := NewEstimator()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.AnthropicMessages([]byte(tt.body), "claude-sonnet-4-5")
			if err != nil {
				t.Fatal(err)
			}
			if got.Prompt = 0; got != tt.want {
				t.Errorf("AnthropicMessages = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAnthropicMessagesNoMaxTokens(t *testing.T) {
	got, err := NewEstimator().AnthropicMessages([]byte(`{"messages":[{"role":"user","content":"Hi"}]}`), "claude")
	if !errors.Is(err, ErrNoMaxTokens) {
		t.Fatalf("error = %v, want ErrNoMaxTokens", err)
	}
	if want := (Estimate{Input: replyPriming + perMessage + perRole + textTok("claude", "Hi")}); noPrompt(got) != want {
		t.Errorf("estimate with ErrNoMaxTokens = %+v, want %+v", got, want)
	}
}

func TestAnthropicMessagesAPITypes(t *testing.T) {
	mt := 300
	sys := "Be kind."
	req := anthropic.MessagesRequest{
		Model:     "claude-sonnet-4-5",
		MaxTokens: &mt,
		System:    anthropic.System{Text: &sys},
		Messages: []anthropic.Message{
			{Role: "user", Content: anthropic.TextContent("Hi <there>")},
			{Role: "assistant", Content: anthropic.Content{Blocks: []anthropic.ContentBlock{
				{Type: anthropic.BlockToolUse, ID: "tu", Name: "f", Input: json.RawMessage(`{"a":1}`)},
			}}},
			{Role: "user", Content: anthropic.Content{Blocks: []anthropic.ContentBlock{
				{Type: anthropic.BlockToolResult, ToolUseID: "tu", Content: json.RawMessage(`"ok"`)},
			}}},
		},
		Tools: []anthropic.Tool{{Name: "f", Description: "F.", InputSchema: json.RawMessage(`{"type":"object"}`)}},
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewEstimator().AnthropicMessages(body, "claude")
	if err != nil {
		t.Fatal(err)
	}
	want := Estimate{
		Input: replyPriming + 4*(perMessage+perRole) + 2*toolCallOverhead + anthropicToolSystem + funcInitO200k +
			textTok("claude", "Be kind.", "Hi <there>", "tu", "f", `{"a":1}`, "tu", "ok", "f", "F.", `{"type":"object"}`),
		Output: 300,
	}
	if noPrompt(got) != want {
		t.Errorf("AnthropicMessages = %+v, want %+v", got, want)
	}
}

func TestAnthropicMessagesErrors(t *testing.T) {
	bad := map[string]string{
		"not json":            `max_tokens=5`,
		"no messages":         `{"max_tokens":5}`,
		"content a number":    `{"max_tokens":5,"messages":[{"role":"user","content":1}]}`,
		"block not an object": `{"max_tokens":5,"messages":[{"role":"user","content":["hi"]}]}`,
		"system a number":     `{"max_tokens":5,"system":1,"messages":[]}`,
		"max_tokens float":    `{"max_tokens":5.5,"messages":[]}`,
		"bad source":          `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":[1]}]}]}`,
		"truncated":           `{"max_tokens":5,"messages":[{"role":"user","content":"hi`,
	}
	e := NewEstimator()
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := e.AnthropicMessages([]byte(body), "claude"); !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("error = %v, want ErrInvalidBody", err)
			}
		})
	}
}
