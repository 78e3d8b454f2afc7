// Package health tracks, per deployment, whether it should get traffic and
// how fast it answers. It never chooses: the router asks, the gateway
// reports.
//
// A Tracker holds three things per deployment, all driven by the clock
// given to NewTracker (time.Now by default), so nothing runs in the
// background and tests never sleep (the jitter's random source is
// injected as well, with SetRand):
//
//   - a cooldown: Failure(name, d) keeps name unavailable for d (a longer
//     cooldown already set is kept); Success lifts it.
//   - a circuit breaker, configured by a Breaker (SetDefaultBreaker,
//     SetBreaker).
//   - time-to-first-token statistics: ObserveTTFT and TTFT.
//
// Available(name) is the one predicate every routing filter uses: false
// while name is cooling down, while its circuit is open, or while it is
// half-open and all its probe slots are taken. Snapshot gives the whole
// picture for the admin API and metrics.
//
// # Circuit breaker
//
// A circuit starts closed. It opens when ConsecutiveFailures outcomes in a
// row fail, or when at least MinRequests outcomes fell in the last Window
// and the share of failures among them reaches ErrorRate. The window is a
// ring of ten slots of Window/10, so outcomes leave it in steps of a
// tenth of Window.
//
// An open circuit admits nothing. When its opening has passed it turns
// half-open and admits up to HalfOpenProbes concurrent probe requests;
// while they are out, every other request is refused. A probe that
// succeeds closes the circuit and empties the window; one that fails
// opens it again. The breaker turns half-open lazily, when it is next
// asked; there are no timers.
//
// How long it stays open follows one rule, made for a deployment that is
// down for a while and then comes back: it should be probed about once
// per interval, not once per request, and get traffic back within about
// one interval of recovering. So:
//
//   - An outage lasts from the moment the circuit opens out of closed
//     until it next closes. Every opening within an outage lasts the
//     outage's interval: a failed probe opens the circuit for the same
//     interval again, however long the outage lasts.
//   - A flap is an outage that begins less than FlapWindow (2 m) after the
//     last one ended. Its interval is twice the last outage's, up to
//     MaxOpenFor (5 m). Any other outage's interval is OpenFor (5 s).
//     Back-off is for a deployment that keeps failing soon after it
//     recovers, not for one that is simply down.
//   - Every opening is jittered: its length is drawn uniformly from the
//     interval times [1-Jitter, 1+Jitter] (0.8 to 1.2), the range cut at
//     MaxOpenFor, so that replicas and deployments taken out by one
//     incident do not probe in lockstep. The random source is the
//     Tracker's (SetRand).
//
// With the defaults, a deployment that is down for a minute on a first
// outage is offered a probe 4 to 6 s after each failed one (the next
// request to come takes it), so once the deployment is back, its circuit
// admits a request, and closes on its success, within OpenFor ×
// (1+Jitter) = 6 s plus the wait for that request. Setting MaxOpenFor to
// OpenFor turns the back-off off.
//
// Requests go through the breaker the way golang.org/x/time/rate's
// reservations go through a limiter: Acquire returns a Permit, and the
// caller reports the request's fate on it exactly once, with Success or
// Failure, or gives it back with Release if the request never went out.
// Release after Success or Failure is a no-op, so
//
//	p, ok := tr.Acquire(name)
//	if !ok {
//		// try another deployment
//	}
//	defer p.Release()
//	...
//	p.Success() // or p.Failure(cooldown)
//
// is safe on every path. A probe permit that is never reported holds its
// slot for at most ProbeTimeout.
//
// Outcomes belong to the breaker state they were admitted in. A Permit
// whose circuit has changed state since Acquire (a request admitted while
// closed that ends after the circuit opened) moves no counter and no
// state; its Failure still extends the cooldown, which is news either way.
//
// The older calls without a permit, Tracker.Success and Tracker.Failure,
// feed the same breaker and always count as current: closed, they count
// in the streak and the window; half-open, they act as a probe's outcome
// (a failure opens the circuit again for the outage's interval, a success
// closes it), whether or not a probe permit is out; open, they change only
// the streak and the cooldown (an open circuit closes only through a
// probe, and a failure does not lengthen the opening). Callers that do not
// Acquire are not held to HalfOpenProbes: to keep a half-open deployment
// at one probe per interval, take a Permit for every request, even when
// reporting its outcome by name.
//
// # Time to first token
//
// ObserveTTFT records one request's time to first token. TTFT returns two
// views of them:
//
//   - EWMA: a mean in which each sample's weight halves every half-life of
//     its age (30 s unless SetTTFTHalfLife says otherwise). The decay is by
//     elapsed time, not by count: after a quiet spell the first new sample
//     all but replaces what came before, so a deployment that was slow
//     long ago recovers at once. The EWMA does not change without new
//     samples.
//   - P50, P95, P99 and Samples over the last two minutes, from a ring of
//     twelve 10-second histograms (the current slot and the eleven before
//     it, so a sample leaves after 110 to 120 s). Each histogram has 8 linear buckets per
//     power of two between 1.024 ms and 134 s (so a quantile is off by at
//     most 1/8 of its value), one bucket below and one above. Memory per
//     deployment is fixed (about 7 KB, allocated on its first sample) and
//     an observation allocates nothing.
//
// Samples == 0 means nothing arrived in the window: the EWMA, if any, is
// old news, and a latency strategy should treat the deployment as unknown.
//
// Tracker is safe for concurrent use; each deployment has its own lock.
package health
