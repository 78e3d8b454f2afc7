package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/openai"
)

// answer is a generated assistant answer: text, then tool calls.
type answer struct {
	text  string
	calls []testCall
}

type testCall struct{ name, args string }

// capture records events as a client would receive them.
type capture struct{ events []recorded }

func (c *capture) Event(name string, data []byte) error {
	c.events = append(c.events, recorded{name: name, data: bytes.Clone(data)})
	return nil
}

func randomAnswer(r *rand.Rand, tools bool) answer {
	words := []string{"alpha", "beta", "gamma", "delta", "é", "日本", "x", "the", "fox", "\n"}
	var b strings.Builder
	for i := 0; i < 3+r.IntN(30); i++ {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(3) > 0 {
			b.WriteByte(' ')
		}
	}
	a := answer{text: b.String()}
	if tools {
		for i := 0; i < 1+r.IntN(2); i++ {
			a.calls = append(a.calls, testCall{name: fmt.Sprintf("tool_%d", i), args: fmt.Sprintf(`{"q":"%s","n":%d}`, words[r.IntN(4)], r.IntN(100))})
		}
	}
	return a
}

// randomPieces splits s at random byte offsets (on rune boundaries).
func randomPieces(r *rand.Rand, s string) []string {
	var out []string
	runes := []rune(s)
	for len(runes) > 0 {
		n := 1 + r.IntN(min(len(runes), 6))
		out = append(out, string(runes[:n]))
		runes = runes[n:]
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// openAIEvents streams a as OpenAI chunks with id.
func openAIEvents(r *rand.Rand, id string, a answer) []recorded {
	chunk := func(delta map[string]any, finish any) recorded {
		return recorded{data: mustJSON(map[string]any{"id": id, "object": "chat.completion.chunk", "model": "m",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})}
	}
	evs := []recorded{chunk(map[string]any{"role": "assistant", "content": ""}, nil)}
	for _, p := range randomPieces(r, a.text) {
		evs = append(evs, chunk(map[string]any{"content": p}, nil))
	}
	for i, c := range a.calls {
		evs = append(evs, chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": fmt.Sprintf("call_%s_%d", id, i), "type": "function",
			"function": map[string]any{"name": c.name, "arguments": ""}}}}, nil))
		for _, p := range randomPieces(r, c.args) {
			evs = append(evs, chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": p}}}}, nil))
		}
	}
	evs = append(evs, chunk(map[string]any{}, "stop"))
	evs = append(evs, recorded{data: mustJSON(map[string]any{"id": id, "object": "chat.completion.chunk", "choices": []any{},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})})
	return append(evs, recorded{data: openai.Done})
}

// anthropicEvents streams a as Anthropic events with message id.
func anthropicEvents(r *rand.Rand, id string, a answer) []recorded {
	ev := func(name string, v any) recorded { return recorded{name: name, data: mustJSON(v)} }
	evs := []recorded{ev(anthropic.EventMessageStart, map[string]any{"type": "message_start",
		"message": map[string]any{"id": id, "type": "message", "role": "assistant", "content": []any{}, "usage": map[string]any{"input_tokens": 10, "output_tokens": 1}}})}
	idx := 0
	if a.text != "" {
		evs = append(evs, ev(anthropic.EventContentBlockStart, map[string]any{"type": "content_block_start", "index": idx, "content_block": map[string]any{"type": "text", "text": ""}}))
		for _, p := range randomPieces(r, a.text) {
			evs = append(evs, ev(anthropic.EventContentBlockDelta, map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "text_delta", "text": p}}))
		}
		evs = append(evs, ev(anthropic.EventContentBlockStop, map[string]any{"type": "content_block_stop", "index": idx}))
		idx++
	}
	for i, c := range a.calls {
		evs = append(evs, ev(anthropic.EventContentBlockStart, map[string]any{"type": "content_block_start", "index": idx,
			"content_block": map[string]any{"type": "tool_use", "id": fmt.Sprintf("toolu_%s_%d", id, i), "name": c.name, "input": map[string]any{}}}))
		for _, p := range randomPieces(r, c.args) {
			evs = append(evs, ev(anthropic.EventContentBlockDelta, map[string]any{"type": "content_block_delta", "index": idx, "delta": map[string]any{"type": "input_json_delta", "partial_json": p}}))
		}
		evs = append(evs, ev(anthropic.EventContentBlockStop, map[string]any{"type": "content_block_stop", "index": idx}))
		idx++
	}
	evs = append(evs, ev(anthropic.EventMessageDelta, map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn"}, "usage": map[string]any{"output_tokens": 5}}))
	return append(evs, ev(anthropic.EventMessageStop, map[string]any{"type": "message_stop"}))
}

func eventsFor(f format, r *rand.Rand, id string, a answer) []recorded {
	if f == formatAnthropic {
		return anthropicEvents(r, id, a)
	}
	return openAIEvents(r, id, a)
}

// checkWhole checks that events are one well-formed answer equal to a.
func checkWhole(t *testing.T, f format, events []recorded, a answer) {
	t.Helper()
	tr := readTranscript(f, events)
	if !tr.ok {
		t.Fatalf("the spliced stream does not parse as one answer")
	}
	if got := tr.text(); got != a.text {
		t.Fatalf("text = %q, want %q", got, a.text)
	}
	var calls []testCall
	for _, b := range tr.blocks {
		if b.kind == "tool_use" {
			calls = append(calls, testCall{b.name, b.text})
		}
	}
	if fmt.Sprint(calls) != fmt.Sprint(a.calls) {
		t.Fatalf("tool calls = %v, want %v", calls, a.calls)
	}
	ends, starts, ids := 0, 0, map[string]bool{}
	for _, ev := range events {
		switch {
		case f == formatOpenAI && bytes.Equal(ev.data, openai.Done), ev.name == anthropic.EventMessageStop:
			ends++
		case ev.name == anthropic.EventMessageStart:
			starts++
		}
		if f == formatOpenAI && !bytes.Equal(ev.data, openai.Done) {
			var c struct {
				ID string `json:"id"`
			}
			json.Unmarshal(ev.data, &c)
			ids[c.ID] = true
		}
	}
	if ends != 1 {
		t.Fatalf("%d ends, want 1", ends)
	}
	if f == formatAnthropic && starts != 1 {
		t.Fatalf("%d message_start events, want 1", starts)
	}
	if f == formatOpenAI && len(ids) != 1 {
		t.Fatalf("chunk ids %v, want one (the SDK accumulators reject a change)", ids)
	}
	if f == formatAnthropic {
		// every block starts once and stops once, in order
		open := map[int]int{}
		for _, ev := range events {
			var e struct {
				Index int `json:"index"`
			}
			json.Unmarshal(ev.data, &e)
			switch ev.name {
			case anthropic.EventContentBlockStart:
				open[e.Index]++
			case anthropic.EventContentBlockStop:
				open[e.Index] += 10
			}
		}
		for i, n := range open {
			if n != 11 {
				t.Fatalf("block %d started/stopped %d times (want 1 each): %v", i, n, open)
			}
		}
	}
}

// TestSpliceProperty cuts a stream at every kind of point, both formats,
// with and without tool calls, and continues it by regenerating (the
// same answer, chunked differently, with other ids) and, for text, by
// prefill: the client always ends up with exactly the answer, once.
func TestSpliceProperty(t *testing.T) {
	for _, f := range []format{formatOpenAI, formatAnthropic} {
		for seed := uint64(1); seed <= 300; seed++ {
			r := rand.New(rand.NewPCG(seed, uint64(f)))
			a := randomAnswer(r, seed%3 == 0)
			first := eventsFor(f, r, "first", a)
			cut := 1 + r.IntN(len(first)-2) // at least one event delivered; the stream did not finish
			client := &capture{events: append([]recorded(nil), first[:cut]...)}
			tr := readTranscript(f, client.events)
			if tr.finished {
				continue
			}
			name := fmt.Sprintf("%v/seed%d/cut%d", f, seed, cut)
			t.Run(name+"/regenerate", func(t *testing.T) {
				out := &capture{events: append([]recorded(nil), client.events...)}
				sp := newSplicer(f, out, tr, spliceRegenerate, "")
				for _, ev := range eventsFor(f, r, "second", a) {
					if err := sp.Event(ev.name, ev.data); err != nil {
						t.Fatalf("splice: %v", err)
					}
				}
				checkWhole(t, f, out.events, a)
			})
			if !tr.textOnly() || len(a.calls) > 0 || tr.text() == "" {
				continue
			}
			t.Run(name+"/prefill", func(t *testing.T) {
				k := newContinuation(tr, 1)
				rest := answer{text: strings.TrimPrefix(a.text, k.prefill)}
				out := &capture{events: append([]recorded(nil), client.events...)}
				sp := newSplicer(f, out, tr, splicePrefill, k.trim)
				for _, ev := range eventsFor(f, r, "second", rest) {
					if err := sp.Event(ev.name, ev.data); err != nil {
						t.Fatalf("splice: %v", err)
					}
				}
				checkWhole(t, f, out.events, a)
			})
		}
	}
}

func TestSpliceDiverged(t *testing.T) {
	for _, f := range []format{formatOpenAI, formatAnthropic} {
		r := rand.New(rand.NewPCG(7, 7))
		a := answer{text: "the quick brown fox jumps"}
		first := eventsFor(f, r, "first", a)
		tr := readTranscript(f, first[:4])
		sp := newSplicer(f, &capture{}, tr, spliceRegenerate, "")
		var err error
		for _, ev := range eventsFor(f, r, "second", answer{text: "a different answer entirely"}) {
			if err = sp.Event(ev.name, ev.data); err != nil {
				break
			}
		}
		if !errors.Is(err, errDiverged) {
			t.Errorf("%v: a different regenerated answer: err = %v, want errDiverged", f, err)
		}
	}
}
