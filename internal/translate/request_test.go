package translate

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

func decodeOpenAI(t *testing.T, body string) *openai.ChatRequest {
	t.Helper()
	var req openai.ChatRequest
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	return &req
}

func TestOpenAIToAnthropicMaxTokens(t *testing.T) {
	tests := []struct {
		name string
		body string
		opt  Options
		want int
	}{
		{"absent, no default", `{"messages":[{"role":"user","content":"hi"}]}`, Options{}, 4096},
		{"absent, deployment default", `{"messages":[{"role":"user","content":"hi"}]}`, Options{DefaultMaxTokens: 64000}, 64000},
		{"max_tokens", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":10}`, Options{DefaultMaxTokens: 64000}, 10},
		{"max_completion_tokens wins", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":10,"max_completion_tokens":20}`, Options{}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := OpenAIToAnthropic(decodeOpenAI(t, tt.body), "m", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if *out.MaxTokens != tt.want {
				t.Errorf("max_tokens = %d, want %d", *out.MaxTokens, tt.want)
			}
		})
	}
}

func TestOpenAIToAnthropicErrors(t *testing.T) {
	tests := []struct {
		name, body, param string
	}{
		{"max_tokens zero", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens"},
		{"n zero", `{"messages":[{"role":"user","content":"hi"}],"n":0}`, "n"},
		{"no messages", `{"messages":[]}`, "messages"},
		{"unknown role", `{"messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role"},
		{"function role", `{"messages":[{"role":"function","name":"f","content":"hi"}]}`, "messages[0].role"},
		{"image in system", `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"user","content":"hi"}]}`, "messages[0].content[0].type"},
		{"tool call without id", `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[1].tool_calls[0].id"},
		{"custom tool", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","custom":{"name":"x"}}]}`, "tools[0].type"},
		{"bad parameters", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]}`, "tools[0].function.parameters"},
		{"required without tools", `{"messages":[{"role":"user","content":"hi"}],"tool_choice":"required"}`, "tool_choice"},
		{"bad tool_choice", `{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"sometimes"}`, "tool_choice"},
		{"bad response_format", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"yaml"}}`, "response_format.type"},
		{"ftp image", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}]}`, "messages[0].content[0].image_url.url"},
		{"tool answered before call", `{"messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"c1","content":"r"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`, "messages[1].tool_call_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenAIToAnthropic(decodeOpenAI(t, tt.body), "m", Options{})
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if te.Param != tt.param {
				t.Errorf("param = %q (%s), want %q", te.Param, te.Message, tt.param)
			}
		})
	}
	if _, err := OpenAIToAnthropic(nil, "m", Options{}); err == nil {
		t.Error("nil request: no error")
	}
	if _, err := AnthropicToOpenAI(nil, "m"); err == nil {
		t.Error("nil request: no error")
	}
}

func TestToolIDs(t *testing.T) {
	ids := newToolIDs()
	tests := []struct{ in, want string }{
		{"call_abc-1", "call_abc-1"},
		{"call.1", "call_1"},
		{"call_1", "call_1_2"}, // distinct from call.1, which took call_1
		{"call.1", "call_1"},   // stable
		{"call/1", "call_1_3"},
		{"é", "_"},
		{"", "toolu_"},
	}
	for _, tt := range tests {
		if got := ids.get(tt.in); got != tt.want {
			t.Errorf("get(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The input request must not change: the gateway may translate it again
// for the next candidate.
func TestRequestsNotModified(t *testing.T) {
	for _, in := range inputs(t, "openai_to_anthropic", ".json") {
		var a, b openai.ChatRequest
		body := readFile(t, in)
		if json.Unmarshal(body, &a) != nil || json.Unmarshal(body, &b) != nil {
			t.Fatal(in)
		}
		OpenAIToAnthropic(&a, "m", Options{})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: OpenAIToAnthropic modified its input", in)
		}
	}
	for _, in := range inputs(t, "anthropic_to_openai", ".json") {
		var a, b anthropic.MessagesRequest
		body := readFile(t, in)
		if json.Unmarshal(body, &a) != nil || json.Unmarshal(body, &b) != nil {
			t.Fatal(in)
		}
		AnthropicToOpenAI(&a, "m")
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: AnthropicToOpenAI modified its input", in)
		}
	}
}

// A tool conversation survives OpenAI → Anthropic → OpenAI with every tool
// result still answering its call.
func TestToolConversationRoundTrip(t *testing.T) {
	req := decodeOpenAI(t, string(readFile(t, "testdata/openai_to_anthropic/tool_calls_parallel.json")))
	a, err := OpenAIToAnthropic(req, "claude", Options{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := AnthropicToOpenAI(a, "gpt")
	if err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, m := range back.Messages {
		roles = append(roles, m.Role)
	}
	want := []string{"user", "assistant", "tool", "tool", "user"}
	if !reflect.DeepEqual(roles, want) {
		t.Fatalf("roles = %v, want %v", roles, want)
	}
	calls := back.Messages[1].ToolCalls
	if calls[0].ID != back.Messages[2].ToolCallID || calls[1].ID != back.Messages[3].ToolCallID {
		t.Errorf("tool results do not answer their calls: %+v / %q %q", calls, back.Messages[2].ToolCallID, back.Messages[3].ToolCallID)
	}
	if got := back.Messages[3].Content.String(); got != "24C, clear" {
		t.Errorf("second tool result = %q", got)
	}
	if back.ParallelToolCalls == nil || *back.ParallelToolCalls {
		t.Errorf("parallel_tool_calls = %v, want false", back.ParallelToolCalls)
	}
}
