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

// Fault kinds.
const (
	FaultStatus         = "status"           // answer Status with the provider's error body
	FaultReset          = "reset"            // close the connection (mid-stream after AfterTokens)
	FaultStall          = "stall"            // stop sending after AfterTokens for Delay (0: until the client gives up)
	FaultSlowFirstToken = "slow_first_token" // add Delay before the first byte
	FaultGarbage        = "garbage"          // 200 with a body that is not valid JSON or SSE
)

// Fault is an injected failure. For each request the server walks the
// fault set in order and applies the first fault whose Key matches (empty
// Key matches every key) and whose draw succeeds with probability Rate
// (0 means 1: always). Delay is multiplied by Config.TimeScale like every
// other delay. In JSON (PUT /sim/faults) delay is a Go duration string
// such as "2s".
type Fault struct {
	Kind        string        `json:"kind"`
	Status      int           `json:"status,omitempty"`
	Rate        float64       `json:"rate,omitempty"`
	Key         string        `json:"key,omitempty"`
	AfterTokens int           `json:"after_tokens,omitempty"`
	Delay       time.Duration `json:"-"`
}

type faultJSON struct {
	Kind        string  `json:"kind"`
	Status      int     `json:"status,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	Key         string  `json:"key,omitempty"`
	AfterTokens int     `json:"after_tokens,omitempty"`
	Delay       string  `json:"delay,omitempty"`
}

// MarshalJSON writes delay as a duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{f.Kind, f.Status, f.Rate, f.Key, f.AfterTokens, ""}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads delay as a duration string; unknown fields fail.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	*f = Fault{Kind: j.Kind, Status: j.Status, Rate: j.Rate, Key: j.Key, AfterTokens: j.AfterTokens}
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("delay: %w", err)
		}
		f.Delay = d
	}
	return nil
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
		case FaultReset, FaultStall, FaultSlowFirstToken, FaultGarbage:
		default:
			errs = append(errs, fmt.Errorf("%s.kind: unknown fault kind %q (want status, reset, stall, slow_first_token or garbage)", field, f.Kind))
		}
		if f.Rate < 0 || f.Rate > 1 || math.IsNaN(f.Rate) {
			errs = append(errs, fmt.Errorf("%s.rate: %v is not a probability in [0, 1]", field, f.Rate))
		}
		if f.Key != "" && !known[f.Key] {
			errs = append(errs, fmt.Errorf("%s.key: not a configured key", field))
		}
		if f.AfterTokens < 0 || f.Delay < 0 {
			errs = append(errs, fmt.Errorf("%s: after_tokens and delay must not be negative", field))
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

// SetFaults replaces the fault set. Invalid faults are dropped silently
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
	s.faultMu.Lock()
	s.faults = f
	s.faultMu.Unlock()
}

func (s *Server) currentFaults() []Fault {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	return append([]Fault(nil), s.faults...)
}

// pickFault returns the fault to apply to a request with key, or nil. It
// draws from the seeded source only for faults that match the key, so a
// run without faults consumes no randomness here.
func (s *Server) pickFault(key string) *Fault {
	s.faultMu.RLock()
	defer s.faultMu.RUnlock()
	for i := range s.faults {
		f := s.faults[i]
		if f.Key != "" && f.Key != key {
			continue
		}
		if f.Rate >= 1 || s.float64() < f.Rate {
			return &f
		}
	}
	return nil
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
