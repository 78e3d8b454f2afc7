package ratelimit

import (
	"bytes"
	"sync"
	"testing"

	"github.com/llmux/llmux/internal/redistest"
)

// startRedis starts a real redis-server for t (see package redistest).
func startRedis(t testing.TB) *redistest.Server { return redistest.Start(t) }

// lockedBuffer collects log output written from several goroutines.
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
