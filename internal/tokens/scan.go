package tokens

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalidBody is wrapped by every error about a request body that is
// not valid JSON or has a field of the wrong shape.
var ErrInvalidBody = errors.New("invalid request body")

// maxDepth bounds nesting, as encoding/json does, so a hostile body cannot
// recurse without limit.
const maxDepth = 10000

// scanner reads JSON from a byte slice in place, validating as it goes.
// It never decodes into values: callers visit the parts they count and
// skip the rest, which is what keeps the estimate cheap (no allocation for
// well-formed bodies without escaped keys).
type scanner struct {
	b     []byte
	i     int
	depth int
}

// errorf returns an error at the current offset wrapping ErrInvalidBody.
func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalidBody, s.i, fmt.Sprintf(format, args...))
}

// ws skips whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() error {
	if s.peek() != 0 || s.i < len(s.b) {
		return s.errorf("data after the top-level value")
	}
	return nil
}

// str reads a string and returns the raw bytes between its quotes, escapes
// validated but not decoded.
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.errorf("expected a string")
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], nil
		case c == '\\':
			if err := s.escape(); err != nil {
				return nil, err
			}
		case c < 0x20:
			return nil, s.errorf("control character in string")
		default:
			s.i++
		}
	}
	return nil, s.errorf("unterminated string")
}

// escape validates the escape at s.i and moves past it.
func (s *scanner) escape() error {
	if s.i+1 >= len(s.b) {
		return s.errorf("unterminated string")
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return nil
	case 'u':
		if _, ok := hex4(s.b[s.i:]); !ok {
			return s.errorf("invalid \\u escape")
		}
		s.i += 6
		return nil
	}
	return s.errorf("invalid escape")
}

// object visits each member of an object: fn gets the key (unescaped) and
// must consume the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if s.peek() != '{' {
		return s.errorf("expected an object")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		key, err := s.key()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return s.errorf("expected ':' after object key")
		}
		s.i++
		if err := fn(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.errorf("expected ',' or '}' in object")
		}
	}
}

// key reads an object key. Keys with escapes are decoded (allocating) so
// "\u0063ontent" still matches "content", as in encoding/json.
func (s *scanner) key() ([]byte, error) {
	start := s.i
	raw, err := s.str()
	if err != nil {
		return nil, err
	}
	for _, c := range raw {
		if c == '\\' {
			var k string
			if err := json.Unmarshal(s.b[start:s.i], &k); err != nil {
				return nil, s.errorf("invalid key: %v", err)
			}
			return []byte(k), nil
		}
	}
	return raw, nil
}

// array visits each element of an array: fn must consume it.
func (s *scanner) array(fn func() error) error {
	if s.peek() != '[' {
		return s.errorf("expected an array")
	}
	if err := s.enter(); err != nil {
		return err
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.errorf("expected ',' or ']' in array")
		}
	}
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxDepth {
		return s.errorf("nesting deeper than %d", maxDepth)
	}
	return nil
}

// null consumes a null and reports whether there was one.
func (s *scanner) null() bool {
	if s.peek() == 'n' && s.literal("null") == nil {
		return true
	}
	return false
}

// literal consumes the literal lit (true, false, null).
func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// skip consumes any value.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := s.number()
		return err
	case c == 0:
		return s.errorf("unexpected end of input")
	default:
		return s.errorf("unexpected character %q", c)
	}
}

// raw consumes any value and returns its bytes.
func (s *scanner) raw() ([]byte, error) {
	s.ws()
	start := s.i
	if err := s.skip(); err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

// maxInt bounds the integers the estimator reads (token counts, n): far
// above any real value, low enough that products cannot overflow.
const maxInt = 1 << 31

// number consumes a JSON number and returns its value when it is an
// integer in [0, maxInt]; ok is false for other valid numbers.
func (s *scanner) number() (v int, ok bool, err error) {
	s.ws()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	ok = !neg
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			if v = v*10 + int(s.b[s.i]-'0'); v > maxInt {
				ok, v = false, maxInt
			}
			s.i++
		}
	default:
		return 0, false, s.errorf("invalid number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		ok = false
		if !s.digits() {
			return 0, false, s.errorf("invalid number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		ok = false
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return 0, false, s.errorf("invalid number")
		}
	}
	if !ok {
		v = 0
	}
	return v, ok, nil
}

// digits consumes one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// count reads a non-negative integer field such as max_tokens or n; null
// reads as absent (set false).
func (s *scanner) count(field string) (v int, set bool, err error) {
	if s.null() {
		return 0, false, nil
	}
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, false, s.errorf("%s must be an integer", field)
	}
	v, ok, err := s.number()
	if err != nil {
		return 0, false, err
	}
	if !ok {
		return 0, false, s.errorf("%s must be an integer between 0 and %d", field, maxInt)
	}
	return v, true, nil
}
