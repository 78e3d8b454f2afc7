// Package redistest starts real redis-server processes for tests, on free
// loopback ports (DESIGN.md: real parts, really started). Without
// redis-server on PATH a test is skipped, or fails when CI=true.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a real redis-server child process on a loopback port,
// for tests. Stop and Start restart it on the same port.
type Server struct {
	t    testing.TB
	bin  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

// Start starts a redis-server for t and stops it when t ends. Without
// redis-server on PATH the test is skipped, or fails when CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true: the Redis tests must run in CI (install the redis-server package)")
		}
		t.Skip("redis-server is not on PATH; install the redis-server package to run the Redis tests")
	}
	s := &Server{t: t, bin: bin}
	t.Cleanup(s.Stop)
	// A free port can be taken between picking and binding it: try again.
	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == 2 {
			t.Fatal(err)
		}
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Client returns a client for the server, closed when the test ends.
func (s *Server) Client(opt *redis.Options) *redis.Client {
	if opt == nil {
		opt = &redis.Options{}
	}
	opt.Addr = s.Addr()
	c := redis.NewClient(opt)
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Start (re)starts the server on its port, failing the test if it does
// not answer PING in time.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &lockedBuffer{}
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	if err := waitPing(s.Addr(), cmd.Process.Pid, done, 10*time.Second); err != nil {
		s.stopLocked()
		return fmt.Errorf("redis-server on port %d: %w\n%s", s.port, err, out.String())
	}
	return nil
}

// Stop kills the server and waits until it has exited.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// waitPing polls addr until the server with process id pid answers
// (another server may hold the port), the process exits, or the deadline
// passes.
func waitPing(addr string, pid int, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if got, err := ping(addr); err == nil && got == pid {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before answering PING")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond) // polling a real process
	}
}

// ping sends PING and INFO server over a raw connection, expects +PONG,
// and returns the server's process id.
func ping(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\nINFO server\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		return 0, fmt.Errorf("PING answered %q (%v)", line, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a child process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
