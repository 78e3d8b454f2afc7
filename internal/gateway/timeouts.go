package gateway

import (
	"context"
	"errors"
	"sync"
	"time"
)

// timeouts bound one attempt. Zero means no bound.
type timeouts struct {
	// connect bounds dialing a new connection.
	connect time.Duration
	// firstToken bounds the time from sending to the first event of a
	// stream, or to the response headers of a non-streamed request.
	firstToken time.Duration
	// chunkGap bounds the silence between two events of a stream.
	chunkGap time.Duration
	// total bounds the whole attempt.
	total time.Duration
}

// Watchdog causes, so a cancelled attempt can be told from a client that
// went away.
var (
	errFirstTokenTimeout = errors.New("no first token within the first-token timeout")
	errChunkGapTimeout   = errors.New("the stream stalled longer than the chunk-gap timeout")
	errTotalTimeout      = errors.New("the attempt exceeded its total timeout")
)

// isWatchdog reports whether err is one of the watchdog's causes.
func isWatchdog(err error) bool {
	return errors.Is(err, errFirstTokenTimeout) || errors.Is(err, errChunkGapTimeout) || errors.Is(err, errTotalTimeout)
}

// watchdog cancels an attempt's context, with a cause, when its first
// token is late, a stream stalls, or it runs too long. A first-token
// timeout fires before anything reached the client, so the attempt can
// move on to the next candidate (DESIGN.md principle 4: time out on the
// first token, not only on the total). One timer serves the first-token
// and chunk-gap bounds; the context's own deadline serves the total.
type watchdog struct {
	cancel      context.CancelCauseFunc
	cancelTotal context.CancelFunc
	t           timeouts

	mu    sync.Mutex
	timer *time.Timer
	first bool  // the first token has arrived
	fired error // the cause, once a bound fired
}

// startWatchdog returns the attempt's context and its watchdog; call stop
// when the attempt ends.
func startWatchdog(parent context.Context, t timeouts) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	if t.connect > 0 {
		ctx = context.WithValue(ctx, connectTimeoutKey{}, t.connect)
	}
	w := &watchdog{cancel: cancel, cancelTotal: func() {}, t: t}
	if t.total > 0 {
		ctx, w.cancelTotal = context.WithTimeoutCause(ctx, t.total, errTotalTimeout)
	}
	if t.firstToken > 0 {
		w.timer = time.AfterFunc(t.firstToken, w.expire)
	}
	return ctx, w
}

func (w *watchdog) expire() {
	w.mu.Lock()
	cause := errFirstTokenTimeout
	if w.first {
		cause = errChunkGapTimeout
	}
	w.fired = cause
	w.mu.Unlock()
	w.cancel(cause)
}

// cause returns why the watchdog cut the attempt, or nil.
func (w *watchdog) cause() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fired
}

// token records an event (or the response headers): the first one turns
// the first-token bound into the chunk-gap bound, later ones restart it.
func (w *watchdog) token() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.first = true
	switch {
	case w.t.chunkGap <= 0:
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(w.t.chunkGap, w.expire)
	default:
		w.timer.Reset(w.t.chunkGap)
	}
}

// stop ends the watchdog and releases the attempt's context.
func (w *watchdog) stop() {
	w.mu.Lock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	w.cancelTotal()
	w.cancel(nil)
}
