// Package router plans where a request goes: for a route (what the client
// wrote in model) it returns the ordered deployments to try.
//
// Plan filters and orders; it never sends and never formats HTTP. The
// gateway walks the plan, one attempt per candidate, first reserving the
// request's cost in the candidate's rate-limit buckets, and reports each
// outcome to the health tracker the router reads. When no candidate has
// headroom the request waits in the route's Queue.
//
// # Filters
//
// Plan first checks every deployment of the route against the Request.
// A deployment that fails a check is left out of the plan:
//
//   - capabilities: every capability the request needs (Request.Needs:
//     tools, images, json, streaming) must be among the deployment's
//     capabilities (config: capabilities; all four by default).
//   - tier: a deployment that lists tiers serves only keys of those tiers
//     (Request.Tier); one that lists none serves everyone.
//   - context: the request's input and output tokens must fit the
//     deployment's context window. Input is an estimate; when the estimate
//     is within 10% of a window and the request carries an ExactInput
//     hook, the exact count for the deployment's model family decides.
//     A deployment with no window (0) fits everything.
//
// These depend on the request alone, so waiting cannot change them: when
// every deployment fails one, Plan returns a *NoCandidateError saying, for
// each deployment, why; the gateway answers at once instead of queueing.
//
// Two further signals order candidates but never remove one, because the
// limiter's Reserve has the last word and a short wait may restore them:
// a deployment that is not Available (cooling down after failures, circuit
// open) goes after every available one, tried only when nothing else is
// left; and Headroom (how much of a deployment's tightest rate-limit bucket
// is left, 0..1) is for the strategies to use.
//
// # Strategies
//
// A route's strategy (config: strategy) orders the candidates left. Each is
// a small type with one method, Order, and keeps no state beyond a turn
// counter:
//
//   - round-robin (the default): in turn, starting one further along the
//     route on each Plan. It ignores headroom, as it always has.
//   - priority: the route's order, except that deployments with no headroom
//     go after those with some: traffic spills to the next deployment only
//     when the earlier ones are exhausted.
//   - weighted: a random order in which each deployment comes first in
//     proportion to its weight. Weight 0 takes a deployment out of the
//     draw: it comes after every weighted one.
//   - least-utilized: the most headroom first.
//   - latency: time to first token (an EWMA per deployment, from Latency).
//     Deployments with no samples come first, so they get measured; then
//     each place goes to the better of two picked at random (power of two
//     choices), which follows the fast deployments without sending them
//     everything.
//   - cost: the cheapest first: the configured price per token weighted by
//     the request's input and output tokens.
//
// Ties break by headroom, then by a rotating turn, so equal deployments
// share the traffic. Every strategy but round-robin and least-utilized
// (which sorts by headroom anyway) first puts the deployments with headroom
// before those without.
//
// Headroom, Latency and the random source are optional fields of Router:
// with no Headroom every deployment has full headroom; with no Latency
// there are no samples; Rand defaults to math/rand/v2.
//
// # Explain
//
// Explain runs the same filters and strategy as Plan and reports, for every
// deployment, whether it was kept and why not, with the order the strategy
// gave: what `llmux route explain` and the admin API show.
package router
