package health

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestConcurrentUse runs every call at once on a few deployments; -race
// checks the locking, and the invariants are checked as it goes.
func TestConcurrentUse(t *testing.T) {
	var nanos atomic.Int64
	start := time.Unix(1_000_000, 0)
	now := func() time.Time { return start.Add(time.Duration(nanos.Add(int64(100 * time.Microsecond)))) }
	tr := NewTracker(now)
	tr.SetRand(seeded(1)) // not safe for concurrent use: the Tracker must serialize it
	tr.SetDefaultBreaker(Breaker{ConsecutiveFailures: 3, OpenFor: 50 * time.Millisecond, HalfOpenProbes: 2, MinRequests: 10})
	names := []string{"a", "b", "c"}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				name := names[(g+i)%len(names)]
				switch i % 7 {
				case 0, 1, 2:
					p, ok := tr.Acquire(name)
					if !ok {
						continue
					}
					switch (g + i) % 3 {
					case 0:
						p.Success()
					case 1:
						p.Failure(0)
					default:
						p.Release()
					}
				case 3:
					tr.ObserveTTFT(name, time.Duration(i)*time.Millisecond)
				case 4:
					if st := tr.Snapshot(name); st.ProbesInFlight > 2 || (st.State != HalfOpen && st.ProbesInFlight != 0) {
						t.Errorf("bad snapshot %+v", st)
					}
					_ = tr.TTFT(name)
				case 5:
					if i%2 == 0 {
						tr.Success(name)
					} else {
						tr.Failure(name, time.Millisecond)
					}
				case 6:
					_ = tr.Available(name)
					_ = tr.CooldownLeft(name)
					_ = tr.Failures(name)
					if i%500 == 6 {
						tr.SetBreaker(name, Breaker{ConsecutiveFailures: 4, HalfOpenProbes: 2})
						tr.SetTTFTHalfLife(time.Second)
					}
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range names {
		total += tr.TTFT(n).Samples
	}
	if total == 0 || total > 8*2000/7+8 {
		t.Fatalf("TTFT samples = %d", total)
	}
}

// TestDefaultClock runs the breaker on time.Now inside a synctest bubble,
// where time.Sleep advances a fake clock at once.
func TestDefaultClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := NewTracker(nil)
		for range DefaultConsecutiveFailures {
			tr.Failure("a", 0)
		}
		if tr.Available("a") {
			t.Fatal("open circuit available")
		}
		time.Sleep(time.Duration(float64(DefaultOpenFor) * (1 + DefaultJitter)))
		p, ok := tr.Acquire("a")
		if !ok || !p.Probe() {
			t.Fatal("no probe after OpenFor")
		}
		p.Success()
		if st := tr.Snapshot("a"); st.State != Closed || !st.Available {
			t.Fatalf("after the probe: %+v", st)
		}

		tr.ObserveTTFT("a", 10*time.Second)
		time.Sleep(DefaultHalfLife)
		tr.ObserveTTFT("a", 2*time.Second)
		if got := tr.TTFT("a").EWMA; got < 4666*time.Millisecond || got > 4667*time.Millisecond {
			t.Fatalf("EWMA = %v, want 4.667s", got)
		}
	})
}
