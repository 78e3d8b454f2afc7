package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoRedisServer is returned (wrapped) by Limits when a run with more
// than one replica needs redis-server and it cannot be found.
var ErrNoRedisServer = errors.New("redis-server not found")

// redisProc is a redis-server child process on a free loopback port,
// without persistence, owned by one benchmark run.
type redisProc struct {
	addr    string
	version string
	path    string // the binary
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *syncBuffer
}

// startRedis starts bin (looked up on PATH when empty). A free port can
// be taken between picking it and redis-server binding it, so it tries
// three ports.
func startRedis(ctx context.Context, bin string) (*redisProc, error) {
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("bench: %w (%v); the 3-replica phases share limits through a real Redis: install the redis-server package or pass --replicas 1", ErrNoRedisServer, err)
	}
	for attempt := 1; ; attempt++ {
		p, err := tryRedis(ctx, path)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			return p, err
		}
	}
}

func tryRedis(ctx context.Context, path string) (*redisProc, error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	return startRedisOn(ctx, path, port)
}

// restart starts a new, empty redis-server on the port of p, which must
// have stopped, and returns it: clients of p reconnect to it.
func (p *redisProc) restart(ctx context.Context) (*redisProc, error) {
	return startRedisOn(ctx, p.path, p.port)
}

// startRedisOn starts redis-server on port and waits until it answers.
func startRedisOn(ctx context.Context, path string, port int) (*redisProc, error) {
	p := &redisProc{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), path: path, port: port,
		exited: make(chan struct{}), out: &syncBuffer{}}
	p.cmd = exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start redis-server: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, 10*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("bench: redis-server on %s: %w\n%s", p.addr, err, p.out.String())
	}
	return p, nil
}

// waitReady polls until this process answers PING (another server may
// hold the port), it exits, or the timeout passes.
func (p *redisProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	// Polling a child process, often: a restart in a Redis-loss phase
	// is timed on a clock 30 times faster than this one.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if version, ok := p.answers(ctx); ok {
			p.version = version
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("exited before answering")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s", timeout)
		}
	}
}

// answers reports whether this process answers on its address, and its
// version. Each call has its own client: go-redis stops dialling for a
// second after as many failed dials as its pool size, and waiting for
// the server to listen fails every dial until it does.
func (p *redisProc) answers(ctx context.Context) (version string, ok bool) {
	c := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer c.Close()
	info, err := c.InfoMap(ctx, "server").Result()
	if err != nil {
		return "", false
	}
	s := info["Server"]
	return s["redis_version"], s["process_id"] == strconv.Itoa(p.cmd.Process.Pid)
}

// stop kills the process and waits until it has exited.
func (p *redisProc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// freeLoopbackPort returns a loopback port that was free a moment ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer collects a child process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.b.String())
}
