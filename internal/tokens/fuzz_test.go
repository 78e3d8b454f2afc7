package tokens

import (
	"encoding/json"
	"testing"
)

// The fuzzers check that no body panics, that only valid JSON is ever
// accepted, and that accepted bodies give sane estimates.

var chatSeeds = []string{
	`{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","name":"ann","content":"Hi \u00e9\ud83d\ude00 \"q\"\n"}],"max_tokens":100,"n":2}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==","detail":"high"}}]}],"max_completion_tokens":50}`,
	`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},{"role":"tool","tool_call_id":"call_1","content":"42"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}}}`,
	`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},{"type":"file","file":{"file_data":"JVBERi0=","filename":"a.pdf"}}]}],"stream":true}`,
}

var messagesSeeds = []string{
	`{"model":"claude-sonnet-4-5","max_tokens":1024,"system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"What's the weather in SF?"},{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_01T1x1","name":"get_weather","input":{"location":"San Francisco, CA"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01T1x1","content":"15C, fog","is_error":false},{"type":"text","text":"And tomorrow?"}]}],"tools":[{"name":"get_weather","description":"...","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":false},"metadata":{"user_id":"hash-123"}}`,
	`{"max_tokens":5,"system":"sys","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0lGODlhAQABAAAAACw="}},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"chunk"}]}}]}]}`,
	`{"max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"redacted_thinking","data":"QUJD"}]}],"tools":[{"type":"bash_20250124","name":"bash"}]}`,
}

var embeddingsSeeds = []string{
	`{"model":"text-embedding-3-small","input":"The food was delicious."}`,
	`{"input":["a","b\u00e9"],"encoding_format":"base64"}`,
	`{"input":[1,2,3]}`,
	`{"input":[[1,2],[3]],"dimensions":256}`,
}

func fuzzEstimate(f *testing.F, seeds []string, estimate func(e *Estimator, body []byte) (Estimate, error), minInput int) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := NewEstimator()
	f.Fuzz(func(t *testing.T, body []byte) {
		est, err := estimate(e, body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q: %+v", body, est)
		}
		if est.Input < minInput || est.Output < 0 {
			t.Fatalf("estimate %+v for %q", est, body)
		}
	})
}

func FuzzOpenAIChat(f *testing.F) {
	fuzzEstimate(f, chatSeeds, func(e *Estimator, body []byte) (Estimate, error) {
		return e.OpenAIChat(body, "gpt-4o", 4096)
	}, replyPriming)
}

func FuzzAnthropicMessages(f *testing.F) {
	fuzzEstimate(f, messagesSeeds, func(e *Estimator, body []byte) (Estimate, error) {
		return e.AnthropicMessages(body, "claude-sonnet-4-5")
	}, replyPriming)
}

func FuzzEmbeddings(f *testing.F) {
	fuzzEstimate(f, embeddingsSeeds, func(e *Estimator, body []byte) (Estimate, error) {
		return e.Embeddings(body, "text-embedding-3-small")
	}, 0)
}

// TestSeedsAccepted keeps the seeds meaningful: each must estimate without
// error.
func TestSeedsAccepted(t *testing.T) {
	e := NewEstimator()
	for _, s := range chatSeeds {
		if _, err := e.OpenAIChat([]byte(s), "gpt-4o", 1); err != nil {
			t.Errorf("chat seed %.60s: %v", s, err)
		}
	}
	for _, s := range messagesSeeds {
		if _, err := e.AnthropicMessages([]byte(s), "claude"); err != nil {
			t.Errorf("messages seed %.60s: %v", s, err)
		}
	}
	for _, s := range embeddingsSeeds {
		if _, err := e.Embeddings([]byte(s), "text-embedding-3-small"); err != nil {
			t.Errorf("embeddings seed %.60s: %v", s, err)
		}
	}
}
