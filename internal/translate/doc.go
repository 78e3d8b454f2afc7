// Package translate converts between the OpenAI chat completions format and
// the Anthropic messages format: requests, responses, usage, stop reasons,
// error bodies and streams, in both directions. The gateway uses it only
// when a client's format differs from the upstream's; otherwise bodies pass
// through untouched. It does no I/O and keeps no state between calls: every
// function is pure, and a stream converter holds the state of one stream.
//
// # Model
//
// A request is translated once, before it is sent, into the upstream's
// format, with the upstream model name:
//
//	OpenAIToAnthropic(req, model, Options{DefaultMaxTokens: deployment.MaxOutput})
//	AnthropicToOpenAI(req, model)
//
// Both return an *Error when the client asked for something the target
// cannot do or sent something inconsistent; the gateway answers that with a
// 400 naming Error.Param. The response comes back the other way, named after
// what the client asked for (the route):
//
//	AnthropicResponseToOpenAI(resp, route)   // AnthropicResponseToOpenAIAt to inject the time
//	OpenAIResponseToAnthropic(resp, route)
//
// A stream is converted event by event by a converter that writes the
// client's events to an EventWriter (an *sse.Writer) as soon as they are
// known. NewAnthropicToOpenAIStream emits OpenAI chunks and "[DONE]";
// NewOpenAIToAnthropicStream emits Anthropic events and needs Finish at
// upstream EOF, because OpenAI's usage chunk follows its finish_reason
// chunk and the message can only be closed at "[DONE]". An error inside the
// upstream stream is relayed in the client's format and returned as an
// *UpstreamError, so the caller stops without writing a second error.
// Usage reports what a converter has seen, for settling rate limits.
//
// Upstream error bodies are converted with ErrorToOpenAI and
// ErrorToAnthropic (status kept, message verbatim, type and code chosen the
// way the client's SDK expects).
//
// Files are named by what they produce: request.go (both request
// directions), response.go, usage.go (usage and stop reasons), errors.go,
// stream_openai.go (Anthropic stream → OpenAI chunks), stream_anthropic.go
// (OpenAI chunks → Anthropic stream).
//
// # Lossy choices
//
// The two formats do not map one to one (providers.md §6). Where they
// differ this package chooses as follows.
//
// OpenAI → Anthropic requests:
//   - system and developer messages, wherever they are, join the top-level
//     system prompt (blank lines between them; text blocks when any came as
//     parts, keeping cache_control). A conversation with only system
//     messages sends them as the user turn instead.
//   - consecutive same-role turns are merged; tool messages become
//     tool_result blocks in a user turn, always placed before that turn's
//     other blocks.
//   - empty and whitespace-only text is dropped; an assistant message left
//     with nothing (null content, no tool calls) is dropped; trailing
//     whitespace is trimmed off a final assistant turn (a prefill, where
//     Anthropic rejects it). A conversation left empty is an *Error.
//   - tool call ids are rewritten to Anthropic's ^[a-zA-Z0-9_-]+$ (other
//     characters become '_', clashes get a suffix) identically in tool_use
//     and tool_result.
//   - tool arguments must be a JSON object ("" means {}); anything else is
//     an *Error rather than a guess.
//   - max_tokens defaults to Options.DefaultMaxTokens (4096 when 0).
//     temperature is clamped to 0..1 (not scaled); top_p is dropped when
//     temperature is set, since current Claude models reject both.
//   - response_format json_object / json_schema becomes an instruction
//     appended to the system prompt (with the schema), not Anthropic's
//     structured outputs or a forced tool: that works on every model and
//     with the client's own tools, but valid JSON is not guaranteed.
//   - n>1, audio input, OpenAI file ids and custom tools are *Errors;
//     logprobs, top_logprobs, logit_bias, seed, presence and frequency
//     penalties, metadata, reasoning_effort, stream_options, message names
//     and image detail are dropped. user (or safety_identifier, preferred)
//     becomes metadata.user_id.
//
// Anthropic → OpenAI requests:
//   - the system prompt becomes a leading system message (cache_control
//     lost); tool_result blocks become tool messages right after the
//     assistant's tool_calls, the rest of the user turn a user message
//     after them. A tool result's text blocks are joined by newlines and
//     "Error: " is prefixed when is_error; its images move to that user
//     message, since tool messages hold only text.
//   - thinking and redacted_thinking blocks, top_k, thinking,
//     service_tier and cache_control are dropped. Server tools and blocks
//     OpenAI has no form for (document URLs, server tool results) are
//     *Errors. metadata.user_id becomes user (understood by Azure and
//     OpenAI-compatible servers, unlike safety_identifier).
//   - max_tokens becomes max_completion_tokens; a streamed request asks for
//     stream_options.include_usage so usage can be reported.
//
// Responses and streams:
//   - stop reasons follow providers.md §6.3; values without an equivalent
//     (pause_turn, unknown ones) become "stop" / "end_turn", never leaked.
//     OpenAI does not say which stop sequence matched, so stop_sequence is
//     null. A streamed or returned OpenAI refusal becomes text with
//     stop_reason refusal.
//   - usage follows §6.4, with cache writes carried as
//     prompt_tokens_details.cache_write_tokens. An OpenAI stream without a
//     usage chunk reports the caller's input estimate and zero output.
//   - model tool arguments that are not a JSON object cannot be an
//     Anthropic input; a non-streamed response wraps them as
//     {"_raw_arguments": "..."}, a stream relays the fragments as they are.
//   - only the first choice of an OpenAI response or stream is used.
//   - chunk ids derive from message ids ("msg_X" ↔ "chatcmpl-X").
package translate
