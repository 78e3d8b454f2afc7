package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// anthropicReply sends messages to /v1/messages and returns the reply
// text, its output tokens and stop reason, streamed or not.
func anthropicReply(t *testing.T, s *Server, stream bool, maxTokens int, messages string) (text string, tokens int, stop string) {
	t.Helper()
	c := messagesCallOf(fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":%d,"stream":%v,"messages":%s}`, maxTokens, stream, messages))
	w := serve(s, c)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !stream {
		var m struct {
			Content    []struct{ Text string }
			StopReason string `json:"stop_reason"`
			Usage      struct {
				OutputTokens int `json:"output_tokens"`
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		for _, b := range m.Content {
			text += b.Text
		}
		return text, m.Usage.OutputTokens, m.StopReason
	}
	for _, ev := range events(w.Body.String()) {
		var d struct {
			Type  string
			Delta struct {
				Text       string
				StopReason string `json:"stop_reason"`
			}
			Usage struct {
				OutputTokens int `json:"output_tokens"`
			}
		}
		if err := json.Unmarshal([]byte(eventData(ev)), &d); err != nil {
			t.Fatalf("event %q: %v", ev, err)
		}
		text += d.Delta.Text
		if d.Type == "message_delta" {
			tokens, stop = d.Usage.OutputTokens, d.Delta.StopReason
		}
	}
	return text, tokens, stop
}

// TestAnthropicPrefill: a final assistant message is continued, and only
// the continuation is sent and counted (providers.md §4.2).
func TestAnthropicPrefill(t *testing.T) {
	pieces := fullReply("Hello there", 0)
	reply := strings.Join(pieces, "")
	tests := []struct {
		name      string
		prefill   string
		maxTokens int
		text      string
		tokens    int
		stop      string
	}{
		{"on a token boundary", "sim reply", 100, strings.TrimPrefix(reply, "sim reply"), len(pieces) - 2, "end_turn"},
		{"inside a token", "sim rep", 100, strings.TrimPrefix(reply, "sim rep"), len(pieces) - 1, "end_turn"},
		{"the whole reply", reply, 100, "", 1, "end_turn"}, // output_tokens is never 0
		{"max_tokens counts the continuation only", "sim reply", 3, " to: Hello there", 3, "max_tokens"},
		{"not a prefix of the reply", "Certainly!", 100, reply, len(pieces), "end_turn"},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				s := newTestServer(t, nil)
				pre, _ := json.Marshal(tc.prefill)
				messages := `[{"role":"user","content":"Hello there"},{"role":"assistant","content":` + string(pre) + `}]`
				text, tokens, stop := anthropicReply(t, s, stream, tc.maxTokens, messages)
				if text != tc.text || tokens != tc.tokens || stop != tc.stop {
					t.Errorf("got %q (%d tokens, %s)\nwant %q (%d tokens, %s)", text, tokens, stop, tc.text, tc.tokens, tc.stop)
				}
			})
		}
	}
}

// TestAnthropicPrefillTrailingWhitespace: the API refuses a prefill that
// ends in whitespace rather than trimming it.
func TestAnthropicPrefillTrailingWhitespace(t *testing.T) {
	s := newTestServer(t, nil)
	for _, content := range []string{`"sim reply "`, `"sim reply\n"`, `[{"type":"text","text":"sim"},{"type":"text","text":"reply\t"}]`} {
		w := serve(s, messagesCallOf(`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"Hello there"},{"role":"assistant","content":`+content+`}]}`))
		body := requestID.ReplaceAllString(w.Body.String(), `"request_id":"req_X"`)
		want := `{"type":"error","error":{"type":"invalid_request_error","message":"messages: final assistant content cannot end with trailing whitespace"},"request_id":"req_X"}`
		if w.Code != 400 || body != want {
			t.Errorf("%s: %d %s", content, w.Code, body)
		}
	}
	// Whitespace at the end of an earlier assistant turn is fine.
	w := serve(s, messagesCallOf(`{"model":"c","max_tokens":10,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b "},{"role":"user","content":"c"}]}`))
	if w.Code != 200 {
		t.Errorf("earlier assistant turn with trailing space: %d %s", w.Code, w.Body)
	}
}

// TestOpenAITrailingAssistantRegenerates: on OpenAI and Azure a final
// assistant message is history; the reply is the same as without it, so
// a regenerated answer starts with the text already sent.
func TestOpenAITrailingAssistantRegenerates(t *testing.T) {
	for _, wr := range wires[:2] {
		for _, stream := range []bool{false, true} {
			s := newTestServer(t, nil)
			without := replyText(t, serve(s, wr.call(stream, helloMessages)).Body.String(), stream)
			with := replyText(t, serve(s, wr.call(stream, prefillMessages)).Body.String(), stream)
			if !strings.HasPrefix(without, "sim reply to: Hello there") || with != without {
				t.Errorf("%s stream=%v: with a final assistant message %q, without %q", wr.name, stream, with, without)
			}
		}
	}
}

// replyText is the text of an OpenAI response or stream.
func replyText(t *testing.T, body string, stream bool) string {
	t.Helper()
	if stream {
		text, done, err := streamText(strings.NewReader(body))
		if err != nil || !done {
			t.Fatalf("stream: done %v err %v", done, err)
		}
		return text
	}
	var r struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Choices) == 0 {
		t.Fatalf("response %s: %v", body, err)
	}
	return r.Choices[0].Message.Content
}
