package sim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	openaiopt "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// The official SDKs are the judges of wire fidelity: they must parse every
// response, stream and error the simulator produces.

func sdkServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newTestServer(t, nil))
	t.Cleanup(srv.Close)
	return srv
}

func openaiClient(srv *httptest.Server) openaisdk.Client {
	return openaisdk.NewClient(openaiopt.WithBaseURL(srv.URL+"/v1"), openaiopt.WithAPIKey(openaiKey), openaiopt.WithMaxRetries(0))
}

func weatherFunction() shared.FunctionDefinitionParam {
	return shared.FunctionDefinitionParam{
		Name:        "get_weather",
		Description: openaisdk.String("Weather for a city"),
		Parameters: openaisdk.FunctionParameters{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
			"required":   []string{"city", "days"},
		},
	}
}

func TestOpenAISDKChat(t *testing.T) {
	client := openaiClient(sdkServer(t))
	ctx := context.Background()
	params := openaisdk.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openaisdk.ChatCompletionMessageParamUnion{openaisdk.SystemMessage("Be terse."), openaisdk.UserMessage("Hello there")},
		MaxTokens: openaisdk.Int(64),
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	text := resp.Choices[0].Message.Content
	if !strings.HasPrefix(text, "sim reply to: Hello there") || resp.Choices[0].FinishReason != "stop" {
		t.Errorf("reply %q finish %q", text, resp.Choices[0].FinishReason)
	}
	if resp.Usage.PromptTokens != 15 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Errorf("usage %+v", resp.Usage)
	}

	params.StreamOptions = openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openaisdk.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if got := acc.Choices[0].Message.Content; got != text {
		t.Errorf("stream text %q, non-stream %q", got, text)
	}
	if acc.Usage.CompletionTokens != resp.Usage.CompletionTokens || acc.Usage.PromptTokens != 15 {
		t.Errorf("stream usage %+v, want %+v", acc.Usage, resp.Usage)
	}
}

func TestOpenAISDKToolCall(t *testing.T) {
	client := openaiClient(sdkServer(t))
	ctx := context.Background()
	params := openaisdk.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Weather in Paris?")},
		Tools:    []openaisdk.ChatCompletionToolUnionParam{openaisdk.ChatCompletionFunctionTool(weatherFunction())},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Choices[0].Message.ToolCalls
	if resp.Choices[0].FinishReason != "tool_calls" || len(calls) != 1 || calls[0].Function.Name != "get_weather" ||
		calls[0].Function.Arguments != `{"city":"sim","days":1}` || !strings.HasPrefix(calls[0].ID, "call_") {
		t.Fatalf("tool call %+v finish %q", calls, resp.Choices[0].FinishReason)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openaisdk.ChatCompletionAccumulator
	var finished []openaisdk.FinishedChatCompletionToolCall
	for stream.Next() {
		acc.AddChunk(stream.Current())
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0].Arguments != `{"city":"sim","days":1}` || finished[0].Name != "get_weather" {
		t.Errorf("streamed tool calls %+v", finished)
	}

	// Answer the call: the reply is text again.
	params.Messages = append(params.Messages, resp.Choices[0].Message.ToParam(), openaisdk.ToolMessage("15C, fog", calls[0].ID))
	resp, err = client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Choices[0].Message.Content, "sim reply to: 15C, fog") {
		t.Errorf("after the tool result: %q", resp.Choices[0].Message.Content)
	}
}

func TestOpenAISDKEmbeddingsAndErrors(t *testing.T) {
	srv := sdkServer(t)
	client := openaiClient(srv)
	ctx := context.Background()
	resp, err := client.Embeddings.New(ctx, openaisdk.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openaisdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 2 || len(resp.Data[1].Embedding) != 1536 || resp.Data[1].Index != 1 || resp.Usage.PromptTokens != 4 {
		t.Errorf("embeddings: %d vectors, usage %+v", len(resp.Data), resp.Usage)
	}
	models, err := client.Models.List(ctx)
	if err != nil || len(models.Data) == 0 || models.Data[0].ID != "gpt-4o" {
		t.Errorf("models: %v %+v", err, models)
	}

	bad := openaisdk.NewClient(openaiopt.WithBaseURL(srv.URL+"/v1"), openaiopt.WithAPIKey("sk-wrong-key-123456"), openaiopt.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, openaisdk.ChatCompletionNewParams{Model: "m", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("x")}})
	var apiErr *openaisdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" || apiErr.Type != "invalid_request_error" {
		t.Errorf("401 as seen by the SDK: %v", err)
	}
}

func TestAzureSDKClassic(t *testing.T) {
	srv := sdkServer(t)
	client := openaisdk.NewClient(
		azure.WithEndpoint(srv.URL, "2024-10-21"),
		azure.WithAPIKey(azureKey),
		azure.WithUnsafeAllowHTTP(), // loopback test server without TLS
		openaiopt.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := openaisdk.ChatCompletionNewParams{
		Model:    "my-gpt4o", // the deployment: the SDK puts it in the path
		Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Hello there")},
	}
	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "my-gpt4o" || !strings.HasPrefix(resp.Choices[0].Message.Content, "sim reply to: Hello there") {
		t.Errorf("azure reply: model %q content %q", resp.Model, resp.Choices[0].Message.Content)
	}
	if !strings.Contains(resp.RawJSON(), `"prompt_filter_results"`) {
		t.Error("azure response lacks prompt_filter_results")
	}
	params.StreamOptions = openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openaisdk.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != resp.Choices[0].Message.Content || acc.Usage.TotalTokens != resp.Usage.TotalTokens {
		t.Errorf("azure stream: %q usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	emb, err := client.Embeddings.New(ctx, openaisdk.EmbeddingNewParams{Model: "my-embed",
		Input: openaisdk.EmbeddingNewParamsInputUnion{OfString: openaisdk.String("hi")}, Dimensions: openaisdk.Int(16)})
	if err != nil || len(emb.Data[0].Embedding) != 16 {
		t.Errorf("azure embeddings: %v", err)
	}
}

func anthropicClient(srv *httptest.Server) anthropicsdk.Client {
	return anthropicsdk.NewClient(anthropicopt.WithBaseURL(srv.URL), anthropicopt.WithAPIKey(anthropicKey), anthropicopt.WithMaxRetries(0))
}

func TestAnthropicSDKMessages(t *testing.T) {
	client := anthropicClient(sdkServer(t))
	ctx := context.Background()
	params := anthropicsdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 64,
		System:    []anthropicsdk.TextBlockParam{{Text: "Be terse."}},
		Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hello there"))},
	}
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	text := msg.Content[0].Text
	if !strings.HasPrefix(text, "sim reply to: Hello there") || msg.StopReason != "end_turn" || !strings.HasPrefix(msg.ID, "msg_") {
		t.Errorf("message %q stop %q id %q", text, msg.StopReason, msg.ID)
	}
	if msg.Usage.InputTokens != 12 || msg.Usage.OutputTokens == 0 || msg.Usage.ServiceTier != "standard" {
		t.Errorf("usage %+v", msg.Usage)
	}

	stream := client.Messages.NewStreaming(ctx, params)
	var acc anthropicsdk.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Content[0].Text != text || acc.Usage.OutputTokens != msg.Usage.OutputTokens || acc.StopReason != "end_turn" {
		t.Errorf("stream %q usage %+v stop %q", acc.Content[0].Text, acc.Usage, acc.StopReason)
	}

	count, err := client.Messages.CountTokens(ctx, anthropicsdk.MessageCountTokensParams{
		Model: "claude-sonnet-4-5", System: anthropicsdk.MessageCountTokensParamsSystemUnion{OfTextBlockArray: params.System},
		Messages: params.Messages})
	if err != nil || count.InputTokens != msg.Usage.InputTokens {
		t.Errorf("count_tokens %v %+v, want %d", err, count, msg.Usage.InputTokens)
	}
	models, err := client.Models.List(ctx, anthropicsdk.ModelListParams{})
	if err != nil || len(models.Data) == 0 || models.Data[0].Type != "model" {
		t.Errorf("models: %v", err)
	}
}

func TestAnthropicSDKToolUse(t *testing.T) {
	client := anthropicClient(sdkServer(t))
	ctx := context.Background()
	tool := anthropicsdk.ToolUnionParamOfTool(anthropicsdk.ToolInputSchemaParam{
		Properties: map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
		Required:   []string{"city", "days"},
	}, "get_weather")
	params := anthropicsdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 256,
		Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Weather in Paris?"))},
		Tools:     []anthropicsdk.ToolUnionParam{tool},
	}
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "tool_use" || len(msg.Content) != 2 || msg.Content[1].Type != "tool_use" {
		t.Fatalf("tool use: stop %q content %+v", msg.StopReason, msg.Content)
	}
	use := msg.Content[1]
	if use.Name != "get_weather" || string(use.Input) != `{"city":"sim","days":1}` || !strings.HasPrefix(use.ID, "toolu_") {
		t.Errorf("tool_use %s %s %s", use.Name, use.Input, use.ID)
	}

	stream := client.Messages.NewStreaming(ctx, params)
	var acc anthropicsdk.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	var input map[string]any
	if len(acc.Content) != 2 || json.Unmarshal(acc.Content[1].Input, &input) != nil || input["city"] != "sim" {
		t.Errorf("streamed tool_use %+v", acc.Content)
	}

	// Answer the call with a tool_result: the reply is text again.
	params.Messages = append(params.Messages, msg.ToParam(),
		anthropicsdk.NewUserMessage(anthropicsdk.NewToolResultBlock(use.ID, "15C, fog", false)))
	msg, err = client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != "end_turn" || !strings.HasPrefix(msg.Content[0].Text, "sim reply to: 15C, fog") {
		t.Errorf("after the tool result: %q %q", msg.StopReason, msg.Content[0].Text)
	}
}

func TestAnthropicSDKErrors(t *testing.T) {
	srv := httptest.NewServer(newTestServer(t, func(c *Config) { c.Faults = []Fault{{Kind: FaultStatus, Status: 529}} }))
	defer srv.Close()
	client := anthropicClient(srv)
	_, err := client.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model: "c", MaxTokens: 5, Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("x"))}})
	var apiErr *anthropicsdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 || !strings.Contains(apiErr.Error(), "overloaded_error") {
		t.Errorf("529 as seen by the SDK: %v", err)
	}
}
