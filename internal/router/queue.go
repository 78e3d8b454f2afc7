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
// A Queue is bounded: Join fails with ErrQueueFull beyond its size. A
// waiter whose context ends leaves at once. Queue is safe for concurrent
// use.
type Queue struct {
	max   int
	scale float64 // real seconds per clock second; see SetTimeScale

	mu      sync.Mutex
	waiters waiterHeap
	seq     uint64
}

// ErrQueueFull is returned by Join when the queue holds its maximum.
var ErrQueueFull = errors.New("router: queue is full")

// ErrDeadline is returned by Turn when the waiter's deadline passed.
var ErrDeadline = errors.New("router: waited until the deadline without capacity")

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
}

// Join enters the queue.
func (q *Queue) Join(priority int, deadline time.Time) (*Ticket, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) >= q.max {
		return nil, ErrQueueFull
	}
	q.seq++
	t := &Ticket{q: q, priority: priority, deadline: deadline, seq: q.seq, wake: make(chan struct{}, 1)}
	heap.Push(&q.waiters, t)
	return t, nil
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

// Leave removes the ticket and wakes the next head. Calling it twice is
// harmless.
func (t *Ticket) Leave() {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.index < 0 {
		return
	}
	heap.Remove(&q.waiters, t.index)
	t.index = -1
	q.wakeHead()
}

// waiterHeap orders tickets by priority, deadline, arrival.
type waiterHeap []*Ticket

func (h waiterHeap) Len() int { return len(h) }

func (h waiterHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
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
