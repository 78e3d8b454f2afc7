// Package failover holds the rules of one request's attempts: what to do
// after a failure (try the same deployment again, move to the next
// candidate, leave the route for its context fallbacks, or give the
// client the error), how long to wait first, and the attempt log that
// says what happened.
//
// The rules, in the order Decide applies them:
//
//   - A failure after the first byte reached the client is never retried
//     as if nothing happened: the answer is continued on the next
//     candidate (the gateway splices the rest into the same stream).
//   - A 429 whose Retry-After is at most Policy.RetryAfterMax is waited
//     out and the same deployment is tried again, while retries last; a
//     429 without Retry-After, or with a longer one, moves on at once.
//   - A 5xx, 408, 409 or a transport error (reset, refused, garbage) is
//     retried on the same deployment Policy.Retries times, after a
//     jittered exponential backoff (Policy.Backoff × 2^(n-1), capped at
//     2 s, times 0.5–1; a floor of 100 ms when no backoff is configured,
//     so a deployment that just failed is not hit again in the same
//     millisecond).
//   - A timeout (no first token in time) moves on at once: a deployment
//     that slow is likely to be as slow again, and a retry would cost a
//     second full timeout.
//   - A context-length refusal leaves the route: the request goes to the
//     route's context_fallbacks (else its fallbacks); the same request is
//     never resent unchanged to a window it does not fit.
//   - A prefill refusal retries the same deployment once without the
//     prefill (the gateway learns that the deployment takes none).
//   - Any other 4xx is the client's: never retried unchanged.
//   - An account failure (bad key, no quota) moves on at once.
//
// A Pass applies them to one route: it goes through the route's
// candidates in order, at most MaxAttempts deployments (a deployment's
// retries and reasks do not count), hands each try to an Attempter, and
// after a failure asks the deployment's Policy whether to wait and try
// it again, move on, or leave the route; the attempt log records each
// failed try ("a:retried(500)", "a:failed(429)"). The Attempter is the
// gateway's side: it admits a candidate (circuit breaker, limiter),
// sends it (hedged when the route hedges), writes the answer to the
// client in the client's format and classifies what went wrong.
//
// Nothing here does network I/O or knows HTTP or wire formats: the
// gateway classifies what happened into a Tried and the Pass decides, so
// the rules are table-tested on their own. What remains in the gateway
// (the route-level queue wait, the fallback chain, hedging's race) is
// listed in issue 12's note as the next slice to move here.
package failover
