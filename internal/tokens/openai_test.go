package tokens

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/api/openai"
)

func TestOpenAIChat(t *testing.T) {
	params := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	tests := []struct {
		name   string
		family string
		body   string
		def    int
		want   Estimate
	}{{
		name: "per-message overhead",
		body: `{"model":"m","messages":[{"role":"system","content":""},{"role":"user","content":""}]}`,
		def:  100,
		want: Estimate{Input: replyPriming + 2*(perMessage+perRole), Output: 100},
	}, {
		name: "text content",
		body: `{"messages":[{"role":"user","content":"Hello there, how are you?"}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + textTok("gpt-4o", "Hello there, how are you?")},
	}, {
		name: "name adds one token plus its text",
		body: `{"messages":[{"role":"user","name":"example_user","content":"Hi"}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + perName + textTok("gpt-4o", "example_user", "Hi")},
	}, {
		name: "null content and text parts",
		body: `{"messages":[{"role":"assistant","content":null},{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}]}`,
		want: Estimate{Input: replyPriming + 2*(perMessage+perRole) + textTok("gpt-4o", "one", "two")},
	}, {
		name: "image low detail",
		body: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + 85},
	}, {
		name: "image of unknown size",
		body: `{"messages":[{"role":"user","content":[{"image_url":{"url":"https://example.com/a.png"},"type":"image_url"}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + 765},
	}, {
		name: "inline image 100x100 is one tile",
		body: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + pngDataURL(t, 100, 100) + `","detail":"high"}}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + 85 + 170},
	}, {
		name: "inline image 1024x2048 scales to 768x1536, six tiles",
		body: `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + pngDataURL(t, 1024, 2048) + `"}}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + 85 + 6*170},
	}, {
		name: "function tool, gpt-4o constants",
		body: `{"messages":[],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now.","parameters":` + params + `,"strict":true}}]}`,
		want: Estimate{Input: replyPriming + funcInitO200k + funcEnd + textTok("gpt-4o", "get_weather", "Weather now.", params)},
	}, {
		name:   "function tools, gpt-4 constants, func_end once",
		family: "gpt-4",
		body:   `{"messages":[],"tools":[{"type":"function","function":{"name":"a","parameters":` + params + `}},{"type":"function","function":{"name":"b"}}]}`,
		want:   Estimate{Input: replyPriming + 2*funcInitCl100k + funcEnd + textTok("gpt-4", "a", params, "b")},
	}, {
		name: "deprecated functions",
		body: `{"messages":[],"functions":[{"name":"f","description":"d"}]}`,
		want: Estimate{Input: replyPriming + funcInitO200k + funcEnd + textTok("gpt-4o", "f", "d")},
	}, {
		name: "tool calls and tool results",
		body: `{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},{"role":"tool","tool_call_id":"call_1","content":"42"}]}`,
		want: Estimate{Input: replyPriming + 2*(perMessage+perRole) + toolCallOverhead + textTok("gpt-4o", "call_1", "f", `{"x":1}`, "call_1", "42")},
	}, {
		name: "json_schema response format",
		body: `{"messages":[],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + params + `}}}`,
		want: Estimate{Input: replyPriming + textTok("gpt-4o", `{"name":"x","schema":`+params+`}`)},
	}, {
		name: "max_completion_tokens wins over max_tokens",
		body: `{"messages":[],"max_tokens":50,"max_completion_tokens":70}`,
		def:  1000,
		want: Estimate{Input: replyPriming, Output: 70},
	}, {
		name: "n times max_tokens",
		body: `{"messages":[],"max_tokens":50,"n":3}`,
		want: Estimate{Input: replyPriming, Output: 150},
	}, {
		name: "n times the default when absent",
		body: `{"messages":[],"n":2,"max_tokens":null}`,
		def:  4096,
		want: Estimate{Input: replyPriming, Output: 8192},
	}, {
		name: "n of zero reads as one",
		body: `{"messages":[],"n":0,"max_tokens":10}`,
		want: Estimate{Input: replyPriming, Output: 10},
	}, {
		name:   "claude family scales text",
		family: "claude-sonnet-4-5",
		body:   `{"messages":[{"role":"user","content":"The quick brown fox jumps over the lazy dog."}]}`,
		want:   Estimate{Input: replyPriming + perMessage + perRole + textTok("claude", "The quick brown fox jumps over the lazy dog.")},
	}, {
		name: "audio input: 10 s of 32 kbit/s mp3",
		body: `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"` + strings.Repeat("AAAA", 40000/3) + `","format":"mp3"}}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + 100},
	}, {
		name: "file by id",
		body: `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}]}`,
		want: Estimate{Input: replyPriming + perMessage + perRole + documentBase},
	}, {
		name: "unknown fields are skipped",
		body: `{"messages":[],"stream":true,"stream_options":{"include_usage":true},"metadata":{"a":"b"},"temperature":0.5,"logit_bias":{"50256":-100},"future":[1,{"x":null}]}`,
		want: Estimate{Input: replyPriming},
	}}
	e := NewEstimator()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			family := tt.family
			if family == "" {
				family = "gpt-4o"
			}
			got, err := e.OpenAIChat([]byte(tt.body), family, tt.def)
			if err != nil {
				t.Fatal(err)
			}
			if got.Prompt = 0; got != tt.want {
				t.Errorf("OpenAIChat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestOpenAIChatAPITypes checks the scanner against bodies encoded by the
// gateway's own wire types.
func TestOpenAIChatAPITypes(t *testing.T) {
	mt := 256
	n := 2
	req := openai.ChatRequest{
		Model: "gpt-4o",
		Messages: []openai.Message{
			{Role: "system", Content: openai.TextContent("Be brief <&>.")},
			{Role: "user", Name: "ann", Content: openai.Content{Parts: []openai.ContentPart{
				{Type: "text", Text: "What is in this image?"},
				{Type: "image_url", ImageURL: &openai.ImageURL{URL: "https://example.com/x.jpg", Detail: "low"}},
			}}},
			{Role: "assistant", ToolCalls: []openai.ToolCall{{ID: "c1", Type: "function", Function: openai.FunctionCall{Name: "look", Arguments: `{"q":"cat"}`}}}},
			{Role: "tool", ToolCallID: "c1", Content: openai.TextContent("a cat")},
		},
		Tools:     []openai.Tool{{Type: "function", Function: &openai.Function{Name: "look", Description: "Look.", Parameters: json.RawMessage(`{"type":"object"}`)}}},
		MaxTokens: &mt,
		N:         &n,
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewEstimator().OpenAIChat(body, "gpt-4o", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Estimate{
		Input: replyPriming + 4*(perMessage+perRole) + perName + 85 + toolCallOverhead + funcInitO200k + funcEnd +
			textTok("gpt-4o", "Be brief <&>.", "ann", "What is in this image?", "c1", "look", `{"q":"cat"}`, "c1", "a cat", "look", "Look.", `{"type":"object"}`),
		Output: 512,
	}
	if noPrompt(got) != want {
		t.Errorf("OpenAIChat = %+v, want %+v", got, want)
	}
}

func TestOpenAIChatErrors(t *testing.T) {
	bad := map[string]string{
		"empty":                 ``,
		"not an object":         `[]`,
		"truncated":             `{"messages":[{"role":"user","content":"hi"}`,
		"trailing data":         `{"messages":[]} {}`,
		"no messages":           `{"model":"gpt-4o"}`,
		"messages not an array": `{"messages":{}}`,
		"content a number":      `{"messages":[{"role":"user","content":5}]}`,
		"bad escape":            `{"messages":[{"role":"user","content":"\x"}]}`,
		"control char":          "{\"messages\":[{\"role\":\"user\",\"content\":\"a\x01b\"}]}",
		"max_tokens string":     `{"messages":[],"max_tokens":"10"}`,
		"max_tokens negative":   `{"messages":[],"max_tokens":-1}`,
		"max_tokens fraction":   `{"messages":[],"max_tokens":1.5}`,
		"max_tokens huge":       `{"messages":[],"max_tokens":99999999999999999999}`,
		"n not integer":         `{"messages":[],"n":true}`,
		"bad literal":           `{"messages":[],"stream":tru}`,
		"bad number":            `{"messages":[],"temperature":-}`,
		"leading zero":          `{"messages":[],"seed":01}`,
		"missing colon":         `{"messages" []}`,
		"deep nesting":          `{"messages":[],"x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
	}
	e := NewEstimator()
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := e.OpenAIChat([]byte(body), "gpt-4o", 10)
			if !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("OpenAIChat(%.40q) error = %v, want ErrInvalidBody", body, err)
			}
			if !strings.HasPrefix(err.Error(), "tokens: openai chat: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// TestCookbookExamples checks the constants against the two examples of
// the OpenAI cookbook (providers.md §3.2), whose counts the cookbook shows
// to equal the API's prompt_tokens for gpt-4o: the exact cookbook formula
// must give those numbers, and the fast estimate must not be below them.
func TestCookbookExamples(t *testing.T) {
	e := NewEstimator()
	type msg struct{ Role, Name, Content string }
	messages := []msg{
		{"system", "", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
		{"system", "example_user", "New synergies will help drive top-line growth."},
		{"system", "example_assistant", "Things working well together will increase revenue."},
		{"system", "example_user", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
		{"system", "example_assistant", "Let's talk later when we're less busy about how to do better."},
		{"user", "", "This late pivot means we don't have time to boil the ocean for the client deliverable."},
	}
	exact := replyPriming
	var body strings.Builder
	body.WriteString(`{"model":"gpt-4o","messages":[`)
	for i, m := range messages {
		exact += perMessage + e.Exact(m.Role, "gpt-4o") + e.Exact(m.Content, "gpt-4o")
		if i > 0 {
			body.WriteByte(',')
		}
		c, _ := json.Marshal(m.Content)
		if m.Name != "" {
			exact += perName + e.Exact(m.Name, "gpt-4o")
			body.WriteString(`{"role":"` + m.Role + `","name":"` + m.Name + `","content":` + string(c) + `}`)
		} else {
			body.WriteString(`{"role":"` + m.Role + `","content":` + string(c) + `}`)
		}
	}
	body.WriteString(`]}`)
	if exact != 124 {
		t.Errorf("cookbook formula with exact counts = %d, want the API's 124", exact)
	}
	est, err := e.OpenAIChat([]byte(body.String()), "gpt-4o", 0)
	if err != nil {
		t.Fatal(err)
	}
	if est.Input < 124 || est.Input > 124*16/10 {
		t.Errorf("fast estimate %d, want within [124, 1.6×124]", est.Input)
	}
	t.Logf("messages example: API 124, estimate %d (%.2f×)", est.Input, float64(est.Input)/124)

	// Tools example: 101 prompt tokens for gpt-4o. The cookbook formula:
	// func_init + "name:desc" + prop_init + per property prop_key +
	// "name:type:desc" (+ enum) + func_end once, plus the messages.
	tools := `{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},{"role":"user","content":"What's the weather like in San Francisco?"}],"tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]}`
	x := func(s string) int { return e.Exact(s, "gpt-4o") }
	cook := replyPriming + 2*perMessage + x("system") + x("user") +
		x("You are a helpful assistant that can answer to questions about the weather.") +
		x("What's the weather like in San Francisco?") +
		funcInitO200k + x("get_current_weather:Get the current weather in a given location") +
		3 + 3 + x("location:string:The city and state, e.g. San Francisco, CA") +
		3 - 3 + 3 + x("celsius") + 3 + x("fahrenheit") + x("unit:string:The unit of temperature to return") +
		funcEnd
	if cook != 101 {
		t.Errorf("cookbook tools formula with exact counts = %d, want the API's 101", cook)
	}
	est, err = e.OpenAIChat([]byte(tools), "gpt-4o", 0)
	if err != nil {
		t.Fatal(err)
	}
	if est.Input < 101 || est.Input > 101*16/10 {
		t.Errorf("fast estimate %d, want within [101, 1.6×101]", est.Input)
	}
	t.Logf("tools example: API 101, estimate %d (%.2f×)", est.Input, float64(est.Input)/101)
}

// Prompt is the context-window size without the character-based admission
// floor: for English prose (over four characters a token) it is below
// Input, and never above it.
func TestPromptBelowAdmission(t *testing.T) {
	prose := strings.Repeat("The quick brown fox jumps over the lazy dog near the riverbank. ", 40)
	body := `{"messages":[{"role":"user","content":"` + prose + `"}]}`
	got, err := NewEstimator().OpenAIChat([]byte(body), "gpt-4o", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt >= got.Input || got.Prompt <= 0 {
		t.Fatalf("Prompt %d, Input %d: want 0 < Prompt < Input for prose", got.Prompt, got.Input)
	}
}
