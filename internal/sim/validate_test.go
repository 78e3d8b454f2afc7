package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// errorCase is a request that must fail with status and a body holding
// every string in want.
type errorCase struct {
	name   string
	call   call
	status int
	want   []string
}

func runErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, nil)
			w := serve(s, tc.call)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("error body is not JSON: %s", w.Body)
			}
			for _, want := range tc.want {
				if !strings.Contains(w.Body.String(), want) {
					t.Errorf("body %s lacks %s", w.Body, want)
				}
			}
		})
	}
}

func chatReq(body string) call {
	return call{path: "/v1/chat/completions", header: openaiAuth(), body: body}
}

func messagesCallOf(body string) call {
	return call{path: "/v1/messages", header: anthropicAuth(), body: body}
}

func TestAuthFailures(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"openai missing key", call{path: "/v1/chat/completions", body: chatBody}, 401,
			[]string{`"message":"You didn't provide an API key.`, `"type":"invalid_request_error"`, `"code":null`}},
		{"openai unknown key masked", call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-abcdefghijklmnopxyz"}, body: chatBody}, 401,
			[]string{`Incorrect API key provided: sk-abc***xyz.`, `"code":"invalid_api_key"`, `"param":null`}},
		{"anthropic key on openai", call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer " + anthropicKey}, body: chatBody}, 401,
			[]string{`"code":"invalid_api_key"`}},
		{"azure key on openai", call{path: "/v1/embeddings", header: map[string]string{"Authorization": "Bearer " + azureKey}, body: `{"model":"m","input":"x"}`}, 401,
			[]string{`"code":"invalid_api_key"`}},
		{"azure missing key", call{path: "/openai/deployments/d/chat/completions?api-version=2024-10-21", body: chatBody}, 401,
			[]string{`{"error":{"code":"401","message":"Access denied due to missing subscription key.`}},
		{"openai key on azure", call{path: "/openai/v1/chat/completions", header: map[string]string{"api-key": openaiKey}, body: chatBody}, 401,
			[]string{`{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint.`}},
		{"anthropic missing key", call{path: "/v1/messages", header: map[string]string{"anthropic-version": "2023-06-01"}, body: messagesBody}, 401,
			[]string{`{"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"},"request_id":"req_`}},
		{"openai key on anthropic", call{path: "/v1/messages", header: map[string]string{"x-api-key": openaiKey, "anthropic-version": "2023-06-01"}, body: messagesBody}, 401,
			[]string{`"type":"authentication_error","message":"invalid x-api-key"`}},
		{"anthropic models wrong key", call{method: "GET", path: "/v1/models", header: map[string]string{"x-api-key": openaiKey}}, 401,
			[]string{`"authentication_error"`}},
		{"openai models wrong key", call{method: "GET", path: "/v1/models", header: map[string]string{"Authorization": "Bearer " + anthropicKey}}, 401,
			[]string{`"invalid_api_key"`}},
	})
}

func TestOpenAIValidation(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"malformed json", chatReq(`{"model":`), 400, []string{"We could not parse the JSON body of your request.", `"param":null`}},
		{"not an object", chatReq(`[1,2]`), 400, []string{"We could not parse the JSON body"}},
		{"missing model", chatReq(`{"messages":[{"role":"user","content":"hi"}]}`), 400, []string{"you must provide a model parameter"}},
		{"missing messages", chatReq(`{"model":"gpt-4o"}`), 400, []string{`"param":"messages"`, `"code":"missing_required_parameter"`}},
		{"empty messages", chatReq(`{"model":"gpt-4o","messages":[]}`), 400, []string{`"code":"empty_array"`}},
		{"wrong type", chatReq(`{"model":5,"messages":[{"role":"user","content":"hi"}]}`), 400, []string{`Invalid type for 'model': expected a string, but got an integer instead.`, `"code":"invalid_type"`}},
		{"bad role", chatReq(`{"model":"m","messages":[{"role":"robot","content":"hi"}]}`), 400, []string{`Invalid value: 'robot'.`, `"param":"messages.[0].role"`}},
		{"null user content", chatReq(`{"model":"m","messages":[{"role":"user","content":null}]}`), 400, []string{`expected a string, got null`}},
		{"tool without id", chatReq(`{"model":"m","messages":[{"role":"tool","content":"x"}]}`), 400, []string{`must have a 'tool_call_id'`}},
		{"orphan tool message", chatReq(`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_9","content":"x"}]}`), 400,
			[]string{`must be a response to a preceeding message with 'tool_calls'`}},
		{"unanswered tool call", chatReq(`{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"y"}]}`), 400,
			[]string{`did not have response messages: call_1`}},
		{"max_tokens zero", chatReq(`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`), 400, []string{`"code":"integer_below_min_value"`, `"param":"max_tokens"`}},
		{"n too big", chatReq(`{"model":"m","n":129,"messages":[{"role":"user","content":"x"}]}`), 400, []string{`"code":"integer_above_max_value"`}},
		{"temperature", chatReq(`{"model":"m","temperature":3,"messages":[{"role":"user","content":"x"}]}`), 400, []string{`"code":"decimal_above_max_value"`}},
		{"stream_options without stream", chatReq(`{"model":"m","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`), 400, []string{`"param":"stream_options"`}},
		{"bad tool name", chatReq(`{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a b"}}]}`), 400, []string{`"param":"tools[0].function.name"`}},
		{"tool_choice without tools", chatReq(`{"model":"m","tool_choice":"required","messages":[{"role":"user","content":"x"}]}`), 400, []string{`only allowed when 'tools' are specified`}},
		{"forced unknown tool", chatReq(`{"model":"m","tool_choice":{"type":"function","function":{"name":"g"}},"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`), 400, []string{`function 'g' not found`}},
		{"embeddings missing input", call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"text-embedding-3-small"}`}, 400, []string{`'input' is a required property`}},
		{"embeddings empty input", call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"text-embedding-3-small","input":[]}`}, 400, []string{`'$.input' is invalid`}},
		{"embeddings bad format", call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"m","input":"x","encoding_format":"hex"}`}, 400, []string{`"param":"encoding_format"`}},
		{"embeddings ada dimensions", call{path: "/v1/embeddings", header: openaiAuth(), body: `{"model":"text-embedding-ada-002","input":"x","dimensions":8}`}, 400, []string{`does not support specifying dimensions`}},
		{"wrong method", call{method: "GET", path: "/v1/chat/completions", header: openaiAuth()}, 404, []string{`Invalid URL (GET /v1/chat/completions)`}},
	})
}

func TestAzureValidation(t *testing.T) {
	classic := "/openai/deployments/dep/chat/completions?api-version=2024-10-21"
	runErrorCases(t, []errorCase{
		{"no api-version", call{path: "/openai/deployments/dep/embeddings", header: azureAuth(), body: `{"input":"x"}`}, 404, []string{`{"error":{"code":"404","message":"Resource not found"}}`}},
		{"unknown azure route", call{path: "/openai/other", header: azureAuth()}, 404, []string{`"code":"404"`}},
		{"malformed json", call{path: classic, header: azureAuth(), body: `{`}, 400, []string{`We could not parse the JSON body`}},
		{"v1 needs model", call{path: "/openai/v1/chat/completions", header: azureAuth(), body: `{"messages":[{"role":"user","content":"x"}]}`}, 400, []string{`you must provide a model parameter`}},
	})
	// The classic route takes the deployment from the path: no model needed.
	s := newTestServer(t, nil)
	w := serve(s, call{path: classic, header: azureAuth(), body: `{"messages":[{"role":"user","content":"x"}]}`})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"model":"dep"`) {
		t.Errorf("classic route without model: %d %s", w.Code, w.Body)
	}
}

func TestAnthropicValidation(t *testing.T) {
	runErrorCases(t, []errorCase{
		{"missing version", call{path: "/v1/messages", header: map[string]string{"x-api-key": anthropicKey}, body: messagesBody}, 400,
			[]string{`{"type":"error","error":{"type":"invalid_request_error","message":"anthropic-version: header is required"}`}},
		{"malformed json", messagesCallOf(`{"model":`), 400, []string{`The request body is not valid JSON`}},
		{"missing max_tokens", messagesCallOf(`{"model":"c","messages":[{"role":"user","content":"x"}]}`), 400, []string{`"message":"max_tokens: Field required"`}},
		{"missing model", messagesCallOf(`{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`), 400, []string{`model: Field required`}},
		{"missing messages", messagesCallOf(`{"model":"c","max_tokens":5}`), 400, []string{`messages: Field required`}},
		{"empty messages", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[]}`), 400, []string{`at least one message is required`}},
		{"system role", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`), 400, []string{`messages.0.role: Input should be 'user' or 'assistant'`}},
		{"wrong type", messagesCallOf(`{"model":"c","max_tokens":"5","messages":[{"role":"user","content":"x"}]}`), 400, []string{`max_tokens: Input should be a valid integer`}},
		{"empty text", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":""}]}`), 400, []string{`text content blocks must be non-empty`}},
		{"whitespace text", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"  "}]}]}`), 400, []string{`must contain non-whitespace text`}},
		{"temperature", messagesCallOf(`{"model":"c","max_tokens":5,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}`), 400, []string{`temperature:`}},
		{"tool_use without result", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"},` +
			`{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":"y"}]}`), 400,
			[]string{"`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"}},
		{"result without tool_use", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_9","content":"r"}]}]}`), 400,
			[]string{"unexpected `tool_use_id` found in `tool_result` blocks: toolu_9"}},
		{"tool without schema", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`), 400, []string{`tools.0.input_schema: Field required`}},
		{"bad tool_choice", messagesCallOf(`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"maybe"}}`), 400, []string{`tool_choice:`}},
		{"count_tokens needs model", call{path: "/v1/messages/count_tokens", header: anthropicAuth(), body: `{"messages":[{"role":"user","content":"x"}]}`}, 400, []string{`model: Field required`}},
		{"unknown path", call{path: "/v1/messages/batches/x", header: anthropicAuth()}, 404, []string{`"type":"not_found_error"`}},
	})
}
