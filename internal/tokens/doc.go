// Package tokens estimates what a request will be charged against a
// provider's token limits before it is sent, and counts text exactly when
// asked.
//
// # What is estimated
//
// An Estimate has two parts, matching how providers admit a request:
//
//   - Input: the prompt, as the model will read it: every message's text,
//     names, tool calls and tool results, the system prompt, tool
//     definitions with their parameter schemas, json_schema response
//     formats, plus the framing tokens the chat format adds (3 per message
//     and 3 to prime the reply, 1 per name, the tool-definition constants)
//     and a formula charge for each image, audio clip and document.
//   - Output: what the provider reserves for the reply when the request
//     arrives: n × max_completion_tokens (or max_tokens) on OpenAI and
//     Azure, falling back to the deployment's maximum output, which is what
//     Azure reserves when the field is absent; max_tokens on Anthropic.
//
// The rate limiter (package ratelimit) charges Input+Output to TPM buckets,
// Input to ITPM and Output to OTPM, and settles the reservation to the
// usage the provider reports when the response ends. Every formula is
// written beside its constants with its source (openai.go, anthropic.go,
// embeddings.go, image.go; providers.md §1.8, §3, §4.6, §5.5).
//
// # Why over-estimate
//
// Providers do not tokenize at admission either: OpenAI counts "the
// estimated number of tokens based on the character count" plus max_tokens
// (providers.md §1.8) and Azure an "estimated max processed-token count"
// (§5.5). An estimate that is too low lets the gateway admit a request the
// provider then rejects with a 429, costing a round trip and a retry; one
// that is a little too high only holds capacity until Settle refunds it.
// So the estimate is built to be slightly high, never to match billing.
//
// # The fast path
//
// OpenAIChat, AnthropicMessages and Embeddings run on every request and do
// not tokenize. They scan the raw JSON body once, in place, without
// decoding it (no allocation), visiting only the fields that are charged,
// and price the text of each with a state machine that follows the cuts
// the tokenizers' pre-tokenizer regexps make: each ASCII byte costs a
// weight for its class and for the cut it makes (a word starts, a
// camelCase split, a punctuation run, a newline), each non-ASCII rune a
// weight for its script. The weights are per encoding (o200k_base,
// cl100k_base), fitted on testdata/corpus and scaled so that at least 95%
// of samples over-estimate (count.go).
//
// Measured on testdata/corpus (206 samples of 200 B–4 KB: English prose,
// code in Go, C, assembly, Python, JavaScript, TypeScript, Rust, Java, SQL,
// shell, HTML, CSS and YAML, JSON documents, ten non-English scripts and
// emoji, and whitespace-heavy layouts), estimate ÷ exact tiktoken count,
// as TestFastEstimateAccuracy logs with go test -v:
//
//	              o200k_base                 cl100k_base
//	category    n  min  median   max         min  median   max
//	prose      26  1.14  1.22   1.27         1.16  1.23   1.29
//	code      110  0.96  1.21   1.56         0.96  1.23   1.55
//	json       24  1.00  1.19   1.33         1.01  1.20   1.33
//	non-ASCII  24  0.97  1.42   1.76         0.92  1.33   1.64
//	whitespace 22  1.14  1.21   1.37         1.15  1.23   1.42
//	all       206  ≥ exact for 97.6%         ≥ exact for 98.1%
//
// The few under-estimates are by at most 8% (YAML, assembly, accented
// Latin). By script, o200k_base: Chinese 1.29, Japanese 1.33, Korean 1.47,
// Russian 1.51, Arabic 1.57, Hindi 1.61. Random text (base64, hex, ids),
// reported but not asserted, runs 0.90–1.44. A single bytes-per-token
// ratio low enough to cover 95% of samples (~2.5 bytes per token) would
// charge prose ~1.9× and code up to ~2.2×. The cookbook's two examples
// (OpenAI API: 124 and 101 prompt tokens for gpt-4o) estimate at 146 and
// 142.
//
// Cost (BenchmarkOpenAIChatEstimate, on the project's shared 2-core
// machine, where a bare compare-and-add loop over 2 KB takes 3.6 µs): a
// 2 KB chat body estimates in 7.6–8.7 µs, a 100 KB body in 0.34–0.43 ms,
// with no allocation.
//
// # Exact counts
//
// Exact tokenizes with github.com/tiktoken-go/tokenizer, whose encodings
// are embedded (no network). Each encoding is loaded on first use, once
// per Estimator, and shared; a count costs ~60× the fast estimate of the
// same text (BenchmarkExact: 0.4–0.6 ms for 2 KB, ~2000 allocations), so it is for reconciliation, tests and tools, not the hot
// path. EncodingFor maps a model family to its encoding (providers.md
// §3.1). Anthropic publishes no tokenizer (§3.4): for Claude families both
// Exact and the fast path scale the o200k_base figure by 1.3.
//
// # Errors
//
// A body that is not valid JSON, or whose charged fields have the wrong
// shape (content that is a number, max_tokens that is not a non-negative
// integer, ...), returns an error wrapping ErrInvalidBody; nothing panics
// (the fuzz tests check). An Anthropic body without max_tokens returns its
// Estimate with an error wrapping ErrNoMaxTokens.
package tokens
