// Package sse reads and writes server-sent events as OpenAI and Anthropic
// stream them: "event:" lines (Anthropic only), "data:" lines, and a blank
// line ending each event. Comment lines (": ping") are skipped by the reader.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Event is one server-sent event. Name is empty for OpenAI streams, which
// carry no "event:" field.
type Event struct {
	Name string
	Data []byte
}

// MaxEventSize bounds one event's data. Provider events are small (a token,
// a tool-argument fragment); anything larger is a broken upstream.
const MaxEventSize = 4 << 20

// ErrEventTooLarge is returned by Reader.Next for an event over MaxEventSize.
var ErrEventTooLarge = errors.New("sse: event larger than 4 MiB")

// Reader reads events from a stream. It is not safe for concurrent use.
type Reader struct {
	r    *bufio.Reader
	data []byte
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 4<<10)}
}

// Next returns the next event. Its Data is valid until the following call.
// At the end of the stream it returns io.EOF if the stream ended between
// events and io.ErrUnexpectedEOF if it ended inside one.
func (r *Reader) Next() (Event, error) {
	var ev Event
	r.data = r.data[:0]
	started := false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && started {
				// A final event without its blank line: accept it when it
				// carried data, as browsers' EventSource does.
				if len(r.data) > 0 {
					ev.Data = r.data
					return ev, nil
				}
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		if len(line) == 0 {
			if !started {
				continue
			}
			ev.Data = r.data
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		started = true
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			ev.Name = string(value)
		case "data":
			if len(r.data)+len(value)+1 > MaxEventSize {
				return ev, ErrEventTooLarge
			}
			if len(r.data) > 0 {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
		}
	}
}

func (r *Reader) readLine() ([]byte, error) {
	line, err := r.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A line longer than the buffer: collect it.
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(buf) > MaxEventSize {
				return nil, ErrEventTooLarge
			}
			line, err = r.r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil && !(err == io.EOF && len(line) > 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}

// Writer writes events and flushes after each one, so tokens reach the
// client as they arrive.
type Writer struct {
	w       io.Writer
	flusher http.Flusher
	buf     []byte // reused across events
}

// NewWriter returns a Writer on w. If w is an http.Flusher each event is
// flushed.
func NewWriter(w io.Writer) *Writer {
	f, _ := w.(http.Flusher)
	return &Writer{w: w, flusher: f}
}

// Event writes one event. An empty name writes only the data line (OpenAI).
func (w *Writer) Event(name string, data []byte) error {
	buf := w.buf[:0]
	if name != "" {
		buf = append(buf, "event: "...)
		buf = append(buf, name...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, '\n', '\n')
	w.buf = buf
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("sse: write event: %w", err)
	}
	w.Flush()
	return nil
}

// Comment writes a comment line, used as a keep-alive.
func (w *Writer) Comment(text string) error {
	if _, err := io.WriteString(w.w, ": "+text+"\n\n"); err != nil {
		return fmt.Errorf("sse: write comment: %w", err)
	}
	w.Flush()
	return nil
}

// Flush flushes the underlying writer if it can.
func (w *Writer) Flush() {
	if w.flusher != nil {
		w.flusher.Flush()
	}
}

// SetHeaders sets the response headers of an event stream.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
}
