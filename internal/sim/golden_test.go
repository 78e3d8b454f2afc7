package sim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const (
	chatBody  = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello there, how is the weather today?"}],"max_tokens":64}`
	toolsBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What's the weather in Paris?"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},"required":["city","unit","days"]}}}]}`
	messagesBody       = `{"model":"claude-sonnet-4-5","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Hello there, how is the weather today?"}]}`
	anthropicToolsBody = `{"model":"claude-sonnet-4-5","max_tokens":256,"messages":[{"role":"user","content":"What's the weather in Paris?"}],` +
		`"tools":[{"name":"get_weather","description":"Weather for a city","input_schema":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}]}`
)

// goldenCases are the wire shapes pinned by testdata/*.golden. Their
// bodies also seed the fuzzers.
var goldenCases = []struct {
	name string
	call call
}{
	{"openai_chat", call{path: "/v1/chat/completions", header: openaiAuth(), body: chatBody}},
	{"openai_chat_stream", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","stream":true,"max_tokens":12,"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"openai_chat_stream_usage", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"openai_chat_stream_n2", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","stream":true,"n":2,"max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`}},
	{"openai_chat_length", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","max_completion_tokens":4,"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"openai_chat_stop", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","stop":["there"],"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"openai_tools", call{path: "/v1/chat/completions", header: openaiAuth(), body: toolsBody}},
	{"openai_tools_stream", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: toolsBody[:len(toolsBody)-1] + `,"stream":true}`}},
	{"openai_tool_result", call{path: "/v1/chat/completions", header: openaiAuth(),
		body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Weather in Paris?"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"15C and foggy"}],` +
			`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]}`}},
	{"openai_embeddings_float", call{path: "/v1/embeddings", header: openaiAuth(),
		body: `{"model":"text-embedding-3-small","input":["hello world","goodbye"],"dimensions":8}`}},
	{"openai_embeddings_base64", call{path: "/v1/embeddings", header: openaiAuth(),
		body: `{"model":"text-embedding-3-small","input":"hello world","dimensions":8,"encoding_format":"base64"}`}},
	{"openai_models", call{method: "GET", path: "/v1/models", header: openaiAuth()}},
	{"openai_401", call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-abcdefghijklmnopxyz"}, body: chatBody}},
	{"openai_400_messages", call{path: "/v1/chat/completions", header: openaiAuth(), body: `{"model":"gpt-4o"}`}},
	{"openai_404", call{method: "GET", path: "/v1/nothing", header: openaiAuth()}},
	{"azure_chat", call{path: "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", header: azureAuth(),
		body: `{"messages":[{"role":"user","content":"Hello there"}],"max_tokens":10}`}},
	{"azure_chat_stream", call{path: "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", header: azureAuth(),
		body: `{"messages":[{"role":"user","content":"Hello there"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`}},
	{"azure_v1_chat", call{path: "/openai/v1/chat/completions", header: azureAuth(),
		body: `{"model":"my-gpt4o","messages":[{"role":"user","content":"Hello there"}],"max_tokens":10}`}},
	{"azure_embeddings", call{path: "/openai/deployments/my-embed/embeddings?api-version=2024-10-21", header: azureAuth(),
		body: `{"input":"hello world","dimensions":8}`}},
	{"azure_401", call{path: "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21",
		header: map[string]string{"api-key": "wrong"}, body: chatBody}},
	{"azure_404_no_version", call{path: "/openai/deployments/my-gpt4o/chat/completions", header: azureAuth(), body: chatBody}},
	{"anthropic_messages", call{path: "/v1/messages", header: anthropicAuth(), body: messagesBody}},
	{"anthropic_messages_stream", call{path: "/v1/messages", header: anthropicAuth(),
		body: `{"model":"claude-sonnet-4-5","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"anthropic_stop_sequence", call{path: "/v1/messages", header: anthropicAuth(),
		body: `{"model":"claude-sonnet-4-5","max_tokens":100,"stop_sequences":["there"],"messages":[{"role":"user","content":"Hello there"}]}`}},
	{"anthropic_tools", call{path: "/v1/messages", header: anthropicAuth(), body: anthropicToolsBody}},
	{"anthropic_tools_stream", call{path: "/v1/messages", header: anthropicAuth(),
		body: anthropicToolsBody[:len(anthropicToolsBody)-1] + `,"stream":true}`}},
	{"anthropic_count_tokens", call{path: "/v1/messages/count_tokens", header: anthropicAuth(),
		body: `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hello there"}]}`}},
	{"anthropic_models", call{method: "GET", path: "/v1/models", header: anthropicAuth()}},
	{"anthropic_401", call{path: "/v1/messages", header: map[string]string{"x-api-key": "nope", "anthropic-version": "2023-06-01"}, body: messagesBody}},
	{"anthropic_400_max_tokens", call{path: "/v1/messages", header: anthropicAuth(),
		body: `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}]}`}},
}

// TestGolden pins every provider's wire shape: status, headers and the
// exact body bytes. Run with -update to rewrite testdata/*.golden.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, nil)
			w := serve(s, tc.call)
			got := dump(w.Code, w.Header(), w.Body.Bytes())
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", tc.name, got, want)
			}
		})
	}
}
