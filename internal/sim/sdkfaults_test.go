package sim

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	openaisdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	openaiopt "github.com/openai/openai-go/v3/option"
)

// The official SDKs on prefills and on the new faults' answers.

func faultServer(t *testing.T, faults ...Fault) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newTestServer(t, func(c *Config) { c.Faults = faults }))
	t.Cleanup(srv.Close)
	return srv
}

func TestAnthropicSDKPrefill(t *testing.T) {
	client := anthropicClient(sdkServer(t))
	ctx := context.Background()
	params := anthropicsdk.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 100,
		Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hello there"))},
	}
	whole, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	full := whole.Content[0].Text
	params.Messages = append(params.Messages, anthropicsdk.NewAssistantMessage(anthropicsdk.NewTextBlock("sim reply to:")))
	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Content[0].Text; "sim reply to:"+got != full || msg.Usage.OutputTokens != whole.Usage.OutputTokens-3 {
		t.Errorf("continuation %q (%d tokens) of %q (%d tokens)", got, msg.Usage.OutputTokens, full, whole.Usage.OutputTokens)
	}
	stream := client.Messages.NewStreaming(ctx, params)
	var acc anthropicsdk.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil || acc.Content[0].Text != msg.Content[0].Text || acc.Usage.OutputTokens != msg.Usage.OutputTokens {
		t.Errorf("streamed continuation %q usage %+v err %v", acc.Content[0].Text, acc.Usage, err)
	}
}

func TestOpenAISDKTrailingAssistant(t *testing.T) {
	client := openaiClient(sdkServer(t))
	ctx := context.Background()
	params := openaisdk.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Hello there")},
	}
	first, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	params.Messages = append(params.Messages, openaisdk.AssistantMessage("sim reply to:"))
	again, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if again.Choices[0].Message.Content != first.Choices[0].Message.Content {
		t.Errorf("regenerated %q, first %q", again.Choices[0].Message.Content, first.Choices[0].Message.Content)
	}
}

func TestSDKsParseFaultErrors(t *testing.T) {
	ctx := context.Background()
	user := []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Hello there")}

	oa := openaiClient(faultServer(t, Fault{Kind: FaultContextLength}))
	_, err := oa.Chat.Completions.New(ctx, openaisdk.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: user})
	var oaErr *openaisdk.Error
	if !errors.As(err, &oaErr) || oaErr.StatusCode != 400 || oaErr.Code != "context_length_exceeded" || oaErr.Param != "messages" {
		t.Errorf("openai context_length: %v", err)
	}

	srv := faultServer(t, Fault{Kind: FaultContentFilter})
	az := openaisdk.NewClient(azure.WithEndpoint(srv.URL, "2024-10-21"), azure.WithAPIKey(azureKey),
		azure.WithUnsafeAllowHTTP(), openaiopt.WithMaxRetries(0))
	_, err = az.Chat.Completions.New(ctx, openaisdk.ChatCompletionNewParams{Model: "my-gpt", Messages: user})
	if !errors.As(err, &oaErr) || oaErr.StatusCode != 400 || oaErr.Code != "content_filter" || !strings.Contains(oaErr.RawJSON(), "ResponsibleAIPolicyViolation") {
		t.Errorf("azure content_filter: %v", err)
	}

	an := anthropicClient(faultServer(t, Fault{Kind: FaultPrefillRejected}, Fault{Kind: FaultContentFilter, AfterTokens: 2}))
	params := anthropicsdk.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 50, Messages: []anthropicsdk.MessageParam{
		anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hello there")),
		anthropicsdk.NewAssistantMessage(anthropicsdk.NewTextBlock("sim")),
	}}
	_, err = an.Messages.New(ctx, params)
	var anErr *anthropicsdk.Error
	if !errors.As(err, &anErr) || anErr.StatusCode != 400 || !strings.Contains(anErr.Error(), "does not support assistant message prefill") {
		t.Errorf("anthropic prefill_rejected: %v", err)
	}
	params.Messages = params.Messages[:1] // no prefill: the content_filter fault refuses
	msg, err := an.Messages.New(ctx, params)
	if err != nil || msg.StopReason != anthropicsdk.StopReasonRefusal || msg.Content[0].Text != "sim reply" {
		t.Errorf("anthropic refusal: %v %+v", err, msg)
	}
}

// TestSDKsOnNoDone records what the SDKs do with a stream that ends
// without its end marker: neither reports an error, so only the
// gateway's own check can tell the stream was cut after the finish.
func TestSDKsOnNoDone(t *testing.T) {
	srv := faultServer(t, Fault{Kind: FaultNoDone})
	ctx := context.Background()
	oaClient, anClient := openaiClient(srv), anthropicClient(srv)
	oa := oaClient.Chat.Completions.NewStreaming(ctx, openaisdk.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Hello there")}})
	var acc openaisdk.ChatCompletionAccumulator
	for oa.Next() {
		acc.AddChunk(oa.Current())
	}
	if err := oa.Err(); err != nil || !strings.HasPrefix(acc.Choices[0].Message.Content, "sim reply to: Hello there") || acc.Choices[0].FinishReason != "stop" {
		t.Errorf("openai-go on no_done: %v %+v", err, acc.Choices)
	}
	an := anClient.Messages.NewStreaming(ctx, anthropicsdk.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 50,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hello there"))}})
	var msg anthropicsdk.Message
	for an.Next() {
		if err := msg.Accumulate(an.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := an.Err(); err != nil || msg.StopReason != "end_turn" {
		t.Errorf("anthropic-sdk-go on no_done: %v stop %q", err, msg.StopReason)
	}
}

// TestSDKsOnMalformedEvent records that both SDKs stop with an error at
// the malformed event, although the rest of the stream was complete.
func TestSDKsOnMalformedEvent(t *testing.T) {
	srv := faultServer(t, Fault{Kind: FaultMalformedEvent, AfterTokens: 4})
	ctx := context.Background()
	oaClient, anClient := openaiClient(srv), anthropicClient(srv)
	oa := oaClient.Chat.Completions.NewStreaming(ctx, openaisdk.ChatCompletionNewParams{
		Model: "gpt-4o-mini", Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Hello there")}})
	for oa.Next() {
	}
	if oa.Err() == nil {
		t.Error("openai-go accepted a malformed event")
	}
	an := anClient.Messages.NewStreaming(ctx, anthropicsdk.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 50,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hello there"))}})
	for an.Next() {
	}
	if an.Err() == nil {
		t.Error("anthropic-sdk-go accepted a malformed event")
	}
}
