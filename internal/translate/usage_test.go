package translate

import (
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

func TestFinishReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"end_turn", "stop"},
		{"stop_sequence", "stop"},
		{"max_tokens", "length"},
		{"tool_use", "tool_calls"},
		{"refusal", "content_filter"},
		{"model_context_window_exceeded", "length"},
		{"pause_turn", "stop"},
		{"", "stop"},
		{"something_new", "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := FinishReason(tt.in); got != tt.want {
				t.Errorf("FinishReason(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStopReason(t *testing.T) {
	tests := []struct{ in, want string }{
		{"stop", "end_turn"},
		{"length", "max_tokens"},
		{"tool_calls", "tool_use"},
		{"function_call", "tool_use"},
		{"content_filter", "refusal"},
		{"", "end_turn"},
		{"eos", "end_turn"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := StopReason(tt.in); got != tt.want {
				t.Errorf("StopReason(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUsageToOpenAI(t *testing.T) {
	tests := []struct {
		name string
		in   anthropic.Usage
		want openai.Usage
	}{
		{"plain", anthropic.Usage{InputTokens: 25, OutputTokens: 15},
			openai.Usage{PromptTokens: 25, CompletionTokens: 15, TotalTokens: 40, PromptTokensDetails: &openai.PromptTokensDetails{}}},
		{"cache read and write", anthropic.Usage{InputTokens: 12, OutputTokens: 6, CacheReadInputTokens: 2000, CacheCreationInputTokens: 100},
			openai.Usage{PromptTokens: 2112, CompletionTokens: 6, TotalTokens: 2118,
				PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 2000, CacheWriteTokens: 100}}},
		{"zero", anthropic.Usage{}, openai.Usage{PromptTokensDetails: &openai.PromptTokensDetails{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UsageToOpenAI(tt.in)
			if got.PromptTokens != tt.want.PromptTokens || got.CompletionTokens != tt.want.CompletionTokens ||
				got.TotalTokens != tt.want.TotalTokens || *got.PromptTokensDetails != *tt.want.PromptTokensDetails {
				t.Errorf("UsageToOpenAI(%+v) = %+v %+v, want %+v %+v", tt.in, got, got.PromptTokensDetails, tt.want, tt.want.PromptTokensDetails)
			}
		})
	}
}

func TestUsageToAnthropic(t *testing.T) {
	tests := []struct {
		name string
		in   openai.Usage
		want anthropic.Usage
	}{
		{"no details", openai.Usage{PromptTokens: 80, CompletionTokens: 40, TotalTokens: 120},
			anthropic.Usage{InputTokens: 80, OutputTokens: 40}},
		{"cached", openai.Usage{PromptTokens: 42, CompletionTokens: 15, PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 13}},
			anthropic.Usage{InputTokens: 29, OutputTokens: 15, CacheReadInputTokens: 13}},
		{"cache write", openai.Usage{PromptTokens: 20, CompletionTokens: 3, PromptTokensDetails: &openai.PromptTokensDetails{CacheWriteTokens: 5}},
			anthropic.Usage{InputTokens: 15, OutputTokens: 3, CacheCreationInputTokens: 5}},
		{"inconsistent never negative", openai.Usage{PromptTokens: 5, PromptTokensDetails: &openai.PromptTokensDetails{CachedTokens: 9}},
			anthropic.Usage{InputTokens: 0, CacheReadInputTokens: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UsageToAnthropic(tt.in); got != tt.want {
				t.Errorf("UsageToAnthropic(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestUsageRoundTrip(t *testing.T) {
	in := anthropic.Usage{InputTokens: 7, OutputTokens: 3, CacheReadInputTokens: 11, CacheCreationInputTokens: 13}
	if got := UsageToAnthropic(UsageToOpenAI(in)); got != in {
		t.Errorf("round trip = %+v, want %+v", got, in)
	}
}
