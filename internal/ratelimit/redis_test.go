package ratelimit

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

	raw, err := client.Get(ctx, "llmux:rl:dep").Bytes()
	c.ok(err)
	var f [18]float64
	if len(raw) != 8*len(f) {
		t.Fatalf("stored set is %d bytes, want %d", len(raw), 8*len(f))
	}
	c.ok(binary.Read(bytes.NewReader(raw), binary.LittleEndian, &f))
	want := [18]float64{f[0], 0, 60, 0, 59 * unit, 0, 6000, 0, 5800 * unit, 0}
	if f != want || f[0] < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("stored set = %v, want %v", f, want)
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

func TestRedisWindowLayoutAndTTL(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	s := NewRedis(client, "w:")
	clock := newFakeClock() // 03:04:05
	s.Now = clock.Now
	c := &checker{t: t, s: s}
	lim := Limits{RPM: 120, TPM: 6000, RequestsWindow: 10 * time.Second, TokensWindow: time.Minute}
	c.grant("dep", lim, Cost{Requests: 1, Input: 200})
	raw, err := client.Get(ctx, "w:dep").Bytes()
	c.ok(err)
	var f [18]float64
	c.ok(binary.Read(bytes.NewReader(raw), binary.LittleEndian, &f))
	now := float64(clock.Now().UnixMilli())
	want := [18]float64{now, 0, 120, 0, 1, 10000, 6000, 0, 200, 60000}
	if f != want {
		t.Fatalf("stored set = %v, want %v", f, want)
	}
	// Used until the token window ends in 55 s; the key lives a minute longer.
	if ttl := client.PTTL(ctx, "w:dep").Val(); ttl <= 114*time.Second || ttl > 115*time.Second {
		t.Fatalf("PTTL = %s, want 1m55s", ttl)
	}
	// Unused windows need no TTL beyond the minute.
	c.ok(s.Learn(ctx, "unused", lim, obsNone))
	if ttl := client.PTTL(ctx, "w:unused").Val(); ttl <= 59*time.Second || ttl > time.Minute {
		t.Fatalf("PTTL = %s, want 1m", ttl)
	}
}

func TestRedisOldLayoutReplaced(t *testing.T) {
	srv := startRedis(t)
	client := srv.Client(nil)
	s := NewRedis(client, "old:")
	clock := newFakeClock()
	s.Now = clock.Now
	c := &checker{t: t, s: s}
	// A set in the 14-number layout from before windows: an empty RPM bucket.
	old := [14]float64{float64(clock.Now().UnixMilli()), 0, 60, 0, 0}
	var buf bytes.Buffer
	c.ok(binary.Write(&buf, binary.LittleEndian, old))
	c.ok(client.Set(ctx, "old:dep", buf.Bytes(), 0).Err())
	c.available("dep", rpm60, 60) // unreadable: reported as new
	c.grant("dep", rpm60, oneReq)
	c.available("dep", rpm60, 59)
	if n := len(client.Get(ctx, "old:dep").Val()); n != 144 {
		t.Fatalf("the key holds %d bytes after a reservation, want the 144 of the new layout", n)
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
	client := srv.Client(&redis.Options{MaxRetries: -1, DialerRetries: 1})
	s := NewRedis(client, "p:")
	c := &checker{t: t, s: s}
	notUnavailable := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: err = %v, want an error that is not ErrUnavailable", what, err)
		}
	}
	// An error reply is not unavailability (and a key of another layout
	// is replaced, not an error).
	c.ok(client.HSet(ctx, "p:old", "rl", 60).Err())
	c.grant("old", rpm60, oneReq)
	c.available("old", rpm60, 59)
	notUnavailable("error reply", s.wrap(ctx, "test", client.Do(ctx, "NOSUCHCOMMAND").Err()))
	_, err := s.Reserve(ctx, "a", Limits{RPM: MaxLimit + 1}, oneReq)
	notUnavailable("invalid limits", err)
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

// BenchmarkRedisReserveSettle measures reserve+settle pairs against a
// real redis-server on this machine. Besides pairs/s it reports the CPU
// each pair costs Redis (INFO cpu) and this process (getrusage), so the
// capacity of a dedicated Redis core and of a replica's core can be
// worked out when both share a small machine.
func BenchmarkRedisReserveSettle(b *testing.B) {
	srv := startRedis(b)
	client := srv.Client(nil)
	benchReserveSettle(b, NewRedis(client, "bench:"), client)
}

// BenchmarkResilientReserveSettle is BenchmarkRedisReserveSettle through
// Resilient, which also keeps each reply's share in its local Memory.
func BenchmarkResilientReserveSettle(b *testing.B) {
	srv := startRedis(b)
	client := srv.Client(nil)
	benchReserveSettle(b, NewResilient(NewRedis(client, "bench:"), 3, nil, nil), client)
}

func benchReserveSettle(b *testing.B, s Store, client *redis.Client) {
	lim := Limits{RPM: MaxLimit, TPM: MaxLimit}
	cost := Cost{Requests: 1, Input: 1000, Output: 500}
	actual := Cost{Requests: 1, Input: 900, Output: 200}
	var n atomic.Int64
	b.SetParallelism(8) // 16 requests in flight on 2 cores
	b.ReportAllocs()
	redisCPU, selfCPU := redisCPUTime(b, client), processCPUTime(b)
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
	b.StopTimer()
	pairs := float64(b.N)
	b.ReportMetric(pairs/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(redisCPUTime(b, client)-redisCPU)/float64(time.Microsecond)/pairs, "redis-cpu-µs/pair")
	b.ReportMetric(float64(processCPUTime(b)-selfCPU)/float64(time.Microsecond)/pairs, "client-cpu-µs/pair")
}

// redisCPUTime is the CPU time the Redis server has used.
func redisCPUTime(b *testing.B, client *redis.Client) time.Duration {
	info, err := client.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, field := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, field); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				total += f
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// processCPUTime is the CPU time this process has used.
func processCPUTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
