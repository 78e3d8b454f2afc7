package ratelimit

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisScriptCacheLost(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	s := NewRedis(client, "p:")
	c := &checker{t: t, s: s}
	c.ok(s.Load(ctx))
	c.grant("a", rpm60, oneReq)
	c.ok(client.ScriptFlush(ctx).Err()) // EVALSHA now fails with NOSCRIPT
	c.grant("a", rpm60, oneReq)
	c.available("a", rpm60, 58)
}

func TestRedisKeyLayoutAndTTL(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	s := NewRedis(client, "llmux:rl:") // Redis's own clock
	c := &checker{t: t, s: s}
	c.grant("dep", Limits{RPM: 60, TPM: 6000}, Cost{Requests: 1, Input: 200})

	fields, err := client.HGetAll(ctx, "llmux:rl:dep").Result()
	c.ok(err)
	// Fields that would be 0 (here: unlimited dimensions, no block) are not stored.
	want := map[string]string{"t": fields["t"], "rl": "60", "rv": strconv.Itoa(59 * unit), "tl": "6000", "tv": strconv.Itoa(5800 * unit)}
	if !maps.Equal(fields, want) {
		t.Fatalf("hash = %v, want %v", fields, want)
	}
	// Full again in 2 s; the key lives a minute longer.
	ttl := client.PTTL(ctx, "llmux:rl:dep").Val()
	if ttl <= 60*time.Second || ttl > 62*time.Second {
		t.Fatalf("PTTL = %s, want 60-62 s", ttl)
	}
	c.ok(s.Block(ctx, "dep", Limits{RPM: 60, TPM: 6000}, 5*time.Minute))
	if ttl := client.PTTL(ctx, "llmux:rl:dep").Val(); ttl < 6*time.Minute-time.Second {
		t.Fatalf("PTTL after a 5-minute block = %s, want at least 6 min", ttl)
	}
	if st := c.state("dep", Limits{RPM: 60, TPM: 6000}); st.BlockedFor < 5*time.Minute-time.Second {
		t.Fatalf("State = %+v", st)
	}
}

func TestRedisSettleAfterExpiry(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	s := NewRedis(client, "p:")
	c := &checker{t: t, s: s}
	r := c.grant("a", rpm60, oneReq)
	c.ok(client.Del(ctx, "p:a").Err())
	c.ok(s.Settle(ctx, r, Cost{Requests: 5}))
	c.available("a", rpm60, 56)
}

func TestRedisReplicasShareBuckets(t *testing.T) {
	srv := startRedis(t)
	clock := newFakeClock()
	var stores []*Redis
	for range 3 { // three replicas, each with its own connection pool
		s := NewRedis(srv.Client(nil), "shared:")
		s.Now = clock.Now
		stores = append(stores, s)
	}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 90 {
		wg.Go(func() {
			r, err := stores[i%3].Reserve(ctx, "dep", rpm60, oneReq)
			if err != nil {
				t.Error(err)
			}
			if r.OK {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 60 {
		t.Fatalf("replicas granted %d, want 60", n)
	}
}

func TestRedisErrors(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(&redis.Options{MaxRetries: -1})
	s := NewRedis(client, "p:")
	notUnavailable := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: err = %v, want an error that is not ErrUnavailable", what, err)
		}
	}
	if err := client.Set(ctx, "p:str", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Reserve(ctx, "str", rpm60, oneReq)
	notUnavailable("key of the wrong type", err)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Reserve(cancelled, "a", rpm60, oneReq)
	notUnavailable("cancelled context", err)

	srv.Stop()
	ops := map[string]func() error{
		"reserve": func() error { _, err := s.Reserve(ctx, "a", rpm60, oneReq); return err },
		"settle":  func() error { return s.Settle(ctx, Reservation{OK: true, Key: "a", Limits: rpm60}, oneReq) },
		"learn":   func() error { return s.Learn(ctx, "a", rpm60, Observed{}) },
		"block":   func() error { return s.Block(ctx, "a", rpm60, time.Second) },
		"state":   func() error { _, err := s.State(ctx, "a", rpm60); return err },
		"load":    func() error { return s.Load(ctx) },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: err = %v, want ErrUnavailable", name, err)
		}
	}
}

func BenchmarkRedisReserveSettle(b *testing.B) {
	srv := startRedis(b)
	s := NewRedis(srv.Client(nil), "bench:")
	lim := Limits{RPM: MaxLimit, TPM: MaxLimit}
	cost := Cost{Requests: 1, Input: 1000, Output: 500}
	actual := Cost{Requests: 1, Input: 900, Output: 200}
	var n atomic.Int64
	b.SetParallelism(8) // 16 concurrent requests on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := "deployment-" + strconv.FormatInt(n.Add(1)%4, 10)
		for pb.Next() {
			r, err := s.Reserve(ctx, key, lim, cost)
			if err != nil || !r.OK {
				b.Error(r, err)
				return
			}
			if err := s.Settle(ctx, r, actual); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
