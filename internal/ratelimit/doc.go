// Package ratelimit keeps deployments (and client keys) under their
// per-minute limits before a provider has to say 429.
//
// Each key (a deployment, or a client key) has a set of token buckets, one
// per limited dimension: requests per minute, tokens per minute, and for
// Anthropic input and output tokens per minute. A bucket's capacity is the
// per-minute limit and it refills continuously at limit/60s per second, as
// the providers' own limiters do (OpenAI's reset headers and Anthropic's
// docs both describe continuous replenishment). A new bucket starts full.
// The RPM bucket is charged Cost.Requests, TPM Input+Output, ITPM Input and
// OTPM Output; a limit of 0 means no bucket at all.
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
// Reserve never waits: it grants or says how long to wait, so the caller
// (the router's queue) decides. A cost that can never fit (larger than a
// bucket's capacity) is an *ExceedsError, not a wait.
//
// The estimate is what the provider itself charges at admission (prompt
// estimate plus requested max output; see package tokens), so a granted
// reservation is one the provider would accept too. Learn folds the
// provider's rate-limit headers into the local view (the more pessimistic
// wins, and a limit the provider reports below the configured one is used
// until it reports the configured one again), and Block empties a key's
// buckets and holds it closed after an upstream 429.
//
// Bucket arithmetic is exact: levels are integers in 1/60000 of a token,
// so a bucket of limit L refills exactly L units per millisecond, and no
// sequence of reservations and refunds drifts. Waits and resets are whole
// milliseconds, rounded up.
//
// Three Stores implement the same contract, tested by one suite: Memory,
// for one process; Redis, where every operation is one atomic Lua script
// on Redis's clock so several replicas share one account's limits; and
// Resilient, which uses Redis and, while Redis is unreachable, limits
// each replica locally to its share (1/replicas) of every limit.
package ratelimit
