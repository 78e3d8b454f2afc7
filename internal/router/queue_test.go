package router

import (
	"context"
	"errors"
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
