// Package ratelimit keeps deployments (and client keys) under their
// per-minute limits before a provider has to say 429.
//
// Each key (a deployment, or a client key) has a set of token buckets, one
// per limited dimension: requests per minute, tokens per minute, and for
// Anthropic input and output tokens per minute. A bucket's capacity is the
// per-minute limit and it refills continuously at limit/60s per second, as
// the providers' own limiters do (OpenAI's reset headers and Anthropic's
// docs both describe continuous replenishment).
//
// The life of a request in the limiter mirrors golang.org/x/time/rate's
// Reserve and Cancel:
//
//	r, err := store.Reserve(ctx, key, limits, estimate) // before sending
//	if !r.OK { wait r.Wait, or try another deployment }
//	... send ...
//	store.Settle(ctx, r, actual)                          // after: refund or charge the difference
//	store.Cancel(ctx, r)                                  // or: never sent
//
// The estimate is what the provider itself charges at admission (prompt
// estimate plus requested max output; see package tokens), so a granted
// reservation is one the provider would accept too. Learn folds the
// provider's rate-limit headers into the local view (the more pessimistic
// wins), and Block empties a key's buckets after an upstream 429.
//
// Two Stores implement the same contract, tested by one suite: Memory, for
// one process, and Redis, where every reservation is one atomic Lua script
// on Redis's clock so several replicas share one account's limits.
package ratelimit
