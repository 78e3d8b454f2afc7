package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, in string) ([]Event, error) {
	r := NewReader(strings.NewReader(in))
	var out []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, Event{Name: ev.Name, Data: append([]byte(nil), ev.Data...)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Event
		wantErr error
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []Event{{"", []byte(`{"a":1}`)}, {"", []byte("[DONE]")}}, nil},
		{"anthropic", "event: ping\ndata: {\"type\": \"ping\"}\n\n", []Event{{"ping", []byte(`{"type": "ping"}`)}}, nil},
		{"crlf and comments", ": keep-alive\r\n\r\ndata:x\r\n\r\n", []Event{{"", []byte("x")}}, nil},
		{"multi-line data", "data: a\ndata: b\n\n", []Event{{"", []byte("a\nb")}}, nil},
		{"last event without blank line", "data: a\n\ndata: b", []Event{{"", []byte("a")}, {"", []byte("b")}}, nil},
		{"cut inside an event name", "data: a\n\nevent: message_st", []Event{{"", []byte("a")}}, io.ErrUnexpectedEOF},
		{"leading blank lines", "\n\n\ndata: a\n\n", []Event{{"", []byte("a")}}, nil},
		{"unknown fields ignored", "id: 7\nretry: 10\ndata: a\n\n", []Event{{"", []byte("a")}}, nil},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAll(t, tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i].Name != tt.want[i].Name || !bytes.Equal(got[i].Data, tt.want[i].Data) {
					t.Errorf("event %d = %q %q, want %q %q", i, got[i].Name, got[i].Data, tt.want[i].Name, tt.want[i].Data)
				}
			}
		})
	}
}

func TestReaderLongLineAndLimit(t *testing.T) {
	long := strings.Repeat("x", 100<<10)
	got, err := readAll(t, "data: "+long+"\n\n")
	if err != nil || len(got) != 1 || string(got[0].Data) != long {
		t.Fatalf("long line: err %v, %d events", err, len(got))
	}
	_, err = readAll(t, "data: "+strings.Repeat("y", MaxEventSize+10)+"\n\n")
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized event: err = %v, want ErrEventTooLarge", err)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Event("", []byte(`{"a":1}`))
	w.Event("message_stop", []byte(`{"type":"message_stop"}`))
	w.Comment("ping")
	want := "data: {\"a\":1}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n: ping\n\n"
	if buf.String() != want {
		t.Fatalf("wrote %q, want %q", buf.String(), want)
	}
	got, err := readAll(t, buf.String())
	if err != nil || len(got) != 2 || got[1].Name != "message_stop" {
		t.Fatalf("round trip: %v %q", err, got)
	}
}

// FuzzReader: any byte stream yields events or an error, never a panic or
// a hang, and re-encoding single-line events reads back the same.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: {\"a\":1}\n\ndata: [DONE]\n\n",
		"event: message_start\ndata: {}\n\n: c\n\n",
		"data: a\r\ndata: b\r\n\r\n", "event", "\n\n\n", "data:", ":\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		for i := 0; i <= len(in); i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if bytes.ContainsAny(ev.Data, "\r") && !bytes.Contains(in, []byte("\r")) {
				t.Fatalf("event data has a CR the input lacked")
			}
		}
		t.Fatalf("more events than input bytes")
	})
}
