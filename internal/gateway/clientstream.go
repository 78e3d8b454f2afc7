package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strconv"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/sse"
)

// headerAttemptLog carries the attempt log (failover.Log): a header on
// answers written at once, a trailer on streams (whose continuations
// happen after the headers left).
const headerAttemptLog = "x-llmux-attempt-log"

// clientStream is the client's side of one streamed answer, across every
// attempt that writes to it: the response headers go out once, the events
// of each attempt are recorded (as sent, before secrets are put back) so
// that a stream broken mid-answer can be continued on another candidate,
// and an in-band upstream error event is held back until it is clear that
// nothing continues the answer.
//
// In hold-back mode (routes[].hold_back) nothing reaches the client until
// the answer is complete: events are buffered, and a failure mid-answer
// discards them, as if it had happened before the first byte.
type clientStream struct {
	f  format
	w  http.ResponseWriter
	sw *sse.Writer
	// out is where recorded events go: the guard (secrets, post_call
	// report) in front of the client's writer or the hold-back buffer.
	out   eventWriter
	guard *guardedStream
	hold  bool
	held  *heldEvents

	// rec is what the client has, recorded for a continuation: event
	// names and spans of arena, which holds the data of every event (one
	// growing buffer, so recording costs no allocation per event).
	rec   []span
	arena []byte
	// upErr is the last in-band error event an upstream sent, in the
	// client's format.
	upErr *recorded
	// ended: the stream got its end (or an error event); nothing more is
	// written.
	ended bool
}

// recorded is one event as the client got it.
type recorded struct {
	name string
	data []byte
}

// span is a recorded event: its name and its data's place in the arena.
type span struct {
	name       string
	start, end int
}

// heldEvents buffers a hold-back stream.
type heldEvents struct{ events []recorded }

func (h *heldEvents) Event(name string, data []byte) error {
	h.events = append(h.events, recorded{name: name, data: bytes.Clone(data)})
	return nil
}

// openClientStream starts the client's stream for call c with the
// payload of its first attempt: the headers go out now (not in
// hold-back mode, where they wait for the complete answer).
func (g *Gateway) openClientStream(ctx context.Context, w http.ResponseWriter, c *call, pl *payload) *clientStream {
	cs := &clientStream{f: c.f, w: w, sw: sse.NewWriter(w), hold: g.cfgRoute(c.serving).HoldBack,
		// Sized for a typical answer, so recording rarely grows them.
		rec: make([]span, 0, 128), arena: make([]byte, 0, 16<<10)}
	var dst eventWriter = cs.sw
	if cs.hold {
		cs.held = &heldEvents{}
		dst = cs.held
	} else {
		cs.sendHeaders()
	}
	cs.out = dst
	if gw := g.guardStream(ctx, c, pl, dst); gw != dst {
		cs.guard = gw.(*guardedStream)
		cs.out = gw
	}
	return cs
}

func (cs *clientStream) sendHeaders() {
	h := cs.w.Header()
	sse.SetHeaders(h)
	// Both are trailers too: a continuation happens after the headers
	// left.
	h.Set("Trailer", headerAttemptLog+", "+headerAttempts)
	cs.w.WriteHeader(http.StatusOK)
}

// Event records and forwards one client event; an in-band error event is
// held back instead.
func (cs *clientStream) Event(name string, data []byte) error {
	if cs.ended {
		return nil
	}
	if isClientError(cs.f, name, data) {
		cs.upErr = &recorded{name: name, data: bytes.Clone(data)}
		return nil
	}
	start := len(cs.arena)
	cs.arena = append(cs.arena, data...)
	cs.rec = append(cs.rec, span{name: name, start: start, end: len(cs.arena)})
	return cs.out.Event(name, data)
}

// recorded returns the events the client has.
func (cs *clientStream) recorded() []recorded {
	out := make([]recorded, len(cs.rec))
	for i, sp := range cs.rec {
		out[i] = recorded{name: sp.name, data: cs.arena[sp.start:sp.end]}
	}
	return out
}

// isClientError reports whether an event in the client's format is an
// error event.
func isClientError(f format, name string, data []byte) bool {
	if f == formatAnthropic {
		return name == anthropic.EventError
	}
	return bytes.HasPrefix(data, []byte(`{"error"`))
}

// delivered reports whether the client has any of the answer.
func (cs *clientStream) delivered() bool {
	return len(cs.rec) > 0 || cs.held != nil && len(cs.held.events) > 0
}

// setVault switches the secrets put back to those of the payload now
// being answered (a continuation may render another prompt variant).
func (cs *clientStream) setVault(pl *payload) {
	if cs.guard != nil && pl.vault != nil {
		cs.guard.vault = pl.vault
	}
}

// complete ends the stream's writing: a held-back answer goes out now,
// and the trailers say what the attempts were.
func (cs *clientStream) complete(log string, attempts int) {
	cs.ended = true
	if cs.hold {
		cs.sendHeaders()
		for _, ev := range cs.held.events {
			if cs.sw.Event(ev.name, ev.data) != nil {
				break
			}
		}
	}
	h := cs.w.Header()
	h.Set(headerAttemptLog, log)
	h.Set(headerAttempts, strconv.Itoa(attempts))
}

// discard drops a held-back answer that failed; the client saw nothing.
func (cs *clientStream) discard() {
	cs.held.events = nil
	cs.rec, cs.arena = nil, nil
	cs.upErr = nil
}

// fail ends the stream with an error event: the upstream's own when one
// arrived, else message. A held-back stream sends its headers first.
func (cs *clientStream) fail(message string) {
	if cs.ended {
		return
	}
	cs.ended = true
	if cs.hold {
		cs.sendHeaders()
	}
	if e := cs.upErr; e != nil {
		cs.sw.Event(e.name, e.data)
		return
	}
	name, data := streamErrorEvent(cs.f, http.StatusBadGateway, message)
	cs.sw.Event(name, data)
}
