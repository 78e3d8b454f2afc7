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
// # Fixed windows (Azure OpenAI)
//
// Azure OpenAI does not replenish continuously: it adds each request's
// estimate to a counter that resets every minute, and counts requests in
// 10-second windows of RPM/6 each (providers.md §5.5). A bucket is the
// wrong model there: within one fixed window it admits up to twice the
// limit (a full bucket plus a minute of refill), and after Learn lowers it
// to what is left of the window it keeps refilling until the window ends;
// both would earn upstream 429s. So the RPM and TPM dimensions can be
// fixed-window counters instead, set by Limits.RequestsWindow and
// Limits.TokensWindow (zero: a bucket). Azure deployments use a 10 s
// request window and a 1 m token window; other dimensions of the same key
// can stay buckets (e.g. a window TPM with a bucket RPM).
//
// A window of w allows limit × w / 1m per window, rounded down and at
// least 1 (RPM 120 with 10 s windows: 20 requests per 10 s; TPM with 1 m
// windows: TPM tokens per minute). Windows are aligned to the store's
// clock: a window starts at a multiple of w in Unix milliseconds, i.e.
// now.Truncate(w), as the simulator does. That real Azure aligns its
// windows the same way is an assumption; where it does not, the headers
// folded in by Learn correct the count (pessimistically, never down).
// Within a window:
//
//   - Reserve grants when used + cost <= allowance (and every other
//     dimension agrees, atomically); otherwise the wait is the time until
//     the window ends, when the count starts again from 0 — or an
//     *ExceedsError (with Window set) when the cost exceeds the allowance.
//     Nothing refills inside a window.
//   - Settle and Cancel correct the count of the window the reservation was
//     made in only while it is still the current window: a refund or an
//     overcharge for a window that has ended is dropped, since the
//     provider counted it there. The count stays in [0, 2×allowance].
//   - Learn sets used = max(used, allowance - remaining) for the current
//     window; a reported lower limit (per minute) lowers the allowance.
//   - Block uses up the current window (used = allowance) and refuses
//     until the block ends; later windows start afresh.
//   - State reports Limit = allowance per window, Available = allowance -
//     used and Reset = time until the window ends.
//
// Observed limits are per minute for windows too: Azure's
// x-ratelimit-limit-requests (the 10 s allowance, RPM/6) is multiplied by
// 6 by the gateway before Learn, and its remaining values are the
// current windows'.
//
// # Reservations
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
// bucket's capacity or a window's allowance) is an *ExceedsError, not a
// wait.
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
// sequence of reservations and refunds drifts. Window counts are whole
// tokens. Waits and resets are whole milliseconds, rounded up.
//
// Three Stores implement the same contract, tested by one suite: Memory,
// for one process; Redis, where every operation is one atomic Lua script
// on Redis's clock so several replicas share one account's limits; and
// Resilient, which uses Redis and, while Redis is unreachable, limits
// each replica locally to its share (1/replicas) of every limit (windows
// stay windows, with allowances computed from the share).
//
// # Losing Redis and getting it back
//
// Neither switch may be a burst, since the provider's buckets do not
// reset when Redis does. While Redis is healthy, each reservation's
// reply also carries the key's buckets (same round trip), and Resilient
// keeps this replica's share of them as the key's local buckets (levels
// divided by the replicas, rounded towards empty). When Redis becomes
// unreachable, each key's local buckets start from that share of the last
// state seen, not full, and refill from the switch on, without the
// refill of the time since that state was seen (up to a minute of it:
// the other replicas may have spent it meanwhile; a fixed window counts
// its allowance spent at the average rate over that time instead). A key
// the replica never saw starts with a full share, which the other
// replicas, keeping to theirs, leave unused.
//
// When Redis answers again it may have restarted empty. Before a key's
// first call after the recovery, Resilient seeds it in Redis from the
// local share, with one atomic script that writes only a key that does
// not exist (so it never overwrites a Redis that kept its keys, nor
// another replica's seed): the shared bucket starts with what this share
// has left, a lower bound of what the provider holds, rather than full.
// See Resilient for the details and the reasons.
package ratelimit
