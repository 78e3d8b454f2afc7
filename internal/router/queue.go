package router

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// Queue holds requests waiting for a deployment with headroom, in order:
// higher priority first (a lower Priority value: the key's tier index),
// then the earlier deadline, then arrival. Only the request at the head
// tries for capacity; the others wait their turn, so a burst of small
// requests cannot starve a large one of a higher tier.
//
// A Queue is bounded: Join and Admit fail with ErrQueueFull beyond its
// size. A waiter whose context ends leaves at once. Queue is safe for
// concurrent use.
//
// # Admission
//
// Admit is Join with a prediction. The caller says when capacity for the
// request alone would be back (Admission.Wait, from the limiter's buckets)
// and how much of the route's capacity the request takes
// (Admission.Work: its cost over the refill rate of every deployment
// that can serve it, combined). The request's predicted wait is
//
//	Wait + the Work of every waiter that goes before it
//
// but never earlier than the predicted start of any of them (only the head
// tries for capacity, so one large request at the head holds up everyone
// behind it). That is exact for one deployment with one binding limit
// (the waiters ahead are served one Work apart once the request's own
// deficit has refilled) and a fluid approximation for several. A request whose
// predicted start lies beyond its deadline (the route's max_wait, or the
// request's own deadline) is turned away at once with ErrTooLate instead
// of waiting for nothing; the predicted wait is then what its
// Retry-After should say.
//
// # Standing delay
//
// A queue should absorb bursts, not become a standing delay. With
// Admission.Target set (the route's queue_target), the queue watches how
// long its waiters wait, as CoDel does: the sojourns of those that leave
// (and the age of a head still waiting), and the predicted waits of those
// that arrive. Once either has stayed above Target for an interval
// (Target/2, within 100 ms and 1 s) without the queue running empty,
// demand exceeds capacity and the queue sheds: a new request whose
// predicted wait exceeds Target gets ErrStandingDelay at once, while one
// predicted within Target still joins. The queue thus keeps about Target
// worth of work: it never empties while demand exceeds capacity (capacity
// stays fully used) and the waits of those served stay near Target.
//
// Shedding stops once no wait, predicted or measured, has been above
// Target for a minute. Rate limits refill per minute, and overload comes
// and goes at that scale: requests too large to start within Target are
// turned away while demand exceeds capacity, the buckets recover under
// what is left, and a queue that stopped shedding as soon as it ran empty
// would let the next such request hold up everyone behind it. A burst
// after a quiet minute is absorbed again, up to max_wait.
type Queue struct {
	max   int
	scale float64 // real seconds per clock second; see SetTimeScale

	mu      sync.Mutex
	waiters waiterHeap
	seq     uint64

	// The standing-delay state; see the type's documentation.
	target    time.Duration // the last Admission.Target
	sojourns  run           // of waiters that left, and of the waiting head
	predicted run           // of arrivals' predicted waits
	shedding  bool
	lastAbove time.Time // the last wait seen above target
}

// run is an unbroken run of waits above the target: since is the first
// of them (zero: the last wait seen was within the target).
type run struct{ since time.Time }

// add adds a wait seen at at and reports whether the run of waits above
// the target spans an interval.
func (r *run) add(above bool, at time.Time, interval time.Duration) bool {
	switch {
	case !above:
		r.since = time.Time{}
	case r.since.IsZero():
		r.since = at
	}
	return !r.since.IsZero() && at.Sub(r.since) >= interval
}

// ErrQueueFull is returned by Join and Admit when the queue holds its
// maximum.
var ErrQueueFull = errors.New("router: queue is full")

// ErrDeadline is returned by Turn when the waiter's deadline passed.
var ErrDeadline = errors.New("router: waited until the deadline without capacity")

// ErrTooLate is returned by Admit when the request's predicted start lies
// beyond its deadline: waiting could not help.
var ErrTooLate = errors.New("router: capacity is not predicted back before the deadline")

// ErrStandingDelay is returned by Admit while the queue sheds (waits
// stayed above the target) and the request's predicted wait exceeds the
// target.
var ErrStandingDelay = errors.New("router: the queue's standing delay is above its target")

// NewQueue returns a queue holding at most max waiters (0: none may wait).
func NewQueue(max int) *Queue { return &Queue{max: max, scale: 1} }

// SetTimeScale makes the queue's timers run scale real seconds per second
// of the clock passed to Turn. A simulation whose clock runs 30× faster
// than real time (so a minute's refill takes two seconds) sets 1/30.
// Default 1.
func (q *Queue) SetTimeScale(scale float64) {
	if scale > 0 {
		q.scale = scale
	}
}

func (q *Queue) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) * q.scale)
}

// Ticket is a place in the queue. Call Leave when done with it, whatever
// happened.
type Ticket struct {
	q        *Queue
	priority int
	deadline time.Time
	seq      uint64
	index    int           // in the heap; -1 once left
	wake     chan struct{} // signalled when the ticket may have reached the head, or capacity freed
	// work is the ticket's share of the route's capacity (Admission.Work).
	work time.Duration
	// joined and now time the sojourn; now is nil for Join's tickets,
	// which are not timed. start is the predicted start.
	joined, start time.Time
	now           func() time.Time
}

// Join enters the queue without admission control or timing.
func (q *Queue) Join(priority int, deadline time.Time) (*Ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) >= q.max {
		return nil, ErrQueueFull
	}
	return q.push(priority, deadline), nil
}

func (q *Queue) push(priority int, deadline time.Time) *Ticket {
	q.seq++
	t := &Ticket{q: q, priority: priority, deadline: deadline, seq: q.seq, wake: make(chan struct{}, 1)}
	heap.Push(&q.waiters, t)
	return t
}

// Admission is what Admit needs to know about a request.
type Admission struct {
	// Priority and Deadline order the queue as for Join; Deadline also
	// bounds the predicted start.
	Priority int
	Deadline time.Time
	// Wait is how long until capacity for this request alone is back,
	// as the limiter's buckets stand now (0: it would fit now).
	Wait time.Duration
	// Work is how much of the route's capacity the request takes: the
	// time the route's deployments, refilling together, need to refill
	// its cost. The waiters behind it count it in their predictions.
	Work time.Duration
	// Target is the route's queue_target: the standing delay to hold the
	// queue near under sustained overload. 0 turns the control off.
	Target time.Duration
}

// Admit predicts when the request would start (see the type's
// documentation) and, unless that is too late or the queue sheds, enters
// it. It returns the ticket, or nil and the reason: ErrQueueFull,
// ErrTooLate or ErrStandingDelay. wait is the predicted wait in either
// case: for a request turned away, when capacity for it is predicted to be
// free.
func (q *Queue) Admit(a Admission, now func() time.Time) (t *Ticket, wait time.Duration, err error) {
	at := now()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.target = a.Target
	wait = q.predict(a, at)
	q.watch(wait, at)
	switch {
	case len(q.waiters) >= q.max:
		return nil, wait, ErrQueueFull
	case at.Add(wait).After(a.Deadline):
		return nil, wait, ErrTooLate
	case q.shedding && wait > a.Target:
		return nil, wait, ErrStandingDelay
	}
	t = q.push(a.Priority, a.Deadline)
	t.work, t.joined, t.now, t.start = a.Work, at, now, at.Add(wait)
	return t, wait, nil
}

// predict is the wait of a request admitted at at: its own wait plus the
// work of the waiters that go before it, and no earlier than the latest
// predicted start among them.
func (q *Queue) predict(a Admission, at time.Time) time.Duration {
	probe := Ticket{priority: a.Priority, deadline: a.Deadline, seq: q.seq + 1}
	wait := a.Wait
	latest := at
	for _, w := range q.waiters {
		if before(w, &probe) {
			wait += w.work
			if w.start.After(latest) {
				latest = w.start
			}
		}
	}
	return max(wait, latest.Sub(at))
}

// watch updates the standing-delay state at an admission: shedding ends
// after a minute without a wait above the target; then the arrival's
// predicted wait and the age of a head still waiting (a sojourn that is
// already that long) are seen.
func (q *Queue) watch(predicted time.Duration, at time.Time) {
	if q.target <= 0 {
		q.shedding, q.sojourns, q.predicted = false, run{}, run{}
		return
	}
	if q.shedding && at.Sub(q.lastAbove) >= memory {
		q.shedding = false
	}
	if len(q.waiters) == 0 {
		q.sojourns, q.predicted = run{}, run{} // no standing queue since the last one left
	}
	q.see(&q.predicted, predicted, at)
	if len(q.waiters) > 0 && q.waiters[0].now != nil {
		if age := at.Sub(q.waiters[0].joined); age > q.target {
			q.see(&q.sojourns, age, at)
		}
	}
}

// see adds a wait to one of the runs and starts shedding when that run
// spans an interval.
func (q *Queue) see(r *run, wait time.Duration, at time.Time) {
	if q.target <= 0 {
		return
	}
	above := wait > q.target
	if above {
		q.lastAbove = at
	}
	if r.add(above, at, interval(q.target)) {
		q.shedding = true
	}
}

// memory is how long the queue keeps shedding after the last wait above
// its target: the limiters' refill period.
const memory = time.Minute

// interval is how long waits must stay above target before the queue
// sheds: half the target, within [100ms, 1s].
func interval(target time.Duration) time.Duration {
	return min(max(target/2, 100*time.Millisecond), time.Second)
}

// Shedding reports whether the queue is shedding: waits stayed above the
// target for an interval, and not a minute has passed since the last one
// above it.
func (q *Queue) Shedding() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shedding
}

// Len returns the number of waiters.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiters)
}

// Notify wakes the head waiter early: capacity may have been freed (a
// reservation settled or cancelled).
func (q *Queue) Notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.wakeHead()
}

func (q *Queue) wakeHead() {
	if len(q.waiters) > 0 {
		select {
		case q.waiters[0].wake <- struct{}{}:
		default:
		}
	}
}

func (t *Ticket) atHead() bool {
	t.q.mu.Lock()
	defer t.q.mu.Unlock()
	return t.index == 0
}

// Turn waits until the ticket is at the head of the queue and then for
// wait more (the time until the limiter said capacity would be back), or
// less if Notify says capacity was freed. It returns ErrDeadline at the
// deadline and ctx.Err() when ctx ends.
func (t *Ticket) Turn(ctx context.Context, wait time.Duration, now func() time.Time) error {
	left := t.deadline.Sub(now())
	if left <= 0 {
		return ErrDeadline
	}
	deadline := time.NewTimer(t.q.real(left))
	defer deadline.Stop()
	for !t.atHead() {
		select {
		case <-t.wake:
		case <-deadline.C:
			return ErrDeadline
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if wait <= 0 {
		return nil
	}
	if wait >= left {
		// Capacity comes back after the deadline: no point waiting for it.
		return ErrDeadline
	}
	retry := time.NewTimer(t.q.real(wait))
	defer retry.Stop()
	select {
	case <-retry.C:
	case <-t.wake:
	case <-deadline.C:
		return ErrDeadline
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Leave removes the ticket and wakes the next head. It returns the time
// the ticket spent in the queue, its sojourn, which Admit's tickets also
// report to the standing-delay control; 0 for Join's untimed tickets.
// Calling it twice is harmless (and returns 0).
func (t *Ticket) Leave() time.Duration {
	var at time.Time
	if t.now != nil {
		at = t.now()
	}
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.index < 0 {
		return 0
	}
	heap.Remove(&q.waiters, t.index)
	t.index = -1
	q.wakeHead()
	if t.now == nil {
		return 0
	}
	sojourn := at.Sub(t.joined)
	q.see(&q.sojourns, sojourn, at)
	if len(q.waiters) == 0 {
		// No standing queue: runs above the target end here (CoDel).
		q.sojourns, q.predicted = run{}, run{}
	}
	return sojourn
}

// waiterHeap orders tickets by priority, deadline, arrival.
type waiterHeap []*Ticket

func (h waiterHeap) Len() int { return len(h) }

func (h waiterHeap) Less(i, j int) bool { return before(h[i], h[j]) }

// before reports whether a is served before b: higher priority (lower
// value), then the earlier deadline, then the earlier arrival.
func before(a, b *Ticket) bool {
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	if !a.deadline.Equal(b.deadline) {
		return a.deadline.Before(b.deadline)
	}
	return a.seq < b.seq
}

func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *waiterHeap) Push(x any) {
	t := x.(*Ticket)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *waiterHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
