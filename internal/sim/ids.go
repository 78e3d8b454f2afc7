package sim

import "fmt"

const (
	hexDigits    = "0123456789abcdef"
	base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// randString draws n characters of alphabet from the server's seeded source.
func (s *Server) randString(alphabet string, n int) string {
	b := make([]byte, n)
	s.rngMu.Lock()
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	s.rngMu.Unlock()
	return string(b)
}

// float64 draws a uniform number in [0, 1).
func (s *Server) float64() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64()
}

// normal draws a standard normal number.
func (s *Server) normal() float64 {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.NormFloat64()
}

// uuid draws a random version-4 UUID, the shape of Azure's apim-request-id
// and Anthropic's organization id.
func (s *Server) uuid() string {
	h := s.randString(hexDigits, 32)
	return fmt.Sprintf("%s-%s-4%s-a%s-%s", h[:8], h[8:12], h[13:16], h[17:20], h[20:])
}

// Ids in the providers' formats (lengths as observed in real responses).
func (s *Server) chatID() string    { return "chatcmpl-" + s.randString(base62Digits, 29) }
func (s *Server) callID() string    { return "call_" + s.randString(base62Digits, 24) }
func (s *Server) messageID() string { return "msg_01" + s.randString(base62Digits, 22) }
func (s *Server) toolUseID() string { return "toolu_01" + s.randString(base62Digits, 22) }

// requestID returns the request id header value for a provider.
func (s *Server) requestID(provider string) string {
	switch provider {
	case ProviderAnthropic:
		return "req_011C" + s.randString(base62Digits, 20)
	case ProviderAzure:
		return s.uuid()
	}
	return "req_" + s.randString(hexDigits, 32)
}
