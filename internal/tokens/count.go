package tokens

import "unicode/utf8"

// This file is the fast path: it turns the text of a request into a token
// estimate without tokenizing. A tally counts, in one pass over the raw
// JSON string bytes, the events that predict how a byte-pair tokenizer
// splits text (a new word, a camelCase split, a digit group, a punctuation
// run, a newline, one rune of Cyrillic or CJK, ...). A weight per event,
// per encoding, turns the counts into tokens. The events mirror the
// pre-tokenizer regexps of cl100k_base and o200k_base (which split text
// into letter runs, 1–3 digit groups, punctuation runs and whitespace runs
// before BPE merges them), so one cheap pass tracks code, JSON and prose
// alike where a single bytes-per-token ratio cannot: prose runs at ~4.7
// bytes per o200k token, Go source at ~3.6, JSON at ~3.2, and a ratio low
// enough to cover JSON over-charges prose by ~1.9×.
//
// The weights were fitted on testdata/corpus (see accuracy_test.go, which
// re-measures them on every test run) and then scaled up so that the
// estimate is at least the exact count for ≥ 95% of samples; doc.go lists
// the measured ratios.

// feature indexes a tally's counters.
type feature uint8

const (
	fWord      feature = iota // a run of ASCII letters starts
	fCaseSplit                // a lower→upper change inside a letter run (o200k splits there)
	fLong                     // a letter beyond the 6th of a letter run (rare words split in BPE)
	fDigits                   // a group of up to 3 digits (both encodings split numbers so)
	fPunct                    // an ASCII punctuation byte
	fPunctRun                 // a run of punctuation starts
	fSpace                    // a run of spaces or tabs starts
	fSpaceCont                // a space or tab continuing a whitespace run
	fNewline                  // a newline that starts a whitespace run
	fNewlineCont              // a newline continuing a whitespace run
	fLatin                    // a Latin-1/Latin Extended/Vietnamese rune (accents)
	fCyrillic                 // a Cyrillic rune
	fOther2                   // another 2-byte rune: Greek, Hebrew, Arabic, Armenian ...
	fIndic                    // an Indic, Thai, Lao, Tibetan or Myanmar rune
	fCJK                      // a Han, kana, Hangul or full-width rune
	fOther3                   // another 3-byte rune (symbols, “quotes”, ZWJ) or an invalid byte
	fAstral                   // a 4-byte rune (emoji)
	fJoined                   // a letter run right after a single punctuation byte (".util", "(x")
	numFeatures
)

// tally counts the features of the text seen so far. The zero value is an
// empty tally.
type tally struct {
	n [numFeatures]int
}

// weights are milli-tokens per feature for one encoding.
type weights [numFeatures]int

// o200kWeights and cl100kWeights convert a tally to tokens. Fitted on
// testdata/corpus by TestFastEstimateAccuracy's least-squares helper
// (relative error), rounded, and scaled so ≥ 95% of samples over-estimate;
// every weight is positive, so the estimate never falls when text grows.
var (
	o200kWeights = weights{
		fWord: 890, fCaseSplit: 1360, fLong: 170, fDigits: 1890,
		fPunct: 110, fPunctRun: 1160, fJoined: -590,
		fSpace: 220, fSpaceCont: 120, fNewline: 1100, fNewlineCont: 390,
		fLatin: 1000, fCyrillic: 400, fOther2: 550, fIndic: 550,
		fCJK: 1000, fOther3: 1200, fAstral: 2500,
	}
	cl100kWeights = weights{
		fWord: 810, fCaseSplit: 1370, fLong: 130, fDigits: 1910,
		fPunct: 110, fPunctRun: 1120, fJoined: -440,
		fSpace: 360, fSpaceCont: 110, fNewline: 1080, fNewlineCont: 260,
		fLatin: 2300, fCyrillic: 650, fOther2: 1300, fIndic: 1600,
		fCJK: 1350, fOther3: 1500, fAstral: 3500,
	}
)

// tokens converts t to tokens with w, rounding up.
func (t *tally) tokens(w *weights) int {
	milli := 0
	for i, n := range t.n {
		milli += n * w[i]
	}
	return (milli + 999) / 1000
}

// class is an ASCII byte's class for the tally.
type class uint8

const (
	cNone class = iota // start of a string
	cLower
	cUpper
	cDigit
	cPunct
	cSpace
	cNewline
	cOther // a non-letter non-ASCII rune
)

// asciiClass is a read-only lookup table for classOf.
var asciiClass = func() (t [utf8.RuneSelf]class) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z':
			t[c] = cLower
		case c >= 'A' && c <= 'Z':
			t[c] = cUpper
		case c >= '0' && c <= '9':
			t[c] = cDigit
		case c == '\n' || c == '\r':
			t[c] = cNewline
		case c == ' ' || c == '\t' || c == '\f' || c == '\v':
			t[c] = cSpace
		default:
			t[c] = cPunct // includes control bytes: each costs a token or more
		}
	}
	return t
}()

// run is the position inside one string: the previous class, the length of
// the current letter run and of the current digit run.
type run struct {
	prev    class
	letters int
	digits  int
	puncts  int
}

// ascii tallies one ASCII byte.
func (t *tally) ascii(r *run, c byte) {
	cl := asciiClass[c&0x7f]
	switch cl {
	case cLower, cUpper:
		switch {
		case r.prev != cLower && r.prev != cUpper:
			t.n[fWord]++
			if r.prev == cPunct && r.puncts == 1 {
				t.n[fJoined]++
			}
			r.letters = 0
		case cl == cUpper && r.prev == cLower:
			t.n[fCaseSplit]++
			r.letters = 0
		}
		r.letters++
		if r.letters > 6 {
			t.n[fLong]++
		}
	case cDigit:
		if r.prev != cDigit {
			r.digits = 0
		}
		if r.digits%3 == 0 {
			t.n[fDigits]++
		}
		r.digits++
	case cPunct:
		t.n[fPunct]++
		if r.prev != cPunct {
			t.n[fPunctRun]++
			r.puncts = 0
		}
		r.puncts++
	case cSpace:
		if r.prev == cSpace || r.prev == cNewline {
			t.n[fSpaceCont]++
		} else {
			t.n[fSpace]++
		}
	case cNewline:
		if r.prev == cSpace || r.prev == cNewline {
			t.n[fNewlineCont]++
		} else {
			t.n[fNewline]++
		}
	}
	r.prev = cl
}

// rune tallies one non-ASCII rune. Accented Latin letters continue a
// letter run, as they do in the tokenizers' regexps.
func (t *tally) rune(r *run, c rune) {
	f := runeFeature(c)
	t.n[f]++
	if f == fLatin {
		if r.prev != cLower && r.prev != cUpper {
			r.prev = cLower
			r.letters = 0
		}
		r.letters++
		return
	}
	r.prev = cOther
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

// addJSON tallies the contents of a JSON string: s is the raw bytes between
// the quotes, escapes already validated by the scanner. Escapes count as
// the characters they stand for.
func (t *tally) addJSON(s []byte) {
	var r run
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < utf8.RuneSelf && c != '\\':
			t.ascii(&r, c)
			i++
		case c == '\\':
			i += t.escape(&r, s[i:])
		default:
			u, size := utf8.DecodeRune(s[i:])
			if u == utf8.RuneError && size == 1 {
				t.n[fOther3]++ // invalid UTF-8: byte-level tokens
				r.prev = cOther
			} else {
				t.rune(&r, u)
			}
			i += size
		}
	}
}

// addString tallies plain text (no JSON escapes).
func (t *tally) addString(s string) {
	var r run
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			t.ascii(&r, c)
			i++
			continue
		}
		u, size := utf8.DecodeRuneInString(s[i:])
		if u == utf8.RuneError && size == 1 {
			t.n[fOther3]++
			r.prev = cOther
		} else {
			t.rune(&r, u)
		}
		i += size
	}
}

// escape tallies the escape at the start of s and returns its length.
func (t *tally) escape(r *run, s []byte) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case 'n':
		t.ascii(r, '\n')
	case 'r':
		t.ascii(r, '\r')
	case 't':
		t.ascii(r, '\t')
	case 'b', 'f':
		t.ascii(r, '\f')
	case 'u':
		u, n := unescapeU(s)
		if u < utf8.RuneSelf {
			t.ascii(r, byte(u))
		} else {
			t.rune(r, u)
		}
		return n
	default: // " \ /
		t.ascii(r, s[1])
	}
	return 2
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
