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
	p := &redisProc{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{}), out: &syncBuffer{}}
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
	c := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond) // polling a child process
	defer tick.Stop()
	for {
		if info, err := c.InfoMap(ctx, "server").Result(); err == nil {
			if s := info["Server"]; s["process_id"] == strconv.Itoa(p.cmd.Process.Pid) {
				p.version = s["redis_version"]
				return nil
			}
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
