package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// Response headers llmux sets.
const (
	headerRequestID  = "x-llmux-request-id"
	headerDeployment = "x-llmux-deployment"
	headerAttempts   = "x-llmux-attempts"
	headerFallback   = "x-llmux-fallback"
	headerQueued     = "x-llmux-queue-ms" // time waited for capacity, when it waited
)

// idSource makes request ids: a random per-process prefix and a counter,
// unique across replicas without a syscall per request.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [6]byte
	rand.Read(b[:])
	return &idSource{prefix: "req_" + hex.EncodeToString(b[:])}
}

func (s *idSource) next() string {
	return s.prefix + strconv.FormatUint(s.n.Add(1), 36)
}
