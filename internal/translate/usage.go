package translate

import (
	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// FinishReason maps an Anthropic stop_reason to an OpenAI finish_reason
// (providers.md §6.3). pause_turn has no equivalent and becomes "stop";
// unknown and empty values become "stop" too, so no Anthropic-only value
// reaches an OpenAI client.
func FinishReason(anthropicStop string) string {
	switch anthropicStop {
	case anthropic.StopMaxTokens, anthropic.StopContextLimit:
		return openai.FinishLength
	case anthropic.StopToolUse:
		return openai.FinishToolCalls
	case anthropic.StopRefusal:
		return openai.FinishContentFilter
	}
	return openai.FinishStop
}

// StopReason maps an OpenAI finish_reason to an Anthropic stop_reason
// (providers.md §6.3). The deprecated function_call becomes tool_use;
// unknown and empty values become end_turn.
func StopReason(openaiFinish string) string {
	switch openaiFinish {
	case openai.FinishLength:
		return anthropic.StopMaxTokens
	case openai.FinishToolCalls, "function_call":
		return anthropic.StopToolUse
	case openai.FinishContentFilter:
		return anthropic.StopRefusal
	}
	return anthropic.StopEndTurn
}

// UsageToOpenAI converts Anthropic usage to OpenAI's (providers.md §6.4).
// Anthropic's input_tokens excludes the cache, OpenAI's prompt_tokens
// includes it, so prompt_tokens = input + cache read + cache write;
// cached_tokens = cache read, cache_write_tokens = cache write.
func UsageToOpenAI(u anthropic.Usage) openai.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	return openai.Usage{
		PromptTokens:     prompt,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      prompt + u.OutputTokens,
		PromptTokensDetails: &openai.PromptTokensDetails{
			CachedTokens:     u.CacheReadInputTokens,
			CacheWriteTokens: u.CacheCreationInputTokens,
		},
	}
}

// UsageToAnthropic converts OpenAI usage to Anthropic's (providers.md
// §6.4): input_tokens = prompt_tokens minus the cached and cache-written
// tokens (never below zero), cache_read_input_tokens = cached_tokens,
// cache_creation_input_tokens = cache_write_tokens, output_tokens =
// completion_tokens (reasoning included).
func UsageToAnthropic(u openai.Usage) anthropic.Usage {
	var cached, written int
	if d := u.PromptTokensDetails; d != nil {
		cached, written = d.CachedTokens, d.CacheWriteTokens
	}
	return anthropic.Usage{
		InputTokens:              max(u.PromptTokens-cached-written, 0),
		OutputTokens:             u.CompletionTokens,
		CacheReadInputTokens:     cached,
		CacheCreationInputTokens: written,
	}
}
