package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Class says what a caller may do after a failure.
type Class int

// Failure classes.
const (
	// ClassRetryable: try another deployment (5xx, 529, 408, 409, timeouts,
	// resets, garbage).
	ClassRetryable Class = iota
	// ClassRateLimited: this deployment is over a limit; cool it down for
	// RetryAfter and try another.
	ClassRateLimited
	// ClassAccount: this account cannot serve (bad key, no quota, unknown
	// deployment); cool it down for long and try another. Never shown to the
	// client as its own fault.
	ClassAccount
	// ClassClient: the request itself is wrong (400, 413, 422); return the
	// upstream's error to the client unchanged.
	ClassClient
)

func (c Class) String() string {
	switch c {
	case ClassRetryable:
		return "retryable"
	case ClassRateLimited:
		return "rate_limited"
	case ClassAccount:
		return "account"
	case ClassClient:
		return "client"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a failed upstream call.
type Error struct {
	Account string
	Class   Class
	// Status is the upstream HTTP status; 0 for transport failures.
	Status int
	// Format is the wire format of Body.
	Format Format
	// Body is the upstream error body (at most maxErrorBody bytes).
	Body []byte
	// Code is the provider's error code or type, when the body had one.
	Code string
	// Limits and RetryAfter come from the response headers.
	Limits     Limits
	RetryAfter time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("upstream %s: %v", e.Account, e.Err)
	case e.Code != "":
		return fmt.Sprintf("upstream %s: status %d (%s)", e.Account, e.Status, e.Code)
	}
	return fmt.Sprintf("upstream %s: status %d", e.Account, e.Status)
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether another deployment may serve the request.
func (e *Error) Retryable() bool { return e.Class != ClassClient }

type errUnsupported string

func (e errUnsupported) Error() string { return string(e) }

const maxErrorBody = 64 << 10

// transportError classifies a failure to get a response at all.
func transportError(account string, err error) *Error {
	e := &Error{Account: account, Class: ClassRetryable, Err: err}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody to retry for.
		e.Class = ClassClient
	}
	return e
}

// statusError reads and classifies a non-2xx response.
func statusError(account string, f Format, resp *http.Response, limits Limits) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	e := &Error{
		Account:    account,
		Status:     resp.StatusCode,
		Format:     f,
		Body:       body,
		Code:       errorCode(body),
		Limits:     limits,
		RetryAfter: limits.RetryAfter,
	}
	e.Class = classify(e.Status, e.Code, resp.Header.Get("x-should-retry"))
	return e
}

// classify maps a status and error code to a Class. Billing and quota 429s
// are account failures, not rate limits: waiting does not help
// (providers.md §1.6, §4.5).
func classify(status int, code, shouldRetry string) Class {
	switch {
	case status == http.StatusTooManyRequests:
		switch code {
		case "insufficient_quota", "billing_hard_limit_reached", "enforced_spend_limit_reached":
			return ClassAccount
		}
		return ClassRateLimited
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusPaymentRequired, status == http.StatusNotFound:
		return ClassAccount
	case status == http.StatusRequestTimeout, status == http.StatusConflict, status >= 500:
		return ClassRetryable
	}
	if shouldRetry == "true" {
		return ClassRetryable
	}
	return ClassClient
}

// errorCode pulls the code out of any of the three error shapes:
// OpenAI {"error":{"code":..,"type":..}}, Azure {"error":{"code":"429"}},
// Anthropic {"type":"error","error":{"type":..,"details":{"error_code":..}}}.
func errorCode(body []byte) string {
	var env struct {
		Error struct {
			Code    json.RawMessage `json:"code"`
			Type    string          `json:"type"`
			Details struct {
				ErrorCode string `json:"error_code"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return ""
	}
	if env.Error.Details.ErrorCode != "" {
		return env.Error.Details.ErrorCode
	}
	var code string
	if json.Unmarshal(env.Error.Code, &code) == nil && code != "" {
		return code
	}
	if len(env.Error.Code) > 0 && !bytes.Equal(env.Error.Code, []byte("null")) {
		return strings.Trim(string(env.Error.Code), `"`)
	}
	return env.Error.Type
}

// IsTimeout reports whether err is a timeout of any kind.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// IsReset reports whether err is a connection reset or an unexpected EOF.
func IsReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
