package router

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestQueueOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue(10)
		now := time.Now()
		// A holds the head; the others queue behind it.
		head, _ := q.Join(0, now.Add(time.Hour))
		type entry struct {
			name     string
			priority int
			deadline time.Duration
		}
		entries := []entry{
			{"free-late", 2, 50 * time.Minute},
			{"pro-late", 1, 40 * time.Minute},
			{"free-early", 2, 10 * time.Minute},
			{"pro-early", 1, 30 * time.Minute},
		}
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		for _, e := range entries {
			tk, err := q.Join(e.priority, now.Add(e.deadline))
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := tk.Turn(context.Background(), 0, time.Now); err != nil {
					t.Errorf("%s: %v", e.name, err)
				}
				mu.Lock()
				order = append(order, e.name)
				mu.Unlock()
				tk.Leave()
			}()
		}
		synctest.Wait()
		if len(order) != 0 {
			t.Fatalf("someone went before the head left: %v", order)
		}
		head.Leave()
		wg.Wait()
		want := []string{"pro-early", "pro-late", "free-early", "free-late"}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("order %v, want %v", order, want)
			}
		}
	})
}

func TestQueueWaitsForCapacityHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue(1)
		start := time.Now()
		tk, _ := q.Join(0, start.Add(10*time.Second))
		if err := tk.Turn(context.Background(), 3*time.Second, time.Now); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Fatalf("waited %v, want the 3s hint", waited)
		}
		// Notify cuts the wait short.
		go func() {
			time.Sleep(time.Second)
			q.Notify()
		}()
		start = time.Now()
		if err := tk.Turn(context.Background(), 5*time.Second, time.Now); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("waited %v after Notify at 1s", waited)
		}
		// A hint beyond the deadline fails at once instead of sleeping.
		start = time.Now()
		if err := tk.Turn(context.Background(), time.Hour, time.Now); !errors.Is(err, ErrDeadline) {
			t.Fatalf("err = %v, want ErrDeadline", err)
		}
		if time.Since(start) != 0 {
			t.Fatal("a hopeless wait slept")
		}
		tk.Leave()
		tk.Leave() // harmless
	})
}

func TestQueueDeadlineAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewQueue(2)
		head, _ := q.Join(0, time.Now().Add(time.Hour))
		behind, _ := q.Join(1, time.Now().Add(2*time.Second))
		start := time.Now()
		if err := behind.Turn(context.Background(), 0, time.Now); !errors.Is(err, ErrDeadline) {
			t.Fatalf("err = %v, want ErrDeadline", err)
		}
		if time.Since(start) != 2*time.Second {
			t.Fatalf("deadline hit after %v", time.Since(start))
		}
		behind.Leave()

		ctx, cancel := context.WithCancel(context.Background())
		other, _ := q.Join(1, time.Now().Add(time.Hour))
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		if err := other.Turn(ctx, 0, time.Now); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
		other.Leave()
		if q.Len() != 1 {
			t.Fatalf("Len = %d after leaving, want 1", q.Len())
		}
		head.Leave()
	})
}

func TestQueueBounded(t *testing.T) {
	q := NewQueue(1)
	a, err := q.Join(0, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Join(0, time.Now().Add(time.Minute)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v, want ErrQueueFull", err)
	}
	a.Leave()
	if _, err := q.Join(0, time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("after leaving: %v", err)
	}
}

// testClock is a clock the test sets.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time                    { return c.t }
func (c *testClock) set(t0 time.Time, d time.Duration) { c.t = t0.Add(d) }

// TestAdmitPredictsWait checks the predicted wait: the request's own wait
// plus the work of the waiters served before it, and what happens when
// that lies beyond the deadline or the queue is full.
func TestAdmitPredictsWait(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	type waiter struct {
		priority int
		deadline time.Duration
		work     time.Duration
		wait     time.Duration // its own wait at admission
	}
	hour := time.Hour
	for _, c := range []struct {
		name     string
		max      int
		ahead    []waiter
		priority int
		deadline time.Duration
		wait     time.Duration
		want     time.Duration
		err      error
	}{
		{name: "empty queue: its own wait", max: 10, wait: 3 * time.Second, deadline: hour, want: 3 * time.Second},
		{name: "behind two: their work added", max: 10, ahead: []waiter{{1, hour, 10 * time.Second, 0}, {1, hour, 5 * time.Second, 0}},
			priority: 1, deadline: hour, wait: 2 * time.Second, want: 17 * time.Second},
		{name: "higher priority goes before them", max: 10, ahead: []waiter{{1, hour, 10 * time.Second, 0}, {0, hour, 4 * time.Second, 0}},
			priority: 0, deadline: hour, wait: time.Second, want: 5 * time.Second},
		{name: "an earlier deadline goes before", max: 10, ahead: []waiter{{1, 30 * time.Second, 6 * time.Second, 0}, {1, 50 * time.Second, 8 * time.Second, 0}},
			priority: 1, deadline: 40 * time.Second, want: 6 * time.Second},
		{name: "equal priority and deadline: arrival order", max: 10, ahead: []waiter{{1, hour, 6 * time.Second, 0}},
			priority: 1, deadline: hour, want: 6 * time.Second},
		{name: "not before those ahead: a large request at the head holds it up", max: 10, ahead: []waiter{{1, hour, 3 * time.Second, 12 * time.Second}},
			priority: 1, deadline: hour, wait: time.Second, want: 12 * time.Second},
		{name: "start beyond the deadline: too late", max: 10, ahead: []waiter{{1, 11 * time.Second, 10 * time.Second, 0}},
			priority: 1, deadline: 12 * time.Second, wait: 5 * time.Second, want: 15 * time.Second, err: ErrTooLate},
		{name: "start exactly at the deadline is in time", max: 10, ahead: []waiter{{1, 14 * time.Second, 10 * time.Second, 0}},
			priority: 1, deadline: 15 * time.Second, wait: 5 * time.Second, want: 15 * time.Second},
		{name: "full: refused with the prediction", max: 1, ahead: []waiter{{1, hour, 10 * time.Second, 0}},
			priority: 1, deadline: hour, wait: time.Second, want: 11 * time.Second, err: ErrQueueFull},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &testClock{t: t0}
			q := NewQueue(c.max)
			for _, w := range c.ahead {
				if _, _, err := q.Admit(Admission{Priority: w.priority, Deadline: t0.Add(w.deadline), Wait: w.wait, Work: w.work}, clock.now); err != nil {
					t.Fatal(err)
				}
			}
			tk, got, err := q.Admit(Admission{Priority: c.priority, Deadline: t0.Add(c.deadline), Wait: c.wait, Work: time.Second}, clock.now)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("predicted %v, %v; want %v, %v", got, err, c.want, c.err)
			}
			if (tk == nil) != (c.err != nil) {
				t.Fatalf("ticket %v with error %v", tk, err)
			}
			if want := len(c.ahead) + 1; c.err == nil && q.Len() != want {
				t.Fatalf("Len %d, want %d", q.Len(), want)
			}
		})
	}
}

// TestStandingDelay runs the CoDel-style control through scripts of
// admissions and departures on an injected clock.
func TestStandingDelay(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// step: at clock offset at, admit join (with wait; Work 1s) expecting
	// err, or leave a ticket; then Shedding must be shedding.
	type step struct {
		at       time.Duration
		join     string
		wait     time.Duration
		err      error
		leave    string
		shedding bool
	}
	// overload: four waiters, three of them leave after more than the
	// 2s target, spanning the 1s interval.
	overload := []step{
		{at: 0, join: "a"}, {at: 0, join: "b"}, {at: 0, join: "c"}, {at: 0, join: "d"},
		{at: ms(2500), leave: "a"}, {at: ms(3000), leave: "b"}, {at: ms(3500), leave: "c", shedding: true},
	}
	for _, c := range []struct {
		name   string
		target time.Duration
		steps  []step
	}{
		{"a burst above target for less than an interval is absorbed", 2 * time.Second, []step{
			{at: 0, join: "a"}, {at: ms(100), join: "b"},
			{at: ms(2500), leave: "a"}, {at: ms(3000), leave: "b"},
			{at: ms(3100), join: "c", wait: 5 * time.Second}, // a long wait is still admitted
		}},
		{"sojourns above target for an interval: shed what exceeds it, admit what fits", 2 * time.Second, append(overload[:7:7],
			step{at: ms(3600), join: "e", wait: ms(1500), err: ErrStandingDelay, shedding: true}, // 1.5s + d's 1s of work
			step{at: ms(3600), join: "f", wait: ms(500), shedding: true},                         // 0.5s + 1s: within target
		)},
		{"a waiting head older than target counts before it leaves", 2 * time.Second, []step{
			{at: 0, join: "a"},
			{at: ms(2500), join: "b"},
			{at: ms(3500), join: "c", wait: 3 * time.Second, err: ErrStandingDelay, shedding: true},
		}},
		{"a sojourn within target restarts the interval", 2 * time.Second, []step{
			{at: 0, join: "a"}, {at: 0, join: "b"}, {at: ms(2000), join: "c"},
			{at: ms(2500), leave: "a"}, // 2.5s: above
			{at: ms(3000), leave: "c"}, // 1s: within, the run is broken
			{at: ms(3600), leave: "b"}, // 3.6s: above, a new run starts
			{at: ms(3700), join: "d", wait: 5 * time.Second},
		}},
		{"a long request at the head: those behind are predicted to wait for it", 2 * time.Second, []step{
			{at: 0, join: "a", wait: 5 * time.Second},                        // above target, but a burst of one
			{at: ms(500), join: "b"},                                         // 4.5s: a starts first
			{at: ms(1000), join: "c", err: ErrStandingDelay, shedding: true}, // 4s, for an interval
			{at: ms(1000), join: "d", err: ErrStandingDelay, shedding: true},
		}},
		{"shedding stops a minute after the last wait above target", 2 * time.Second, append(overload[:7:7],
			step{at: ms(4000), leave: "d", shedding: true}, // 4s
			step{at: ms(4500), join: "e", wait: 3 * time.Second, err: ErrStandingDelay, shedding: true},
			step{at: ms(64000), join: "f", wait: 3 * time.Second, err: ErrStandingDelay, shedding: true}, // 59.5s since e
			step{at: ms(124000), join: "g", wait: 3 * time.Second},                                       // a minute since f
		)},
		{"target 0: no control", 0, append(overload[:6:6],
			step{at: ms(3500), leave: "c"},
			step{at: ms(3600), join: "e", wait: 10 * time.Second},
		)},
		{"too late is refused whatever the state", 2 * time.Second, []step{
			{at: 0, join: "a", wait: 2 * time.Hour, err: ErrTooLate},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &testClock{t: t0}
			q := NewQueue(100)
			tickets := map[string]*Ticket{}
			for i, s := range c.steps {
				clock.set(t0, s.at)
				if s.join != "" {
					a := Admission{Priority: 1, Deadline: t0.Add(time.Hour), Wait: s.wait, Work: time.Second, Target: c.target}
					tk, _, err := q.Admit(a, clock.now)
					if !errors.Is(err, s.err) {
						t.Fatalf("step %d: admit %s: %v, want %v", i, s.join, err, s.err)
					}
					tickets[s.join] = tk
				}
				if s.leave != "" {
					tk := tickets[s.leave]
					if got, want := tk.Leave(), s.at-tk.joined.Sub(t0); got != want {
						t.Fatalf("step %d: %s's sojourn %v, want %v", i, s.leave, got, want)
					}
				}
				if q.Shedding() != s.shedding {
					t.Fatalf("step %d: shedding %v, want %v", i, q.Shedding(), s.shedding)
				}
			}
		})
	}
}

// TestStandingDelayHoldsTarget drives a queue at 1.5× its capacity (one
// request of 1s work every 2/3 s; the server starts one per second) and
// checks that once it sheds, the served waits stay near the 2s target,
// about a third of the arrivals is shed, and the server never idles: the
// queue does not run empty while demand exceeds capacity.
func TestStandingDelayHoldsTarget(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	clock := &testClock{t: t0}
	q := NewQueue(1000)
	const target = 2 * time.Second
	var waiting []*Ticket
	var served []time.Duration
	var idle time.Duration // after the first minute
	shed := 0
	next := time.Duration(0) // when the server starts its next request
	for i := range 600 {     // 400 s of arrivals
		at := time.Duration(i) * 2 * time.Second / 3
		for len(waiting) > 0 && next <= at {
			clock.set(t0, next)
			served = append(served, waiting[0].Leave())
			waiting = waiting[1:]
			next += time.Second
		}
		if len(waiting) == 0 && next < at {
			if next > time.Minute {
				idle += at - next
			}
			next = at
		}
		clock.set(t0, at)
		a := Admission{Deadline: clock.t.Add(time.Minute), Wait: next - at, Work: time.Second, Target: target}
		tk, _, err := q.Admit(a, clock.now)
		switch {
		case errors.Is(err, ErrStandingDelay):
			shed++
		case err != nil:
			t.Fatal(err)
		default:
			waiting = append(waiting, tk)
		}
	}
	worst := slices.Max(served[len(served)/4:]) // after the start-up transient
	t.Logf("served %d, shed %d; worst wait after the start %v; idle %v", len(served), shed, worst, idle)
	if worst > target+time.Second {
		t.Errorf("worst wait %v after the start, want near the %v target", worst, target)
	}
	if share := float64(shed) / 600; share < 0.25 || share > 0.40 {
		t.Errorf("shed %.2f of the arrivals, want about 1/3 (1.5x load)", share)
	}
	if idle > 0 {
		t.Errorf("the server idled %v under overload: the queue ran empty", idle)
	}
}
