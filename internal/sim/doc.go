// Package sim is a provider simulator: an http.Handler that serves the
// OpenAI, Azure OpenAI and Anthropic HTTP APIs closely enough that the
// official SDKs and llmux's own adapters cannot tell it from the real
// services. Tests, the quickstart and every benchmark run against it.
//
// # Surfaces
//
// One Server serves all three providers on their real paths:
//
//	OpenAI     POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models
//	           (Authorization: Bearer KEY)
//	Azure      POST /openai/deployments/{deployment}/chat/completions?api-version=V
//	           POST /openai/deployments/{deployment}/embeddings?api-version=V
//	           POST /openai/v1/chat/completions, POST /openai/v1/embeddings,
//	           GET /openai/v1/models (api-key: KEY)
//	Anthropic  POST /v1/messages, POST /v1/messages/count_tokens, GET /v1/models
//	           (x-api-key: KEY, anthropic-version required)
//	Admin      GET /sim/stats, GET|PUT|DELETE /sim/faults
//
// A Key belongs to one provider and works only on that provider's surface;
// anywhere else it is refused with that surface's 401. GET /v1/models
// answers in Anthropic's shape when the request carries x-api-key or
// anthropic-version, and in OpenAI's otherwise.
//
// # Replies
//
// A reply is a pure function of the request: the last user text (or tool
// result) seeds a word generator, and the reply reads "sim reply to:
// <first words of the prompt> ..." with 5 to 60 tokens, cut by max_tokens
// (finish_reason "length", stop_reason "max_tokens") or by the first stop
// sequence found in it. When the request offers tools, tool_choice allows
// them and the last message is a user turn, the reply calls the first tool
// (or the forced one) with arguments built from its schema's required
// properties; a prompt containing the word "parallel" gets two calls when
// two tools and parallel calls are allowed. After a tool result the reply
// is text again. Token counts are one token per four bytes of text plus
// three per message and three to prime the reply; count_tokens and every
// usage object use the same estimate, so they agree with each other.
//
// Ids (chatcmpl-, call_, msg_, toolu_, req_) and every random choice come
// from one source seeded by Config.Seed; timestamps come from Config.Now.
// A fresh Server with the same Config answers the same sequence of
// requests byte for byte, which is what the golden tests rely on.
//
// # Limits
//
// Each key has its provider's limits, enforced as that provider does and
// reported in its headers on every metered response:
//
//   - OpenAI: token buckets for RPM and TPM that refill continuously (a
//     bucket of 60 RPM regains one request each second). A request is
//     charged at arrival with its prompt estimate plus n × max_tokens
//     (4096 when absent) and is never refunded. x-ratelimit-reset-* is the
//     time until the bucket is full, in Go duration syntax.
//   - Azure: a fixed per-minute token counter charged the same way, and
//     fixed 10-second request windows allowing RPM/6 each. Resets are
//     whole seconds; 429s carry retry-after and retry-after-ms.
//   - Anthropic: token buckets for RPM, ITPM and OTPM. Input tokens are
//     charged at arrival; output tokens when generation ends, from what was
//     actually generated (max_tokens does not count, per the current docs).
//     A request is admitted while the output bucket is not in debt.
//     anthropic-ratelimit-*-reset is the RFC 3339 instant of full
//     replenishment.
//
// A request the limits refuse costs nothing and gets the provider's 429
// body, headers and retry-after. Time for the limits is Config.Now, so a
// test advances an injected clock instead of sleeping.
//
// # Latency and faults
//
// Time to first token is drawn from a log-normal distribution fitted to
// Latency's median and 99th percentile and capped at its maximum; tokens
// then follow at TokensPerSecond. Every delay, fault delays included, is
// multiplied by Config.TimeScale, and TimeScale 0 answers at once. Every
// wait ends early when the client goes away; the Server starts no
// goroutines of its own.
//
// Faults (SetFaults, PUT /sim/faults) are drawn per request after the
// limits admitted it; the first fault in the set that matches the request
// (key, model, Times not used up, a kind that would change the request)
// and wins its Rate draw applies:
//
//	status                the provider's error body for Status; retry-after
//	                      (whole seconds) and, on OpenAI and Azure,
//	                      retry-after-ms only when RetryAfter is set
//	reset                 the connection closed before any byte, or
//	                      mid-stream after AfterTokens tokens
//	reset_before_headers  the connection closed before any byte, always
//	no_response           nothing sent, not even headers, until Delay
//	                      passes (0: until the client gives up); then closed
//	stall                 a stream stops after AfterTokens for Delay (0:
//	                      until the client gives up)
//	slow_first_token      Delay before the first byte
//	garbage               200 with a body that is not JSON or SSE
//	malformed_event       streams: after AfterTokens tokens one extra event
//	                      whose data is the next event cut after "delta":,
//	                      then the whole stream as usual
//	no_done               streams: everything up to the finish (OpenAI: the
//	                      finish_reason chunk and usage chunk; Anthropic:
//	                      message_delta) and a clean close, without
//	                      data: [DONE] or message_stop
//	context_length        400: OpenAI/Azure context_length_exceeded,
//	                      Anthropic "prompt is too long: N tokens > M maximum"
//	content_filter        OpenAI/Azure 400 code content_filter (Azure's body
//	                      with innererror); Anthropic has no such error and
//	                      answers 200 with stop_reason "refusal" after
//	                      AfterTokens tokens
//	prefill_rejected      for a conversation ending with an assistant
//	                      message: 400 "This model does not support assistant
//	                      message prefill..." (Anthropic's error, in the
//	                      OpenAI envelope on OpenAI and Azure)
//	flapping              503 (the provider's body) and healthy in turn,
//	                      periods of Delay × TimeScale on the server's
//	                      clock, failing first, from when the set was
//	                      installed
//
// # Prefill
//
// On Anthropic a final assistant message is a prefill: the reply
// continues it (providers.md §4.2; Anthropic's "prefill Claude's
// response" guide). The simulator computes the reply to the turn before
// it and, when that reply starts with the prefill, sends and counts only
// the rest, as the real API does not repeat the prefill; otherwise it
// sends the reply as usual. A prefill ending in whitespace gets the real
// API's 400 "messages: final assistant content cannot end with trailing
// whitespace" (observed, e.g. tailcallhq/forgecode#1872), so there is
// nothing to trim. On OpenAI and Azure a final assistant message is
// history, not a prefill (providers.md §6.6 item 4): the reply is the one
// to the turn before it, generated afresh, so a regenerated answer starts
// with the text the interrupted one had sent.
//
// # What the provider saw
//
// Stats (and GET /sim/stats) reports per key the requests and tokens, and
// per model (Azure: deployment name) the valid requests, how many got a
// fault, and when each arrived as an offset from New on the server's
// clock, so a test can assert attempts and the gaps between retries.
//
// docs/simulator.md lists, behaviour by behaviour, which provider
// document or observed payload each comes from and where the simulator
// deviates.
package sim
