// Package gateway is the HTTP server clients talk to.
//
// It serves the OpenAI API (chat completions, embeddings, models) and the
// Anthropic Messages API on one port, authenticates client keys, scans each
// request for the few fields it needs (model, stream, output cap), asks the
// router for a plan, and walks the plan: one attempt per candidate
// deployment, each either completing or failing before the first byte
// reached the client, in which case the next candidate is tried.
//
// When the client's format equals the upstream's, the body is forwarded
// untouched but for the model name (and, for OpenAI streams, a request for
// the usage chunk, which is stripped again if the client did not ask for
// it). Otherwise the request is decoded and translated (package translate),
// and the response or stream translated back.
//
// Every response carries x-llmux-request-id; a served one also
// x-llmux-deployment and x-llmux-attempts. Every error is in the client's
// own format.
package gateway
