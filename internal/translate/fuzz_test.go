package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
	"github.com/llmux/llmux/internal/api/sse"
)

// seed adds every input file of testdata/dir to the corpus.
func seed(f *testing.F, dir, ext string) {
	for _, in := range inputs(f, dir, ext) {
		f.Add(readFile(f, in))
	}
}

func mustMarshal(t *testing.T, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("output does not encode: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("output is not valid JSON: %s", b)
	}
}

func checkTranslateError(t *testing.T, err error) {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v is not a *Error", err)
	}
}

func FuzzOpenAIToAnthropic(f *testing.F) {
	seed(f, "openai_to_anthropic", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var req openai.ChatRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		out, err := OpenAIToAnthropic(&req, "m", Options{})
		if err != nil {
			checkTranslateError(t, err)
			return
		}
		mustMarshal(t, out)
	})
}

func FuzzAnthropicToOpenAI(f *testing.F) {
	seed(f, "anthropic_to_openai", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var req anthropic.MessagesRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		out, err := AnthropicToOpenAI(&req, "m")
		if err != nil {
			checkTranslateError(t, err)
			return
		}
		mustMarshal(t, out)
	})
}

func FuzzResponses(f *testing.F) {
	seed(f, "response_anthropic_to_openai", ".json")
	seed(f, "response_openai_to_anthropic", ".json")
	f.Fuzz(func(t *testing.T, body []byte) {
		var a anthropic.Response
		if json.Unmarshal(body, &a) == nil {
			mustMarshal(t, AnthropicResponseToOpenAIAt(&a, "m", time.Unix(0, 0)))
		}
		var o openai.ChatResponse
		if json.Unmarshal(body, &o) == nil {
			mustMarshal(t, OpenAIResponseToAnthropic(&o, "m"))
		}
	})
}

func FuzzErrors(f *testing.F) {
	f.Add(429, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"x"}}`))
	f.Add(429, []byte(`{"error":{"code":"429","message":"Requests ... exceeded"}}`))
	f.Add(0, []byte(`{"error":"x"}`))
	f.Add(502, []byte(`<html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for _, out := range [][]byte{ErrorToOpenAI(status, body), ErrorToAnthropic(status, body)} {
			if !json.Valid(out) {
				t.Fatalf("not JSON: %s", out)
			}
		}
	})
}

// feed parses input as SSE and feeds it to conv until the first error.
func feed(input []byte, conv streamConverter) error {
	r := sse.NewReader(bytes.NewReader(input))
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // not SSE: not the converter's business
		}
		if err := conv.Event(ev); err != nil {
			return err
		}
	}
}

// openaiChecker checks a converted OpenAI stream as it is written: every
// payload is JSON, nothing follows [DONE].
type openaiChecker struct {
	t    *testing.T
	done bool
}

func (c *openaiChecker) Event(name string, data []byte) error {
	if name != "" {
		c.t.Fatalf("OpenAI event with a name %q", name)
	}
	if c.done {
		c.t.Fatalf("event after [DONE]: %s", data)
	}
	if bytes.Equal(data, openai.Done) {
		c.done = true
		return nil
	}
	if !json.Valid(data) {
		c.t.Fatalf("not JSON: %s", data)
	}
	return nil
}

func FuzzAnthropicToOpenAIStream(f *testing.F) {
	seed(f, "stream_anthropic_to_openai", ".sse")
	f.Fuzz(func(t *testing.T, input []byte) {
		for _, includeUsage := range []bool{false, true} {
			c := &openaiChecker{t: t}
			s := NewAnthropicToOpenAIStream(c, "m", includeUsage)
			feed(input, s)
			if s.Done() != c.done {
				t.Fatalf("Done() = %v but [DONE] written = %v", s.Done(), c.done)
			}
		}
	})
}

// anthropicChecker checks a converted Anthropic stream as it is written:
// every payload is JSON whose type is the event name, message_start comes
// first, blocks start at consecutive indexes and deltas and stops address
// the open block, nothing follows message_stop.
type anthropicChecker struct {
	t       *testing.T
	started bool
	stopped bool
	next    int
	open    int
}

func (c *anthropicChecker) Event(name string, data []byte) error {
	t := c.t
	var e struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("not JSON: %s", data)
	}
	if e.Type != name {
		t.Fatalf("event %q has type %q", name, e.Type)
	}
	if c.stopped {
		t.Fatalf("%s after message_stop", name)
	}
	if name != anthropic.EventError && name != anthropic.EventMessageStart && !c.started {
		t.Fatalf("%s before message_start", name)
	}
	switch name {
	case anthropic.EventMessageStart:
		if c.started {
			t.Fatal("second message_start")
		}
		c.started, c.open = true, -1
	case anthropic.EventContentBlockStart:
		if c.open >= 0 || e.Index != c.next {
			t.Fatalf("block %d started (open %d, next %d)", e.Index, c.open, c.next)
		}
		c.open = e.Index
		c.next++
	case anthropic.EventContentBlockDelta, anthropic.EventContentBlockStop:
		if e.Index != c.open {
			t.Fatalf("%s for block %d, open is %d", name, e.Index, c.open)
		}
		if name == anthropic.EventContentBlockStop {
			c.open = -1
		}
	case anthropic.EventMessageDelta:
		if c.open >= 0 {
			t.Fatalf("message_delta with block %d open", c.open)
		}
	case anthropic.EventMessageStop:
		c.stopped = true
	}
	return nil
}

func FuzzOpenAIToAnthropicStream(f *testing.F) {
	seed(f, "stream_openai_to_anthropic", ".sse")
	f.Fuzz(func(t *testing.T, input []byte) {
		c := &anthropicChecker{t: t}
		s := NewOpenAIToAnthropicStream(c, "m", 10)
		if feed(input, s) == nil {
			s.Finish()
		}
		if s.Done() != c.stopped {
			t.Fatalf("Done() = %v but message_stop written = %v", s.Done(), c.stopped)
		}
	})
}
