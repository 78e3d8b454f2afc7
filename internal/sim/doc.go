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
// limits admitted it: a provider-shaped error status, a connection reset
// (before the response, or mid-stream after some tokens), a stall
// mid-stream, a slow first token, or a 200 with a body that is not JSON.
//
// docs/simulator.md lists, behaviour by behaviour, which provider
// document or observed payload each comes from and where the simulator
// deviates.
package sim
