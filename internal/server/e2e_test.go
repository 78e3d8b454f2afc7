package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/sim"
)

// The end-to-end tests start llmux the way `llmux serve` does — gateway and
// in-process simulator on loopback ports — and drive it with the official
// SDKs.

const clientKey = "sk-test-client"

// providerKeys are the simulator keys; no response or log line may contain
// any of them.
var providerKeys = []string{"sim-key-openai-1", "sim-key-openai-2", "sim-key-azure-1", "sim-key-anthropic-1", "sim-key-anthropic-2"}

func testConfig() *config.Config {
	zero := 0.0
	dep := func(name, account, model string) config.Deployment {
		return config.Deployment{Name: name, Account: account, Model: model, Family: model,
			ContextWindow: 128000, MaxOutput: 4096, Weight: 1}
	}
	emb := dep("oa1/embed", "oa1", "text-embedding-3-small")
	emb.Embeddings = true
	azEmb := dep("az1/embed", "az1", "text-embedding-3-small")
	azEmb.Embeddings = true
	return &config.Config{
		Listen:       "127.0.0.1:0",
		MaxBodyBytes: 64 << 10,
		Accounts: []config.Account{
			{Name: "oa1", Provider: "openai", BaseURL: "simulator", APIKey: "sim-key-openai-1"},
			{Name: "oa2", Provider: "openai", BaseURL: "simulator", APIKey: "sim-key-openai-2"},
			{Name: "az1", Provider: "azure", BaseURL: "simulator", APIKey: "sim-key-azure-1", APIVersion: "2024-10-21"},
			{Name: "an1", Provider: "anthropic", BaseURL: "simulator", APIKey: "sim-key-anthropic-1"},
			{Name: "an2", Provider: "anthropic", BaseURL: "simulator", APIKey: "sim-key-anthropic-2"},
		},
		Deployments: []config.Deployment{
			dep("oa1/gpt", "oa1", "gpt-4o-mini"),
			dep("oa2/gpt", "oa2", "gpt-4o-mini"),
			dep("az1/gpt", "az1", "gpt-4o-mini"),
			dep("an1/claude", "an1", "claude-haiku-4-5"),
			dep("an2/claude", "an2", "claude-haiku-4-5"),
			emb, azEmb,
		},
		Routes: []config.Route{
			{Name: "openai-chat", Deployments: []string{"oa1/gpt", "oa2/gpt"}},
			{Name: "azure-chat", Deployments: []string{"az1/gpt"}},
			{Name: "anthropic-chat", Deployments: []string{"an1/claude", "an2/claude"}},
			{Name: "chat", Deployments: []string{"oa1/gpt", "az1/gpt", "an1/claude"}},
			{Name: "embed", Deployments: []string{"oa1/embed", "az1/embed"}},
			{Name: "secret-route", Deployments: []string{"oa1/gpt"}},
		},
		Keys: []config.Key{
			{Name: "test", Key: clientKey, Routes: []string{"openai-chat", "azure-chat", "anthropic-chat", "chat", "embed"}},
		},
		Simulator: &config.Simulator{
			Seed:      7,
			TimeScale: &zero,
			Keys: []config.SimKey{
				{Key: "sim-key-openai-1", Provider: "openai"},
				{Key: "sim-key-openai-2", Provider: "openai"},
				{Key: "sim-key-azure-1", Provider: "azure"},
				{Key: "sim-key-anthropic-1", Provider: "anthropic"},
				{Key: "sim-key-anthropic-2", Provider: "anthropic"},
			},
		},
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // signalled (without blocking) on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.written <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

// waitFor waits until the log contains substr.
func (s *syncBuffer) waitFor(substr string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for !strings.Contains(s.String(), substr) {
		select {
		case <-s.written:
		case <-deadline:
			return false
		}
	}
	return true
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t    *testing.T
	srv  *Server
	logs *syncBuffer
	url  string
}

func start(t *testing.T, mutate ...func(*config.Config)) *harness {
	t.Helper()
	cfg := testConfig()
	for _, m := range mutate {
		m(cfg)
	}
	logs := &syncBuffer{written: make(chan struct{}, 1)}
	srv, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, logs: logs, url: "http://" + srv.Addr}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
		for _, k := range providerKeys {
			if strings.Contains(logs.String(), k) {
				t.Errorf("a provider key (%s...) appears in the logs", k[:8])
			}
		}
	})
	return h
}

func (h *harness) openai() openai.Client {
	return openai.NewClient(option.WithBaseURL(h.url+"/v1"), option.WithAPIKey(clientKey), option.WithMaxRetries(0))
}

func (h *harness) anthropic() anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(h.url), aoption.WithAPIKey(clientKey), aoption.WithMaxRetries(0))
}

// raw sends a request and returns status, headers and body, checking the
// body for provider keys.
func (h *harness) raw(method, path string, header map[string]string, body string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, k := range providerKeys {
		if bytes.Contains(b, []byte(k)) {
			h.t.Errorf("response to %s %s contains a provider key", method, path)
		}
	}
	return resp.StatusCode, resp.Header, b
}

func authOpenAI() map[string]string {
	return map[string]string{"Authorization": "Bearer " + clientKey, "Content-Type": "application/json"}
}

func authAnthropic() map[string]string {
	return map[string]string{"x-api-key": clientKey, "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
}

var weatherTool = openai.ChatCompletionToolUnionParam{
	OfFunction: &openai.ChatCompletionFunctionToolParam{
		Function: openai.FunctionDefinitionParam{
			Name:        "get_weather",
			Description: openai.String("Weather for a city"),
			Parameters: openai.FunctionParameters{
				"type":       "object",
				"properties": map[string]any{"city": map[string]any{"type": "string"}},
				"required":   []string{"city"},
			},
		},
	},
}

func TestOpenAIClientNonStreaming(t *testing.T) {
	h := start(t)
	client := h.openai()
	for _, route := range []string{"openai-chat", "azure-chat", "anthropic-chat"} {
		t.Run(route, func(t *testing.T) {
			var resp *http.Response
			out, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model: route,
				Messages: []openai.ChatCompletionMessageParamUnion{
					openai.SystemMessage("You are terse."),
					openai.UserMessage("Say hello to the gateway"),
				},
				MaxCompletionTokens: openai.Int(64),
			}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" {
				t.Fatalf("choices = %+v, want one with content", out.Choices)
			}
			if out.Choices[0].FinishReason != "stop" && out.Choices[0].FinishReason != "length" {
				t.Errorf("finish_reason = %q", out.Choices[0].FinishReason)
			}
			if out.Usage.PromptTokens == 0 || out.Usage.CompletionTokens == 0 || out.Usage.TotalTokens != out.Usage.PromptTokens+out.Usage.CompletionTokens {
				t.Errorf("usage = %+v", out.Usage)
			}
			if resp.Header.Get("x-llmux-request-id") == "" || resp.Header.Get("x-llmux-deployment") == "" {
				t.Errorf("missing llmux headers: %v", resp.Header)
			}
		})
	}
}

func TestOpenAIClientStreaming(t *testing.T) {
	h := start(t)
	client := h.openai()
	for _, route := range []string{"openai-chat", "azure-chat", "anthropic-chat"} {
		t.Run(route, func(t *testing.T) {
			stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
				Model:         route,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream a few words")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" {
				t.Fatalf("accumulated %+v, want content", acc.Choices)
			}
			if acc.Usage.CompletionTokens == 0 {
				t.Errorf("include_usage asked, usage = %+v", acc.Usage)
			}
		})
	}
}

// Without include_usage the client must see no usage at all, even though
// llmux asks upstream for it to meter the stream.
func TestOpenAIStreamWithoutUsageHasNone(t *testing.T) {
	h := start(t)
	for _, route := range []string{"openai-chat", "anthropic-chat"} {
		status, hdr, body := h.raw("POST", "/v1/chat/completions", authOpenAI(),
			`{"model":"`+route+`","stream":true,"messages":[{"role":"user","content":"hi there"}]}`)
		if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%s: status %d type %q body %s", route, status, hdr.Get("Content-Type"), body)
		}
		if bytes.Contains(body, []byte(`"usage"`)) {
			t.Errorf("%s: stream has usage the client did not ask for:\n%s", route, body)
		}
		if !bytes.HasSuffix(bytes.TrimSpace(body), []byte("data: [DONE]")) {
			t.Errorf("%s: stream does not end with [DONE]:\n%s", route, body)
		}
		if bytes.Contains(body, []byte("event:")) {
			t.Errorf("%s: OpenAI stream has event: lines", route)
		}
	}
}

func TestOpenAIClientToolCalls(t *testing.T) {
	h := start(t)
	client := h.openai()
	for _, route := range []string{"openai-chat", "anthropic-chat"} {
		t.Run(route, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{
				Model:    route,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the weather in Paris?")},
				Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
			}
			out, err := client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			msg := out.Choices[0].Message
			if out.Choices[0].FinishReason != "tool_calls" || len(msg.ToolCalls) == 0 {
				t.Fatalf("finish %q tool calls %+v, want a tool call", out.Choices[0].FinishReason, msg.ToolCalls)
			}
			call := msg.ToolCalls[0]
			if call.Function.Name != "get_weather" || !json.Valid([]byte(call.Function.Arguments)) {
				t.Fatalf("tool call %+v", call)
			}
			// Answer the call; the model must now reply with text.
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage("18C and sunny", call.ID))
			out, err = client.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			if out.Choices[0].Message.Content == "" || out.Choices[0].FinishReason == "tool_calls" {
				t.Fatalf("after tool result: %+v", out.Choices[0])
			}

			// The same call streamed.
			params.Messages = params.Messages[:1]
			stream := client.Chat.Completions.NewStreaming(context.Background(), params)
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Choices) == 0 || len(acc.Choices[0].Message.ToolCalls) == 0 ||
				acc.Choices[0].Message.ToolCalls[0].Function.Name != "get_weather" ||
				!json.Valid([]byte(acc.Choices[0].Message.ToolCalls[0].Function.Arguments)) {
				t.Fatalf("streamed tool call: %+v", acc.Choices)
			}
		})
	}
}

func TestAnthropicClient(t *testing.T) {
	h := start(t)
	client := h.anthropic()
	tool := anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{
		Name: "get_weather",
		InputSchema: anthropic.ToolInputSchemaParam{
			Properties: map[string]any{"city": map[string]any{"type": "string"}},
			Required:   []string{"city"},
		},
	}}
	for _, route := range []string{"anthropic-chat", "openai-chat", "azure-chat"} {
		t.Run(route, func(t *testing.T) {
			ctx := context.Background()
			params := anthropic.MessageNewParams{
				Model:     anthropic.Model(route),
				MaxTokens: 128,
				System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there"))},
			}
			msg, err := client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.Usage.OutputTokens == 0 {
				t.Fatalf("message %+v", msg)
			}

			stream := client.Messages.NewStreaming(ctx, params)
			acc := anthropic.Message{}
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Content) == 0 || acc.Content[0].Text == "" || acc.StopReason == "" || acc.Usage.OutputTokens == 0 {
				t.Fatalf("accumulated %+v", acc)
			}

			params.Tools = []anthropic.ToolUnionParam{tool}
			params.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))}
			msg, err = client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			var use *anthropic.ToolUseBlock
			for _, b := range msg.Content {
				if b.Type == "tool_use" {
					u := b.AsToolUse()
					use = &u
				}
			}
			if msg.StopReason != "tool_use" || use == nil || use.Name != "get_weather" {
				t.Fatalf("want a tool_use, got %+v", msg)
			}
			params.Messages = append(params.Messages, msg.ToParam(),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "18C and sunny", false)))
			msg, err = client.Messages.New(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if msg.StopReason == "tool_use" || len(msg.Content) == 0 || msg.Content[0].Text == "" {
				t.Fatalf("after tool result: %+v", msg)
			}

			params.Messages = params.Messages[:1]
			stream = client.Messages.NewStreaming(ctx, params)
			acc = anthropic.Message{}
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatal(err)
			}
			if acc.StopReason != "tool_use" || acc.Content[len(acc.Content)-1].Type != "tool_use" {
				t.Fatalf("streamed tool use: %+v", acc)
			}
		})
	}
}

func TestEmbeddings(t *testing.T) {
	h := start(t)
	client := h.openai()
	for i := 0; i < 2; i++ { // round-robin: OpenAI, then Azure
		out, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
			Model: "embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Data) != 2 || len(out.Data[0].Embedding) == 0 || out.Usage.PromptTokens == 0 {
			t.Fatalf("embeddings %+v", out)
		}
	}
	// base64, as the Python SDK asks by default, passes through.
	status, _, body := h.raw("POST", "/v1/embeddings", authOpenAI(), `{"model":"embed","input":"hi","encoding_format":"base64"}`)
	var resp struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal(body, &resp) != nil || len(resp.Data) != 1 || resp.Data[0].Embedding == "" {
		t.Fatalf("base64 embeddings: %d %s", status, body)
	}
}

func TestModelsListsAllowedRoutes(t *testing.T) {
	h := start(t)
	client := h.openai()
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "openai-chat,azure-chat,anthropic-chat,chat,embed" {
		t.Fatalf("models = %v; secret-route must not be listed", ids)
	}
	status, _, body := h.raw("GET", "/v1/models", authAnthropic(), "")
	if status != 200 || !bytes.Contains(body, []byte(`"type":"model"`)) || !bytes.Contains(body, []byte(`"has_more":false`)) {
		t.Fatalf("anthropic models list: %d %s", status, body)
	}
}

func TestErrorsInClientFormat(t *testing.T) {
	h := start(t)
	big := `{"model":"openai-chat","messages":[{"role":"user","content":"` + strings.Repeat("x", 70<<10) + `"}]}`
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		body       string
		wantStatus int
		wantType   string // OpenAI error.type, or Anthropic error.type
		wantIn     string // substring of the message
	}{
		{"openai no key", "POST", "/v1/chat/completions", map[string]string{}, `{}`, 401, "authentication_error", "Missing API key"},
		{"openai wrong key", "POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-wrong-key-1234"}, `{}`, 401, "authentication_error", "sk-***1234"},
		{"anthropic wrong key", "POST", "/v1/messages", map[string]string{"x-api-key": "nope", "anthropic-version": "2023-06-01"}, `{}`, 401, "authentication_error", "Incorrect API key"},
		{"malformed json", "POST", "/v1/chat/completions", authOpenAI(), `{"model":`, 400, "invalid_request_error", "parse the JSON"},
		{"anthropic malformed", "POST", "/v1/messages", authAnthropic(), `[1,2`, 400, "invalid_request_error", "parse the JSON"},
		{"wrong type", "POST", "/v1/chat/completions", authOpenAI(), `{"model":42,"messages":[]}`, 400, "invalid_request_error", "model"},
		{"missing messages", "POST", "/v1/chat/completions", authOpenAI(), `{"model":"openai-chat"}`, 400, "invalid_request_error", "'messages'"},
		{"messages not array", "POST", "/v1/chat/completions", authOpenAI(), `{"model":"openai-chat","messages":"hi"}`, 400, "invalid_request_error", "array"},
		{"anthropic missing max_tokens", "POST", "/v1/messages", authAnthropic(), `{"model":"anthropic-chat","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "max_tokens: Field required"},
		{"unknown route", "POST", "/v1/chat/completions", authOpenAI(), `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, 404, "invalid_request_error", "does not exist"},
		{"route not allowed for key", "POST", "/v1/chat/completions", authOpenAI(), `{"model":"secret-route","messages":[{"role":"user","content":"hi"}]}`, 404, "invalid_request_error", "does not exist"},
		{"anthropic unknown route", "POST", "/v1/messages", authAnthropic(), `{"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, 404, "not_found_error", "does not exist"},
		{"chat on embeddings route", "POST", "/v1/chat/completions", authOpenAI(), `{"model":"embed","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "embeddings"},
		{"body too large", "POST", "/v1/chat/completions", authOpenAI(), big, 413, "invalid_request_error", "larger than"},
		{"anthropic body too large", "POST", "/v1/messages", authAnthropic(), big, 413, "request_too_large", "larger than"},
		{"wrong method", "GET", "/v1/chat/completions", authOpenAI(), ``, 405, "invalid_request_error", "not allowed"},
		{"anthropic wrong method", "PUT", "/v1/messages", authAnthropic(), ``, 405, "invalid_request_error", "not allowed"},
		{"unknown path", "POST", "/v1/nothing", authOpenAI(), `{}`, 404, "invalid_request_error", "Unknown request URL"},
		{"embeddings missing input", "POST", "/v1/embeddings", authOpenAI(), `{"model":"embed"}`, 400, "invalid_request_error", "'input'"},
		{"empty body", "POST", "/v1/chat/completions", authOpenAI(), ``, 400, "invalid_request_error", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := h.raw(tt.method, tt.path, tt.header, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			if hdr.Get("x-llmux-request-id") == "" {
				t.Error("no x-llmux-request-id on an error")
			}
			var oa struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
				Type string `json:"type"`
			}
			if err := json.Unmarshal(body, &oa); err != nil {
				t.Fatalf("error body is not JSON: %s", body)
			}
			anthropicShape := strings.HasPrefix(tt.path, "/v1/messages")
			if anthropicShape && oa.Type != "error" {
				t.Errorf("Anthropic error without type=error: %s", body)
			}
			if !anthropicShape && !bytes.Contains(body, []byte(`"param":`)) {
				t.Errorf("OpenAI error without the param key: %s", body)
			}
			if oa.Error.Type != tt.wantType || !strings.Contains(oa.Error.Message, tt.wantIn) {
				t.Errorf("error %+v, want type %q and message containing %q", oa.Error, tt.wantType, tt.wantIn)
			}
		})
	}
}

// The SDKs must surface gateway errors as their own typed errors.
func TestSDKsParseErrors(t *testing.T) {
	h := start(t)
	oc := h.openai()
	_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "nope", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var oerr *openai.Error
	if !errors.As(err, &oerr) || oerr.StatusCode != 404 || oerr.Code != "model_not_found" {
		t.Fatalf("openai error = %v", err)
	}
	ac := h.anthropic()
	_, err = ac.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "nope", MaxTokens: 5, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 404 {
		t.Fatalf("anthropic error = %v", err)
	}
}

func setFaults(t *testing.T, h *harness, faults ...sim.Fault) {
	t.Helper()
	h.srv.Sim.SetFaults(faults)
}

// A retryable upstream failure before the first byte moves on to the next
// deployment; the client never sees it.
func TestFailover(t *testing.T) {
	tests := []struct {
		name   string
		fault  sim.Fault
		stream bool
	}{
		{"500", sim.Fault{Kind: "status", Status: 500, Rate: 1, Key: "sim-key-openai-1"}, false},
		{"429", sim.Fault{Kind: "status", Status: 429, Rate: 1, Key: "sim-key-openai-1"}, false},
		{"reset", sim.Fault{Kind: "reset", Rate: 1, Key: "sim-key-openai-1"}, false},
		{"garbage", sim.Fault{Kind: "garbage", Rate: 1, Key: "sim-key-openai-1"}, false},
		{"500 stream", sim.Fault{Kind: "status", Status: 500, Rate: 1, Key: "sim-key-openai-1"}, true},
		{"reset stream", sim.Fault{Kind: "reset", Rate: 1, Key: "sim-key-openai-1"}, true},
		{"garbage stream", sim.Fault{Kind: "garbage", Rate: 1, Key: "sim-key-openai-1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			setFaults(t, h, tt.fault)
			stream := "false"
			if tt.stream {
				stream = "true"
			}
			// Two requests: round-robin starts one of them on the faulty
			// deployment, which must fail over to the other.
			for i := 0; i < 2; i++ {
				status, hdr, body := h.raw("POST", "/v1/chat/completions", authOpenAI(),
					`{"model":"openai-chat","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
				if status != 200 || hdr.Get("x-llmux-deployment") != "oa2/gpt" {
					t.Fatalf("request %d: status %d deployment %q: %s", i, status, hdr.Get("x-llmux-deployment"), body)
				}
				if bytes.Contains(body, []byte(`"error"`)) {
					t.Fatalf("client saw the upstream failure: %s", body)
				}
			}
		})
	}
}

func TestAllDeploymentsFail(t *testing.T) {
	h := start(t)
	setFaults(t, h, sim.Fault{Kind: "status", Status: 503, Rate: 1})
	status, _, body := h.raw("POST", "/v1/chat/completions", authOpenAI(),
		`{"model":"openai-chat","messages":[{"role":"user","content":"hi"}]}`)
	// Two deployments, each retried once (routes[].retries defaults to 1).
	if status != 502 || !bytes.Contains(body, []byte("All 4 upstream attempts failed")) {
		t.Fatalf("status %d: %s", status, body)
	}
	setFaults(t, h, sim.Fault{Kind: "status", Status: 429, Rate: 1})
	status, hdr, body := h.raw("POST", "/v1/messages", authAnthropic(),
		`{"model":"anthropic-chat","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`)
	if status != 429 || hdr.Get("Retry-After") == "" || !bytes.Contains(body, []byte(`"rate_limit_error"`)) {
		t.Fatalf("all rate limited: status %d retry-after %q: %s", status, hdr.Get("Retry-After"), body)
	}
}

// A client error from upstream (400) is not retried and reaches the client
// in its own format.
func TestUpstreamClientErrorPassesThrough(t *testing.T) {
	h := start(t)
	status, hdr, body := h.raw("POST", "/v1/chat/completions", authOpenAI(),
		`{"model":"openai-chat","messages":[{"role":"bogus","content":"hi"}]}`)
	if status != 400 || hdr.Get("x-llmux-attempts") != "" && hdr.Get("x-llmux-attempts") != "1" {
		t.Fatalf("status %d attempts %q: %s", status, hdr.Get("x-llmux-attempts"), body)
	}
	if !bytes.Contains(body, []byte(`"invalid_request_error"`)) {
		t.Fatalf("body %s", body)
	}
}

// After the first byte a failure ends the stream with an error event in
// the client's format, never a hang.
func TestMidStreamFailure(t *testing.T) {
	tests := []struct {
		name, path, route string
		header            map[string]string
		body              string
		fault             sim.Fault
		want              string
	}{
		{"openai reset", "/v1/chat/completions", "azure-chat", authOpenAI(), `{"model":"azure-chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"tell me a long story please"}]}`,
			sim.Fault{Kind: "reset", Rate: 1, AfterTokens: 2}, `data: {"error":`},
		{"anthropic reset", "/v1/messages", "anthropic-chat", authAnthropic(), `{"model":"anthropic-chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"tell me a long story please"}]}`,
			sim.Fault{Kind: "reset", Rate: 1, AfterTokens: 2}, "event: error"},
		{"openai client, anthropic upstream reset", "/v1/chat/completions", "anthropic-chat", authOpenAI(), `{"model":"anthropic-chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"tell me a long story please"}]}`,
			sim.Fault{Kind: "reset", Rate: 1, AfterTokens: 2}, `data: {"error":`},
		{"anthropic client, openai upstream reset", "/v1/messages", "azure-chat", authAnthropic(), `{"model":"azure-chat","stream":true,"max_tokens":60,"messages":[{"role":"user","content":"tell me a long story please"}]}`,
			sim.Fault{Kind: "reset", Rate: 1, AfterTokens: 2}, "event: error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t)
			setFaults(t, h, tt.fault)
			status, _, body := h.raw("POST", tt.path, tt.header, tt.body)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if !bytes.Contains(body, []byte(tt.want)) {
				t.Fatalf("stream did not end with an error event (%q):\n%s", tt.want, body)
			}
			if bytes.Contains(body, []byte("[DONE]")) || bytes.Contains(body, []byte("message_stop")) {
				t.Fatalf("a failed stream claims success:\n%s", body)
			}
		})
	}
}

// A client that goes away mid-stream cancels the upstream request.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	h := start(t)
	setFaults(t, h, sim.Fault{Kind: "stall", Rate: 1, AfterTokens: 1}) // stall until cancelled
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"azure-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	for k, v := range authOpenAI() {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	// The gateway logs the request when its handler returns, which it can
	// only do once the stalled upstream read was cancelled.
	if !h.logs.waitFor("route=azure-chat", 10*time.Second) {
		t.Fatal("the handler never returned after the client left: upstream not cancelled")
	}
}
