package translate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/llmux/llmux/internal/api/anthropic"
	"github.com/llmux/llmux/internal/api/sse"
)

// recorder is an EventWriter that keeps what it is given and can fail.
type recorder struct {
	names []string
	datas []string
	fail  error
}

func (r *recorder) Event(name string, data []byte) error {
	if r.fail != nil {
		return r.fail
	}
	r.names = append(r.names, name)
	r.datas = append(r.datas, string(data))
	return nil
}

func aev(name, data string) sse.Event { return sse.Event{Name: name, Data: []byte(data)} }
func oev(data string) sse.Event       { return sse.Event{Data: []byte(data)} }

const msgStart = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"c","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`

func TestAnthropicToOpenAIStreamLifecycle(t *testing.T) {
	var rec recorder
	s := NewAnthropicToOpenAIStream(&rec, "chat", false)
	steps := []sse.Event{
		aev("message_start", msgStart),
		aev("message_delta", `{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":3}}`),
		aev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}`),
		aev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":9,"input_tokens":6}}`),
	}
	for _, ev := range steps {
		if err := s.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	if s.Done() {
		t.Fatal("Done before message_stop")
	}
	if err := s.Event(aev("message_stop", `{"type":"message_stop"}`)); err != nil {
		t.Fatal(err)
	}
	if !s.Done() {
		t.Fatal("not Done after message_stop")
	}
	if err := s.Event(aev("message_stop", `{"type":"message_stop"}`)); err != nil {
		t.Fatal(err)
	}
	// role chunk, one finish chunk (the first stop_reason wins), [DONE]
	if len(rec.datas) != 3 || rec.datas[2] != "[DONE]" || !strings.Contains(rec.datas[1], `"finish_reason":"stop"`) {
		t.Fatalf("events = %q", rec.datas)
	}
	if strings.Contains(rec.datas[0], `"created":0`) {
		t.Error("created not stamped with the clock")
	}
	if u := s.Usage(); u.PromptTokens != 6 || u.CompletionTokens != 9 {
		t.Errorf("usage = %+v", u)
	}
}

func TestAnthropicToOpenAIStreamNoStopReason(t *testing.T) {
	var rec recorder
	s := NewAnthropicToOpenAIStream(&rec, "chat", true)
	for _, ev := range []sse.Event{aev("message_start", msgStart), aev("message_stop", `{"type":"message_stop"}`)} {
		if err := s.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.datas) != 4 || !strings.Contains(rec.datas[1], `"finish_reason":"stop"`) || !strings.Contains(rec.datas[2], `"choices":[]`) {
		t.Fatalf("events = %q", rec.datas)
	}
}

func TestAnthropicToOpenAIStreamErrors(t *testing.T) {
	tests := []struct {
		name     string
		events   []sse.Event
		upstream bool   // the error is an *UpstreamError
		wrote    string // last data written
	}{
		{"delta before start", []sse.Event{aev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`)}, false, ""},
		{"malformed", []sse.Event{aev("message_start", `{"type":`)}, false, ""},
		{"bad delta", []sse.Event{aev("message_start", msgStart), aev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":[1]}`)}, false, ""},
		{"error first", []sse.Event{aev("error", `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)}, true,
			`{"error":{"message":"slow down","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`},
		{"error without name", []sse.Event{aev("message_start", msgStart), aev("", `{"type":"error","error":{"type":"api_error","message":"boom"}}`)}, true,
			`{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`},
		{"garbage error", []sse.Event{aev("error", `not json`)}, true,
			`{"error":{"message":"The upstream provider failed while streaming the response.","type":"server_error","param":null,"code":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			s := NewAnthropicToOpenAIStream(&rec, "chat", false)
			var err error
			for _, ev := range tt.events {
				if err = s.Event(ev); err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			var ue *UpstreamError
			if errors.As(err, &ue) != tt.upstream {
				t.Fatalf("err = %v, upstream = %v", err, !tt.upstream)
			}
			if tt.wrote != "" && (len(rec.datas) == 0 || rec.datas[len(rec.datas)-1] != tt.wrote) {
				t.Errorf("wrote %q, want last %s", rec.datas, tt.wrote)
			}
			if tt.upstream {
				// Nothing more after an upstream error.
				n := len(rec.datas)
				if err := s.Event(aev("message_stop", `{"type":"message_stop"}`)); err != nil || len(rec.datas) != n || s.Done() {
					t.Errorf("events after the error were relayed")
				}
			}
		})
	}
}

func TestStreamWriteErrors(t *testing.T) {
	broken := errors.New("client gone")
	a := NewAnthropicToOpenAIStream(&recorder{fail: broken}, "chat", true)
	if err := a.Event(aev("message_start", msgStart)); !errors.Is(err, broken) {
		t.Errorf("AnthropicToOpenAIStream: err = %v, want %v", err, broken)
	}
	o := NewOpenAIToAnthropicStream(&recorder{fail: broken}, "chat", 1)
	if err := o.Event(oev(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"x"}}]}`)); !errors.Is(err, broken) {
		t.Errorf("OpenAIToAnthropicStream: err = %v, want %v", err, broken)
	}
}

func TestOpenAIToAnthropicStreamLifecycle(t *testing.T) {
	var rec recorder
	s := NewOpenAIToAnthropicStream(&rec, "chat", 100)
	if u := s.Usage(); u.InputTokens != 100 || u.OutputTokens != 0 {
		t.Errorf("usage before any chunk = %+v", u)
	}
	for _, ev := range []sse.Event{
		oev(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`),
		oev(`{"id":"chatcmpl-1","choices":[{"index":1,"delta":{"content":"other choice"},"finish_reason":null}]}`),
		oev(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`),
		oev(`{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":90,"completion_tokens":4,"total_tokens":94}}`),
	} {
		if err := s.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	if s.Done() {
		t.Fatal("Done before [DONE]")
	}
	if err := s.Event(oev("[DONE]")); err != nil {
		t.Fatal(err)
	}
	if !s.Done() {
		t.Fatal("not Done after [DONE]")
	}
	n := len(rec.names)
	if err := s.Finish(); err != nil {
		t.Fatalf("Finish after [DONE] = %v", err)
	}
	if err := s.Event(oev(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"late"}}]}`)); err != nil || len(rec.names) != n {
		t.Error("events after [DONE] were relayed")
	}
	want := []string{"message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if strings.Join(rec.names, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", rec.names, want)
	}
	if strings.Contains(strings.Join(rec.datas, ""), "other choice") {
		t.Error("choice 1 was relayed")
	}
	var md anthropic.MessageDelta
	if err := json.Unmarshal([]byte(rec.datas[5]), &md); err != nil {
		t.Fatal(err)
	}
	if *md.Delta.StopReason != "max_tokens" || md.Usage.OutputTokens != 4 || *md.Usage.InputTokens != 90 {
		t.Errorf("message_delta = %s", rec.datas[5])
	}
	if u := s.Usage(); u.InputTokens != 90 || u.OutputTokens != 4 {
		t.Errorf("usage = %+v", u)
	}
}

func TestOpenAIToAnthropicStreamEdges(t *testing.T) {
	t.Run("done only", func(t *testing.T) {
		var rec recorder
		s := NewOpenAIToAnthropicStream(&rec, "chat", 1)
		if err := s.Event(oev("[DONE]")); err != nil {
			t.Fatal(err)
		}
		want := "message_start,ping,message_delta,message_stop"
		if got := strings.Join(rec.names, ","); got != want {
			t.Errorf("events = %s, want %s", got, want)
		}
	})
	t.Run("interleaved arguments", func(t *testing.T) {
		s := NewOpenAIToAnthropicStream(&recorder{}, "chat", 1)
		for _, ev := range []sse.Event{
			oev(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":""}}]}}]}`),
			oev(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":""}}]}}]}`),
		} {
			if err := s.Event(ev); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Event(oev(`{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`))
		if err == nil {
			t.Fatal("no error for arguments of a closed tool block")
		}
	})
	t.Run("malformed chunk", func(t *testing.T) {
		s := NewOpenAIToAnthropicStream(&recorder{}, "chat", 1)
		if err := s.Event(oev(`{"choices":`)); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("error string", func(t *testing.T) {
		var rec recorder
		s := NewOpenAIToAnthropicStream(&rec, "chat", 1)
		err := s.Event(oev(`{"error":"model overloaded"}`))
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Message != "model overloaded" {
			t.Fatalf("err = %v", err)
		}
		if len(rec.names) != 1 || rec.names[0] != "error" || rec.datas[0] != `{"type":"error","error":{"type":"api_error","message":"model overloaded"}}` {
			t.Errorf("events = %v %q", rec.names, rec.datas)
		}
		if s.Finish() == nil {
			t.Error("Finish after an error without [DONE] = nil")
		}
	})
	t.Run("error null is no error", func(t *testing.T) {
		s := NewOpenAIToAnthropicStream(&recorder{}, "chat", 1)
		if err := s.Event(oev(`{"id":"x","error":null,"choices":[{"index":0,"delta":{"content":"a"}}]}`)); err != nil {
			t.Fatal(err)
		}
	})
}
