package openai

import (
	"encoding/json"
	"testing"
)

// Decoded shapes re-encode the way they came in.
func TestShapesRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		v    func() any
	}{
		{"null content", `{"role":"assistant","content":null}`, func() any { return &Message{} }},
		{"string content", `{"role":"user","content":"hi"}`, func() any { return &Message{} }},
		{"parts content", `{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}`, func() any { return &Message{} }},
		{"stop string", `{"model":"m","messages":[],"stop":"x"}`, func() any { return &ChatRequest{} }},
		{"stop list", `{"model":"m","messages":[],"stop":["x","y"]}`, func() any { return &ChatRequest{} }},
		{"embedding string", `{"model":"m","input":"a"}`, func() any { return &EmbeddingRequest{} }},
		{"embedding strings", `{"model":"m","input":["a","b"]}`, func() any { return &EmbeddingRequest{} }},
		{"embedding tokens", `{"model":"m","input":[1,2,3]}`, func() any { return &EmbeddingRequest{} }},
		{"embedding token lists", `{"model":"m","input":[[1],[2,3]]}`, func() any { return &EmbeddingRequest{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v()
			if err := json.Unmarshal([]byte(tt.in), v); err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.in {
				t.Fatalf("round trip\n got %s\nwant %s", out, tt.in)
			}
		})
	}
}

func TestBadShapes(t *testing.T) {
	for _, in := range []string{
		`{"role":"user","content":42}`,
		`{"role":"user","content":{"a":1}}`,
	} {
		var m Message
		if err := json.Unmarshal([]byte(in), &m); err == nil {
			t.Errorf("%s decoded without error", in)
		}
	}
	var r ChatRequest
	if err := json.Unmarshal([]byte(`{"stop":7}`), &r); err == nil {
		t.Error("numeric stop accepted")
	}
	var e EmbeddingRequest
	if err := json.Unmarshal([]byte(`{"input":{"a":1}}`), &e); err == nil {
		t.Error("object input accepted")
	}
}

func TestContentString(t *testing.T) {
	var m Message
	json.Unmarshal([]byte(`{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"u"}},{"type":"text","text":"b"}]}`), &m)
	if got := m.Content.String(); got != "ab" {
		t.Fatalf("String() = %q, want ab", got)
	}
}

func FuzzChatRequestDecode(f *testing.F) {
	f.Add(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a"]}`)
	f.Add(`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}`)
	f.Add(`{"messages":[{"content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		var r ChatRequest
		if json.Unmarshal([]byte(in), &r) != nil {
			return
		}
		out, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode: %v", in, err)
		}
		var again ChatRequest
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded body does not decode: %v\n%s", err, out)
		}
	})
}
