// Package provider holds one adapter per upstream protocol: openai (also
// used for openai-compatible servers), azure and anthropic.
//
// An adapter does four things and nothing else: it builds the upstream HTTP
// request for an operation (the URL, the auth header, the api-version),
// sends it, parses the provider's rate-limit headers into Limits, and
// classifies every failure into an *Error whose Class says what the caller
// may do next: try another deployment, cool this one down, or hand the
// error back to the client unchanged.
//
// Adapters never choose deployments and never translate bodies: the body in
// a Request is already in the adapter's wire format (Format), with the
// upstream model name set. The one interface, Adapter, has a single Send
// over a Request that carries its operation as data, so a new endpoint never
// touches every adapter.
package provider
