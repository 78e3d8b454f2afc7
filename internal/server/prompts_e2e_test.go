package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmux/llmux/internal/config"
)

// startQuickstart starts llmux on the quickstart config (its prompt
// repository included), with the simulator's latency off.
func startQuickstart(t *testing.T, mutate func(*config.Config)) string {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "examples", "quickstart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	cfg.Listen, cfg.Simulator.TimeScale = "127.0.0.1:0", &zero
	if mutate != nil {
		mutate(cfg)
	}
	srv, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return "http://" + srv.Addr
}

// The contract other tooling relies on: through the quickstart, a request
// naming explain-code on openai-chat and one on anthropic-chat succeed,
// each with its own variant, with the official SDKs.
func TestQuickstartPromptVariantsWithSDKs(t *testing.T) {
	url := startQuickstart(t, nil)
	ctx := context.Background()
	ext := map[string]any{"prompt": "explain-code@production",
		"variables": map[string]any{"code": "func add(a, b int) int { return a + b }", "language": "go"}}

	oc := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-llmux-demo"), option.WithMaxRetries(0))
	var oresp *http.Response
	out, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "openai-chat", Messages: []openai.ChatCompletionMessageParamUnion{}},
		option.WithJSONSet("llmux", ext), option.WithResponseInto(&oresp))
	if err != nil {
		t.Fatalf("openai-chat: %v", err)
	}
	if len(out.Choices) == 0 || out.Choices[0].Message.Content == "" {
		t.Errorf("openai-chat: empty answer %+v", out)
	}

	ac := anthropic.NewClient(aoption.WithBaseURL(url), aoption.WithAPIKey("sk-llmux-demo"), aoption.WithMaxRetries(0))
	var aresp *http.Response
	msg, err := ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "anthropic-chat", MaxTokens: 512, Messages: []anthropic.MessageParam{}},
		aoption.WithJSONSet("llmux", ext), aoption.WithResponseInto(&aresp))
	if err != nil {
		t.Fatalf("anthropic-chat: %v", err)
	}
	if len(msg.Content) == 0 {
		t.Errorf("anthropic-chat: empty answer")
	}

	oh, ah := oresp.Header.Get("x-llmux-prompt"), aresp.Header.Get("x-llmux-prompt")
	if !strings.HasPrefix(oh, "explain-code@") || !strings.HasPrefix(ah, "explain-code@") || oh == ah {
		t.Errorf("x-llmux-prompt: openai-chat %q, anthropic-chat %q; want two different explain-code variants", oh, ah)
	}
	if oh != "explain-code@2#gpt35" || ah != "explain-code@2#claude" {
		t.Errorf("variants: %q and %q, want explain-code@2#gpt35 and explain-code@2#claude", oh, ah)
	}

	// Streamed, with a client message appended after the prompt's.
	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Keep it short.")}},
		option.WithJSONSet("llmux", ext))
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil || len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" {
		t.Errorf("stream: %v, %+v", err, acc.Choices)
	}
}

// A missing variable is the client's error, in its own format, before
// anything is sent.
func TestQuickstartPromptErrorsWithSDKs(t *testing.T) {
	url := startQuickstart(t, nil)
	oc := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-llmux-demo"), option.WithMaxRetries(0))
	_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "openai-chat", Messages: []openai.ChatCompletionMessageParamUnion{}},
		option.WithJSONSet("llmux", map[string]any{"prompt": "explain-code", "variables": map[string]any{"code": "x"}}))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "llmux.variables.language" {
		t.Fatalf("err = %v; want a 400 naming llmux.variables.language", err)
	}
}

// A prompt file broken while llmux runs is rejected; the last good
// version keeps serving.
func TestPromptHotReloadKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello/prompt.yaml", "name: hello\nversion: 1\n")
	write("hello/default.prompt", "---\nvariant: default\n---\nmessages:\n  - role: user\n    content: 'v1'\n")
	url := startQuickstart(t, func(c *config.Config) { c.Prompts = &config.Prompts{Dir: dir} })
	oc := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("sk-llmux-demo"), option.WithMaxRetries(0))
	ask := func() (string, error) {
		var resp *http.Response
		_, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "openai-chat", Messages: []openai.ChatCompletionMessageParamUnion{}},
			option.WithJSONSet("llmux", map[string]any{"prompt": "hello"}), option.WithResponseInto(&resp))
		if err != nil {
			return "", err
		}
		return resp.Header.Get("x-llmux-prompt"), nil
	}
	if h, err := ask(); err != nil || h != "hello@1#default" {
		t.Fatalf("before: %q, %v", h, err)
	}
	write("hello/prompt.yaml", "name: hello\nversion: 2\n")
	write("hello/default.prompt", "---\nvariant: default\n---\nmessages:\n  - role: user\n    content: '{% if %}'\n")
	// The broken version never serves: the last good one does, across
	// several reload debounce periods.
	for range 10 {
		if h, err := ask(); err != nil || h != "hello@1#default" {
			t.Fatalf("with a broken file: %q, %v; want the last good version", h, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	// A fixed version serves once reloaded.
	write("hello/default.prompt", "---\nvariant: default\n---\nmessages:\n  - role: user\n    content: 'v2'\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := ask()
		if err != nil {
			t.Fatalf("a request failed during reloads: %v", err)
		}
		if h == "hello@2#default" {
			break
		}
		if h != "hello@1#default" {
			t.Fatalf("served %q: neither the last good nor the fixed version", h)
		}
		if time.Now().After(deadline) {
			t.Fatal("the fixed prompt was not picked up within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
