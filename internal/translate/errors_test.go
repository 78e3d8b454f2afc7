package translate

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestErrorToOpenAI(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantType string
		wantCode any // string or nil
		wantMsg  string
	}{
		{"rate limit tokens", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 40,000 input tokens per minute."},"request_id":"req_1"}`,
			"tokens", "rate_limit_exceeded", "This request would exceed the rate limit for your organization of 40,000 input tokens per minute."},
		{"rate limit requests", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"... of 50 requests per minute."}}`,
			"requests", "rate_limit_exceeded", "... of 50 requests per minute."},
		{"spend cap", 429, `{"type":"error","error":{"type":"rate_limit_error","message":"You will regain access on 2026-09-01 at 00:00 UTC.","details":{"error_code":"enforced_spend_limit_reached"}}}`,
			"insufficient_quota", "insufficient_quota", "You will regain access on 2026-09-01 at 00:00 UTC."},
		{"overloaded", 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			"server_error", nil, "Overloaded"},
		{"auth", 401, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
			"invalid_request_error", "invalid_api_key", "invalid x-api-key"},
		{"prompt too long", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`,
			"invalid_request_error", "context_length_exceeded", "prompt is too long: 210000 tokens > 200000 maximum"},
		{"not found", 404, `{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}`,
			"invalid_request_error", nil, "model: claude-x"},
		{"unknown type uses status", 503, `{"type":"error","error":{"type":"brand_new_error","message":"x"}}`,
			"server_error", nil, "x"},
		{"garbage", 502, `<html>Bad Gateway</html>`,
			"server_error", nil, "The upstream provider returned HTTP 502 with an unreadable error body."},
		{"empty", 400, ``, "invalid_request_error", nil, "The upstream provider returned HTTP 400 with an unreadable error body."},
		{"error string", 500, `{"error":"boom"}`, "server_error", nil, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				Error struct {
					Message string `json:"message"`
					Type    string `json:"type"`
					Param   any    `json:"param"`
					Code    any    `json:"code"`
				} `json:"error"`
			}
			out := ErrorToOpenAI(tt.status, []byte(tt.body))
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output %s: %v", out, err)
			}
			e := got.Error
			if e.Type != tt.wantType || e.Code != tt.wantCode || e.Message != tt.wantMsg || e.Param != nil {
				t.Errorf("ErrorToOpenAI = %s, want type %q code %v message %q", out, tt.wantType, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestErrorToAnthropic(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		wantType string
		wantMsg  string
	}{
		{"openai rate limit", 429, `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			"rate_limit_error", "Rate limit reached for gpt-4o-mini"},
		{"azure 429", 429, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 6 seconds."}}`,
			"rate_limit_error", "Requests to the ChatCompletions_Create Operation have exceeded token rate limit. Please retry after 6 seconds."},
		{"azure content filter", 400, `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`,
			"invalid_request_error", "The response was filtered"},
		{"quota", 429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			"rate_limit_error", "You exceeded your current quota"},
		{"auth", 401, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			"authentication_error", "Incorrect API key provided"},
		{"server", 500, `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`,
			"api_error", "The server had an error"},
		{"overloaded 503", 503, `{"error":{"message":"The engine is currently overloaded","type":"server_error"}}`,
			"api_error", "The engine is currently overloaded"},
		{"numeric code", 404, `{"error":{"message":"no such model","code":404}}`, "not_found_error", "no such model"},
		{"compatible detail", 422, `{"detail":"field required"}`, "invalid_request_error", "field required"},
		{"compatible error string", 500, `{"error":"model crashed"}`, "api_error", "model crashed"},
		{"garbage", 502, `upstream connect error`, "api_error", "The upstream provider returned HTTP 502 with an unreadable error body."},
		{"empty", 429, ``, "rate_limit_error", "The upstream provider returned HTTP 429 with an unreadable error body."},
		{"json but no message", 500, `{"foo":1}`, "api_error", "The upstream provider returned HTTP 500 with an unreadable error body."},
		{"mid-stream quota", 0, `{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}`, "billing_error", "quota"},
		{"mid-stream rate", 0, `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`, "rate_limit_error", "slow down"},
		{"mid-stream unknown", 0, `{"error":{"message":"?"}}`, "api_error", "?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			out := ErrorToAnthropic(tt.status, []byte(tt.body))
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output %s: %v", out, err)
			}
			if got.Type != "error" || got.Error.Type != tt.wantType || got.Error.Message != tt.wantMsg {
				t.Errorf("ErrorToAnthropic = %s, want type %q message %q", out, tt.wantType, tt.wantMsg)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	var err error = errorf("messages[1].content", "bad %s", "thing")
	var te *Error
	if !errors.As(err, &te) || te.Param != "messages[1].content" || te.Message != "bad thing" {
		t.Fatalf("errors.As = %+v", te)
	}
	if got, want := err.Error(), "translate: messages[1].content: bad thing"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Message: "empty"}).Error(), "translate: empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
