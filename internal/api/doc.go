// Package api holds the wire formats llmux speaks: OpenAI chat completions,
// embeddings and models (package openai), Anthropic messages (package
// anthropic), and server-sent events (package sse).
//
// The types here are plain data with JSON tags that match the providers'
// documented bodies field for field. They are used in three places: the
// gateway decodes client requests with them when it must translate, the
// translate package converts between them, and the simulator encodes its
// responses with them. The pass-through hot path does not decode into these
// types at all; it scans the raw body (see Scan in each package).
//
// Fields whose JSON type varies (a string or an array of parts, a string or a
// list of stop sequences) have small types with their own Marshal/Unmarshal
// methods so a decoded request re-encodes to the same shape it came in.
package api
