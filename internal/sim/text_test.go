package sim

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func TestGenerateText(t *testing.T) {
	tests := []struct {
		name       string
		t          turn
		wantText   string // prefix
		wantFinish string
		wantTokens int // 0: don't check
	}{
		{"echo", turn{seed: "Hello there", maxTokens: noLimit}, "sim reply to: Hello there", finishStop, 0},
		{"max tokens", turn{seed: "Hello there", maxTokens: 3}, "sim reply to:", finishLength, 3},
		{"zero max tokens", turn{seed: "Hello there", maxTokens: 0}, "", finishLength, 0},
		{"stop sequence", turn{seed: "Hello there", maxTokens: noLimit, stops: []string{"there", "reply"}}, "sim ", finishStopSeq, 2},
		{"stop beyond max tokens", turn{seed: "Hello there", maxTokens: 3, stops: []string{"there"}}, "sim reply to:", finishLength, 3},
		{"empty stop ignored", turn{seed: "Hello there", maxTokens: noLimit, stops: []string{""}}, "sim reply", finishStop, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := generate(tc.t, 0)
			if !strings.HasPrefix(o.text(), tc.wantText) || o.finish != tc.wantFinish {
				t.Errorf("got %q (%s), want prefix %q (%s)", o.text(), o.finish, tc.wantText, tc.wantFinish)
			}
			if tc.wantTokens != 0 && o.outputTokens() != tc.wantTokens {
				t.Errorf("%d tokens, want %d", o.outputTokens(), tc.wantTokens)
			}
			if n := len(generate(turn{seed: tc.t.seed, maxTokens: noLimit}, 0).pieces); n < 5 || n > 60 {
				t.Errorf("unbounded reply has %d tokens, want 5..60", n)
			}
		})
	}
	if generate(turn{seed: "same", maxTokens: noLimit}, 0).text() != generate(turn{seed: "same", maxTokens: noLimit}, 0).text() {
		t.Error("same prompt, different reply")
	}
}

func TestPlanCalls(t *testing.T) {
	tools := []toolSpec{{name: "a", schema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`)}, {name: "b"}}
	tests := []struct {
		name string
		t    turn
		want []string
	}{
		{"first tool", turn{seed: "go", tools: tools, choice: toolChoice{mode: "auto"}, parallel: true}, []string{"a"}},
		{"forced", turn{seed: "go", tools: tools, choice: toolChoice{mode: "forced", name: "b"}}, []string{"b"}},
		{"none", turn{seed: "go", tools: tools, choice: toolChoice{mode: "none"}}, nil},
		{"after tool result", turn{seed: "go", tools: tools, choice: toolChoice{mode: "auto"}, toolResult: true}, nil},
		{"parallel", turn{seed: "do both in Parallel", tools: tools, choice: toolChoice{mode: "required"}, parallel: true}, []string{"a", "b"}},
		{"parallel disabled", turn{seed: "do both in parallel", tools: tools, choice: toolChoice{mode: "auto"}}, []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range planCalls(tc.t) {
				got = append(got, c.name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("calls %v, want %v", got, tc.want)
			}
		})
	}
}

func TestArgsFor(t *testing.T) {
	tests := []struct{ schema, want string }{
		{``, `{}`},
		{`not json`, `{}`},
		{`{"type":"object","properties":{}}`, `{}`},
		{`{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"number"},"i":{"type":"integer"},"b":{"type":"boolean"}},"required":["s","n","i","b"]}`, `{"s":"sim","n":1,"i":1,"b":true}`},
		{`{"properties":{"e":{"enum":["x","y"]},"c":{"const":5},"opt":{"type":"string"}},"required":["e","c"]}`, `{"e":"x","c":5}`},
		{`{"type":"object","properties":{"l":{"type":"array","items":{"type":"string"}},"o":{"type":"object","properties":{"z":{"type":["null","integer"]}},"required":["z"]}},"required":["l","o"]}`, `{"l":["sim"],"o":{"z":1}}`},
		{`{"type":"object","required":["missing"]}`, `{"missing":"sim"}`},
	}
	for _, tc := range tests {
		if got := argsFor(json.RawMessage(tc.schema)); got != tc.want {
			t.Errorf("argsFor(%s) = %s, want %s", tc.schema, got, tc.want)
		}
	}
}

func TestConcurrentRequestsShareOneBucket(t *testing.T) {
	s, _ := limitServer(t, Key{Key: "sk-rpm-twenty-0000", Provider: ProviderOpenAI, RPM: 20})
	c := call{path: "/v1/chat/completions", header: map[string]string{"Authorization": "Bearer sk-rpm-twenty-0000"}, body: limitedChat}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { serve(s, c) })
	}
	wg.Wait()
	st := s.Stats().Keys["sk-rpm-twenty-0000"]
	if st.OK != 20 || st.RateLimited != 30 || st.Requests != 50 {
		t.Errorf("50 concurrent requests on RPM 20: %+v", st)
	}
}
