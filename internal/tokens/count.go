package tokens

import "unicode/utf8"

// This file is the fast path: it turns the text of a request into a token
// estimate without tokenizing. Byte-pair tokenizers first cut text with a
// regexp into pieces (runs of letters, split at lower→upper changes by
// o200k; groups of up to 3 digits; runs of punctuation, which may carry
// one letter run; runs of whitespace) and then merge each piece into
// tokens. The estimate follows the same cuts with a state machine over the
// bytes: each byte costs a weight for its class (letter, digit,
// punctuation) plus a weight for the cut it makes (a word starts, a
// punctuation run starts, a newline, ...), and each non-ASCII rune a
// weight for its script (CJK ~1 token per rune, Cyrillic ~0.3–0.6, ...).
// The weights are per encoding, in milli-tokens.
//
// Why not one bytes-per-token ratio: on testdata/corpus prose runs at ~4.7
// bytes per o200k token, Go source at ~3.6, JSON at ~3.2 and YAML or
// assembly at ~2.5, so a ratio low enough to cover 95% of samples charges
// prose ~1.9× its real count (TestFastEstimateAccuracy logs the figures).
// The per-class weights cover the same 95% at ~1.2× on prose and code.
//
// Cost: the weights are folded into one table per encoding, indexed by
// (state, byte), holding the byte's total cost and the next state, so the
// loop does one load and one add per ASCII byte, validating the JSON string
// in the same pass (scanner.text).

// feature indexes a tally's counters: the events the weights price. (The
// tally itself, counting features rather than costs, lives in the tests,
// which fit the weights on it.)
type feature uint8

const (
	// Per byte.
	fLetter feature = iota // an ASCII letter
	fDigit                 // an ASCII digit
	fPunct                 // an ASCII punctuation or control byte
	// Per transition between byte classes (the pieces the tokenizers' regexps cut).
	fWord        // a run of letters starts
	fJoinedWord  // a run of letters starts right after one punctuation byte (".util", "(x"): one piece with it
	fCaseSplit   // a lower→upper change inside a run of letters (o200k cuts there)
	fDigitRun    // a run of digits starts (numbers are cut into groups of up to 3)
	fPunctRun    // a run of punctuation starts
	fSpace       // a run of spaces or tabs starts
	fSpaceCont   // a space or tab continues a whitespace run
	fNewline     // a newline starts a whitespace run
	fNewlineCont // a newline continues a whitespace run
	// Per non-ASCII rune, by script.
	fLatin    // Latin-1, Latin Extended, IPA, combining marks, Vietnamese
	fCyrillic // Cyrillic
	fOther2   // other 2-byte scripts: Greek, Armenian, Hebrew, Arabic ...
	fIndic    // Indic scripts, Thai, Lao, Tibetan, Myanmar
	fCJK      // Han, kana, Hangul, full-width forms
	fOther3   // other 3-byte runes (symbols, “quotes”, dashes, ZWJ) and invalid bytes
	fAstral   // 4-byte runes (emoji)
	numFeatures

	fNone feature = 31 // a counter no weight reads: "no event"
)

// weights are milli-tokens per feature for one encoding.
type weights [32]int

// o200kWeights and cl100kWeights are the fitted weights. They were fitted
// on testdata/corpus (go test -run TestFastEstimateAccuracy -fit prints a
// fresh fit: least squares on the relative error, scaled up until 97% of
// samples over-estimate), rounded to 10 milli-tokens; the non-ASCII weights
// were then raised by hand where a script has few samples. Every weight is
// positive, so appending text never lowers an estimate
// (TestFastEstimateMonotone).
var (
	o200kWeights = weights{
		fLetter: 60, fDigit: 210, fPunct: 150,
		fWord: 710, fJoinedWord: 250, fCaseSplit: 1120, fDigitRun: 2050, fPunctRun: 950,
		fSpace: 220, fSpaceCont: 100, fNewline: 1170, fNewlineCont: 250,
		fLatin: 1000, fCyrillic: 400, fOther2: 550, fIndic: 550,
		fCJK: 1000, fOther3: 1200, fAstral: 2500,
	}
	cl100kWeights = weights{
		fLetter: 30, fDigit: 250, fPunct: 150,
		fWord: 740, fJoinedWord: 390, fCaseSplit: 1240, fDigitRun: 1960, fPunctRun: 960,
		fSpace: 360, fSpaceCont: 100, fNewline: 1140, fNewlineCont: 130,
		fLatin: 2300, fCyrillic: 650, fOther2: 1300, fIndic: 1600,
		fCJK: 1350, fOther3: 1500, fAstral: 3500,
	}
)

// o200kCosts and cl100kCosts are the read-only tables the fast path runs on.
var (
	o200kCosts  = newCostTable(&o200kWeights)
	cl100kCosts = newCostTable(&cl100kWeights)
)

// state is the class of the previous character inside one string.
type state uint8

const (
	sNone    state = iota // start of a string, or after a non-letter non-ASCII rune
	sLower                // a lower-case letter (or an accented Latin letter)
	sUpper                // an upper-case letter
	sDigit                // a digit
	sPunct1               // the first byte of a punctuation run
	sPunctN               // a later byte of a punctuation run
	sSpace                // a space or tab
	sNewline              // a newline
	numStates
)

// step is one entry of the transition table: the two counters to bump
// (a per-byte one and a per-transition one, either may be fNone) and the
// next state, packed as a | b<<5 | next<<10.
type step uint16

func asciiStep(s state, c byte) step {
	pack := func(a, b feature, next state) step { return step(a) | step(b)<<5 | step(next)<<10 }
	letter := s == sLower || s == sUpper
	space := s == sSpace || s == sNewline
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		next := sLower
		if c <= 'Z' {
			next = sUpper
		}
		switch {
		case next == sUpper && s == sLower:
			return pack(fLetter, fCaseSplit, next)
		case letter:
			return pack(fLetter, fNone, next)
		case s == sPunct1:
			return pack(fLetter, fJoinedWord, next)
		default:
			return pack(fLetter, fWord, next)
		}
	case c >= '0' && c <= '9':
		if s == sDigit {
			return pack(fDigit, fNone, sDigit)
		}
		return pack(fDigit, fDigitRun, sDigit)
	case c == '\n' || c == '\r':
		if space {
			return pack(fNone, fNewlineCont, sNewline)
		}
		return pack(fNone, fNewline, sNewline)
	case c == ' ' || c == '\t' || c == '\f' || c == '\v':
		if space {
			return pack(fNone, fSpaceCont, sSpace)
		}
		return pack(fNone, fSpace, sSpace)
	default: // punctuation and control bytes
		if s == sPunct1 || s == sPunctN {
			return pack(fPunct, fNone, sPunctN)
		}
		return pack(fPunct, fPunctRun, sPunct1)
	}
}

// costTable is one encoding's fast path: the milli-token cost and next
// state of every ASCII byte in every state, with the per-rune costs.
type costTable struct {
	w *weights
	// ascii[s<<7|c] = cost | next<<23 (the next state's row offset,
	// next<<7, in the high half): one load and one add per byte, with no
	// counter in memory and no multiply on the loop's critical path.
	ascii [tableSize]uint32
}

// tableSize is the number of entries of costTable.ascii, a power of two so
// that masking an index proves it in range.
const tableSize = uint32(numStates) << 7

func newCostTable(w *weights) *costTable {
	t := &costTable{w: w}
	for s := range numStates {
		for c := range utf8.RuneSelf {
			x := asciiStep(s, byte(c))
			cost := w[x&31] + w[x>>5&31]
			if cost < 0 || cost >= 1<<16 {
				panic("tokens: fast-path weight out of range") // a bad edit of the weights above
			}
			t.ascii[uint32(s)<<7|uint32(c)] = uint32(cost) | uint32(x>>10)<<23
		}
	}
	return t
}

// meter accumulates the fast-path cost of text, in milli-tokens.
type meter struct {
	tab   *costTable
	milli int
	chars int // characters metered, for the providers' character-based admission estimate
}

// tokens is the metered text in tokens, rounded up.
func (m *meter) tokens() int { return (m.milli + 999) / 1000 }

// step meters one ASCII byte and returns the next state.
func (m *meter) step(st state, c byte) state {
	x := m.tab.ascii[(uint32(st)<<7|uint32(c))&(tableSize-1)]
	m.milli += int(x & 0xffff)
	m.chars++
	return state(x >> 23)
}

// rune meters one non-ASCII rune and returns the next state. Accented
// Latin letters continue a run of letters, as in the tokenizers' regexps;
// an invalid byte costs like a rare symbol (byte-level tokens).
func (m *meter) rune(u rune, size int) state {
	m.chars++
	if u == utf8.RuneError && size == 1 {
		m.milli += m.tab.w[fOther3]
		return sNone
	}
	f := runeFeature(u)
	m.milli += m.tab.w[f]
	if f == fLatin {
		return sLower
	}
	return sNone
}

// runeFeature classifies a non-ASCII rune by Unicode block. Ranges, not
// unicode.Is tables: this runs per rune on the hot path.
func runeFeature(c rune) feature {
	switch {
	case c < 0x370: // Latin-1, Latin Extended-A/B, IPA, modifiers, combining marks
		return fLatin
	case c >= 0x400 && c < 0x530:
		return fCyrillic
	case c < 0x800:
		return fOther2
	case c >= 0x900 && c < 0x10A0:
		return fIndic
	case c >= 0x1E00 && c < 0x1F00: // Latin Extended Additional (Vietnamese)
		return fLatin
	case c >= 0x2E80 && c < 0xA000, c >= 0xAC00 && c < 0xD7B0,
		c >= 0xF900 && c < 0xFB00, c >= 0xFF00 && c < 0xFFF0:
		return fCJK
	case c < 0x10000:
		return fOther3
	default:
		return fAstral
	}
}

// addJSON meters JSON text whose strings are already validated: the
// contents of a string, or a whole raw value (a schema, tool input), where
// quotes and brackets then count as punctuation. Escapes count as the
// characters they stand for.
func (m *meter) addJSON(s []byte) {
	tab, milli, row := m.tab, m.milli, uint32(0) // row: the state's offset, state<<7
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && c != '\\' {
			x := tab.ascii[(row|uint32(c))&(tableSize-1)]
			milli += int(x & 0xffff)
			row = x >> 16
			i++
			m.chars++
			continue
		}
		m.milli = milli
		var n int
		st := state(row >> 7)
		if c == '\\' {
			st, n = m.escape(st, s[i:])
		} else {
			var u rune
			u, n = utf8.DecodeRune(s[i:])
			st = m.rune(u, n)
		}
		row = uint32(st) << 7
		milli = m.milli
		i += n
	}
	m.milli = milli
}

// addString meters plain text.
func (m *meter) addString(s string) {
	st := sNone
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			st = m.step(st, c)
			i++
			continue
		}
		u, size := utf8.DecodeRuneInString(s[i:])
		st = m.rune(u, size)
		i += size
	}
}

// escape meters the escape at the start of s and returns the next state
// and the escape's length.
func (m *meter) escape(st state, s []byte) (state, int) {
	if len(s) < 2 {
		return st, len(s)
	}
	switch s[1] {
	case 'n':
		return m.step(st, '\n'), 2
	case 'r':
		return m.step(st, '\r'), 2
	case 't':
		return m.step(st, '\t'), 2
	case 'b', 'f':
		return m.step(st, '\f'), 2
	case 'u':
		u, n := unescapeU(s)
		if u < utf8.RuneSelf {
			return m.step(st, byte(u)), n
		}
		return m.rune(u, n), n
	default: // " \ /
		return m.step(st, s[1]), 2
	}
}

// text reads a string like scanner.str and meters its contents in the
// same pass: validation and metering share one loop over the bytes.
func (s *scanner) text(m *meter) error {
	if s.peek() != '"' {
		return s.errorf("expected a string")
	}
	s.i++
	tab, milli, row := m.tab, m.milli, uint32(0) // row: the state's offset, state<<7
	b := s.b
	for i := s.i; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			x := tab.ascii[(row|uint32(c))&(tableSize-1)]
			milli += int(x & 0xffff)
			row = x >> 16
			i++
			m.chars++
			continue
		}
		m.milli = milli
		st := state(row >> 7)
		switch {
		case c == '"':
			s.i = i + 1
			return nil
		case c < 0x20:
			s.i = i
			return s.errorf("control character in string")
		case c == '\\':
			s.i = i
			if err := s.escape(); err != nil {
				return err
			}
			// s.escape validated one escape; m.escape may take a
			// surrogate pair, whose second half unescapeU validates.
			var n int
			st, n = m.escape(st, b[i:])
			i += n
		default:
			u, n := utf8.DecodeRune(b[i:])
			st = m.rune(u, n)
			i += n
		}
		row = uint32(st) << 7
		milli = m.milli
	}
	s.i = len(b)
	return s.errorf("unterminated string")
}

// unescapeU decodes a \uXXXX escape, or a surrogate pair of two, at the
// start of s. A lone surrogate decodes to U+FFFD, as encoding/json does.
func unescapeU(s []byte) (rune, int) {
	u, ok := hex4(s)
	if !ok {
		return utf8.RuneError, len(s)
	}
	if u < 0xD800 || u >= 0xE000 {
		return u, 6
	}
	if u < 0xDC00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
		if lo, ok := hex4(s[6:]); ok && lo >= 0xDC00 && lo < 0xE000 {
			return 0x10000 + (u-0xD800)<<10 + (lo - 0xDC00), 12
		}
	}
	return utf8.RuneError, 6
}

// hex4 decodes the four hex digits of a \uXXXX escape at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 {
		return 0, false
	}
	var u rune
	for _, c := range s[2:6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		u = u<<4 | rune(c)
	}
	return u, true
}
