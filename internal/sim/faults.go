package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Fault kinds. doc.go and docs/simulator.md give each one's wire
// behaviour per provider.
const (
	FaultStatus             = "status"               // answer Status with the provider's error body
	FaultReset              = "reset"                // close the connection (mid-stream after AfterTokens)
	FaultResetBeforeHeaders = "reset_before_headers" // close the connection before any response byte
	FaultNoResponse         = "no_response"          // send nothing until Delay passes or the client gives up, then close
	FaultStall              = "stall"                // stop sending after AfterTokens for Delay (0: until the client gives up)
	FaultSlowFirstToken     = "slow_first_token"     // add Delay before the first byte
	FaultGarbage            = "garbage"              // 200 with a body that is not valid JSON or SSE
	FaultMalformedEvent     = "malformed_event"      // streams: one event of truncated JSON after AfterTokens, then the rest
	FaultNoDone             = "no_done"              // streams: end cleanly without data: [DONE] / message_stop
	FaultContextLength      = "context_length"       // 400 context length exceeded
	FaultContentFilter      = "content_filter"       // OpenAI/Azure 400 content_filter; Anthropic stop_reason refusal
	FaultPrefillRejected    = "prefill_rejected"     // 400 for a conversation ending with an assistant message
	FaultFlapping           = "flapping"             // 503 and healthy in alternating periods of Delay
)

// faultKinds lists the kinds for error messages.
const faultKinds = "status, reset, reset_before_headers, no_response, stall, slow_first_token, garbage, " +
	"malformed_event, no_done, context_length, content_filter, prefill_rejected or flapping"

// Fault is an injected failure. For each request the server walks the
// fault set in order and applies the first fault that matches it and
// whose draw succeeds with probability Rate (0 means 1: always).
//
// A fault matches a request when Key is empty or the request's key, Model
// is empty or the request's model (on Azure the deployment name: the path
// segment of classic routes, the body's model on v1 routes), it has been
// applied fewer than Times times (0: no limit), and it would change the
// request: malformed_event and no_done match only streams,
// prefill_rejected only conversations ending with an assistant message,
// content_filter only chat requests, flapping only during its failing
// periods. A fault that does not match leaves the request to the next.
//
// Delay is multiplied by Config.TimeScale like every other delay. In JSON
// (PUT /sim/faults) delay and retry_after are Go duration strings such as
// "2s".
type Fault struct {
	Kind   string
	Status int // for status; default 500
	Rate   float64
	Key    string
	// Model restricts the fault to requests for one model (Azure: one
	// deployment name).
	Model string
	// Times is how many requests the fault is applied to before it
	// retires; 0 means no limit. {Kind: status, Status: 500, Times: 1}
	// is "500 once".
	Times int
	// AfterTokens is where a stream is reset, stalls or gets the
	// malformed event; for content_filter on Anthropic, how many tokens
	// come before the refusal.
	AfterTokens int
	// Delay is the stall, slow first token, no_response wait (0: until
	// the client gives up) or the length of each flapping period.
	Delay time.Duration
	// RetryAfter, for status faults, is sent as retry-after in whole
	// seconds (rounded up) and, on OpenAI and Azure, as retry-after-ms.
	// 0 sends neither header.
	RetryAfter time.Duration
}

type faultJSON struct {
	Kind        string  `json:"kind"`
	Status      int     `json:"status,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	Key         string  `json:"key,omitempty"`
	Model       string  `json:"model,omitempty"`
	Times       int     `json:"times,omitempty"`
	AfterTokens int     `json:"after_tokens,omitempty"`
	Delay       string  `json:"delay,omitempty"`
	RetryAfter  string  `json:"retry_after,omitempty"`
}

// MarshalJSON writes delay and retry_after as duration strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Kind: f.Kind, Status: f.Status, Rate: f.Rate, Key: f.Key, Model: f.Model,
		Times: f.Times, AfterTokens: f.AfterTokens}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	if f.RetryAfter != 0 {
		j.RetryAfter = f.RetryAfter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads delay and retry_after as duration strings; unknown
// fields fail.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	*f = Fault{Kind: j.Kind, Status: j.Status, Rate: j.Rate, Key: j.Key, Model: j.Model,
		Times: j.Times, AfterTokens: j.AfterTokens}
	var err error
	if f.Delay, err = parseDuration(j.Delay); err != nil {
		return fmt.Errorf("delay: %w", err)
	}
	if f.RetryAfter, err = parseDuration(j.RetryAfter); err != nil {
		return fmt.Errorf("retry_after: %w", err)
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func validateFaults(faults []Fault, keys []Key) []error {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[k.Key] = true
	}
	var errs []error
	for i, f := range faults {
		field := fmt.Sprintf("faults[%d]", i)
		switch f.Kind {
		case FaultStatus:
			if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
				errs = append(errs, fmt.Errorf("%s.status: %d is not an error status (400-599)", field, f.Status))
			}
		case FaultFlapping:
			if f.Delay <= 0 {
				errs = append(errs, fmt.Errorf("%s.delay: required for kind flapping: the length of each failing and healthy period", field))
			}
		case FaultReset, FaultResetBeforeHeaders, FaultNoResponse, FaultStall, FaultSlowFirstToken, FaultGarbage,
			FaultMalformedEvent, FaultNoDone, FaultContextLength, FaultContentFilter, FaultPrefillRejected:
		default:
			errs = append(errs, fmt.Errorf("%s.kind: unknown fault kind %q (want %s)", field, f.Kind, faultKinds))
		}
		if f.Rate < 0 || f.Rate > 1 || math.IsNaN(f.Rate) {
			errs = append(errs, fmt.Errorf("%s.rate: %v is not a probability in [0, 1]", field, f.Rate))
		}
		if f.Key != "" && !known[f.Key] {
			errs = append(errs, fmt.Errorf("%s.key: not a configured key", field))
		}
		if f.AfterTokens < 0 || f.Delay < 0 || f.Times < 0 || f.RetryAfter < 0 {
			errs = append(errs, fmt.Errorf("%s: after_tokens, delay, times and retry_after must not be negative", field))
		}
		if f.RetryAfter != 0 && f.Kind != FaultStatus {
			errs = append(errs, fmt.Errorf("%s.retry_after: only used by kind status", field))
		}
	}
	return errs
}

// normalizeFaults copies faults with defaults filled in.
func normalizeFaults(faults []Fault) []Fault {
	out := make([]Fault, len(faults))
	for i, f := range faults {
		if f.Kind == FaultStatus && f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Rate == 0 {
			f.Rate = 1
		}
		out[i] = f
	}
	return out
}

// faultState is an installed fault with what matching it remembers.
type faultState struct {
	Fault
	used  int       // requests it was applied to, for Times
	since time.Time // when it was installed: flapping periods start here
}

// faultReq is what fault matching looks at in a request.
type faultReq struct {
	key, model string
	stream     bool
	chat       bool // chat completions or messages (not embeddings)
	prefill    bool // the conversation ends with an assistant message
	prompt     int  // prompt token estimate, for context_length
}

// SetFaults replaces the fault set, resetting every Times count and
// starting flapping periods now. Invalid faults are dropped silently
// here; use PUT /sim/faults or New to have them reported.
func (s *Server) SetFaults(f []Fault) {
	var ok []Fault
	for _, x := range f {
		if len(validateFaults([]Fault{x}, s.cfg.Keys)) == 0 {
			ok = append(ok, x)
		}
	}
	s.setFaults(normalizeFaults(ok))
}

func (s *Server) setFaults(f []Fault) {
	now := s.now()
	states := make([]*faultState, len(f))
	for i := range f {
		states[i] = &faultState{Fault: f[i], since: now}
	}
	s.faultMu.Lock()
	s.faults = states
	s.faultMu.Unlock()
}

func (s *Server) currentFaults() []Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	out := make([]Fault, len(s.faults))
	for i, st := range s.faults {
		out[i] = st.Fault
	}
	return out
}

// pickFault returns the fault to apply to r, or nil, and counts it
// against the fault's Times. It draws from the seeded source only for
// faults that match r, so a run without faults consumes no randomness
// here.
func (s *Server) pickFault(r faultReq) *Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, st := range s.faults {
		if !s.matches(st, r) {
			continue
		}
		if st.Rate >= 1 || s.float64() < st.Rate {
			st.used++
			f := st.Fault
			return &f
		}
	}
	return nil
}

// matches reports whether st applies to r, Rate aside.
func (s *Server) matches(st *faultState, r faultReq) bool {
	switch {
	case st.Key != "" && st.Key != r.key,
		st.Model != "" && st.Model != r.model,
		st.Times > 0 && st.used >= st.Times:
		return false
	}
	switch st.Kind {
	case FaultMalformedEvent, FaultNoDone:
		return r.stream
	case FaultPrefillRejected:
		return r.prefill
	case FaultContentFilter:
		return r.chat
	case FaultFlapping:
		return s.flappingFails(st)
	}
	return true
}

// flappingFails reports whether a flapping fault is in a failing period:
// periods of Delay (times TimeScale) alternate on the server's clock,
// failing first, from when the fault was installed. With TimeScale 0
// (no delays) the period is Delay itself: a zero period means nothing.
func (s *Server) flappingFails(st *faultState) bool {
	period := st.Delay
	if s.lat.scale > 0 {
		period = s.scaled(period)
	}
	if period <= 0 {
		return true
	}
	elapsed := max(0, s.now().Sub(st.since))
	return (elapsed/period)%2 == 0
}

// checkFaults validates faults set through the admin API.
func (s *Server) checkFaults(f []Fault) error {
	return errors.Join(validateFaults(f, s.cfg.Keys)...)
}

// strictUnmarshal decodes JSON rejecting unknown fields and trailing data.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
