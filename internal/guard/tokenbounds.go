package guard

import (
	"math/bits"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// Lower bounds on the token runs every match of a regex contains, computed
// from the regex syntax; prefilter.go explains their use.

// codeSet is a set of codes: ASCII bytes, plus codeLongS and codeKelvin,
// which stand for the two non-ASCII runes that case-fold to ASCII letters
// (Go's (?i)k matches U+212A, (?i)s matches U+017F).
type codeSet [2]uint64

const (
	codeLongS  = 1 // U+017F LATIN SMALL LETTER LONG S
	codeKelvin = 2 // U+212A KELVIN SIGN
)

func (s *codeSet) add(c byte)              { s[c>>6] |= 1 << (c & 63) }
func (s codeSet) or(t codeSet) codeSet     { return codeSet{s[0] | t[0], s[1] | t[1]} }
func (s codeSet) andNot(t codeSet) codeSet { return codeSet{s[0] &^ t[0], s[1] &^ t[1]} }
func (s codeSet) meets(t codeSet) bool     { return s[0]&t[0] != 0 || s[1]&t[1] != 0 }
func (s codeSet) empty() bool              { return s[0] == 0 && s[1] == 0 }
func (s codeSet) count() int               { return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) }

// isTokenByte reports whether the ASCII byte c is a token character.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '_', '-', '+', '/', '=', '.', '~':
		return true
	}
	return false
}

// tokenCode returns the code of rune r if r is a token character.
func tokenCode(r rune) (byte, bool) {
	switch {
	case r < utf8.RuneSelf:
		return byte(r), isTokenByte(byte(r))
	case r == 0x17F:
		return codeLongS, true
	case r == 0x212A:
		return codeKelvin, true
	}
	return 0, false
}

// span is what the analysis knows about every string a regex node can
// match. All lengths are in runes and are lower bounds.
type span struct {
	min  int     // length of the shortest match
	all  bool    // every rune of every match is a token character
	pre  int     // token run every match starts with
	suf  int     // token run every match ends with
	best int     // token run every match contains somewhere
	set  codeSet // codes a match can contain (complete only when all)
}

// maxBound caps lengths so nested repeats cannot overflow.
const maxBound = 1 << 20

func addBound(a, b int) int { return min(a+b, maxBound) }
func mulBound(a, n int) int {
	if a != 0 && n > maxBound/a {
		return maxBound
	}
	return a * n
}

// tokenSpan is the span of a node whose matches are all token runs.
func tokenSpan(n int, set codeSet) span {
	return span{min: n, all: true, pre: n, suf: n, best: n, set: set}
}

func analyze(re *syntax.Regexp) span {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpNoMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return tokenSpan(0, codeSet{})
	case syntax.OpLiteral:
		parts := make([]span, len(re.Rune))
		for i, r := range re.Rune {
			parts[i] = runeSpan(r, re.Flags&syntax.FoldCase != 0)
		}
		return concatSpans(parts)
	case syntax.OpCharClass:
		return classSpan(re.Rune)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return span{min: 1}
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		s := analyze(re.Sub[0])
		return span{all: s.all, set: s.set}
	case syntax.OpPlus:
		return repeatSpan(analyze(re.Sub[0]), 1)
	case syntax.OpRepeat:
		return repeatSpan(analyze(re.Sub[0]), re.Min)
	case syntax.OpConcat:
		parts := make([]span, len(re.Sub))
		for i, sub := range re.Sub {
			parts[i] = analyze(sub)
		}
		return concatSpans(parts)
	case syntax.OpAlternate:
		out := analyze(re.Sub[0])
		for _, sub := range re.Sub[1:] {
			s := analyze(sub)
			out = span{
				min: min(out.min, s.min), all: out.all && s.all,
				pre: min(out.pre, s.pre), suf: min(out.suf, s.suf), best: min(out.best, s.best),
				set: out.set.or(s.set),
			}
		}
		return out
	}
	return span{} // unknown: claim nothing
}

func runeSpan(r rune, fold bool) span {
	var set codeSet
	for f := r; ; {
		c, ok := tokenCode(f)
		if !ok {
			return span{min: 1}
		}
		set.add(c)
		if !fold {
			break
		}
		if f = unicode.SimpleFold(f); f == r {
			break
		}
	}
	return tokenSpan(1, set)
}

func classSpan(ranges []rune) span {
	var set codeSet
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			c, ok := tokenCode(r)
			if !ok {
				return span{min: 1}
			}
			set.add(c)
		}
	}
	return tokenSpan(1, set)
}

func repeatSpan(s span, n int) span {
	if n == 0 {
		return span{all: s.all, set: s.set}
	}
	m := mulBound(s.min, n)
	if s.all {
		return tokenSpan(m, s.set)
	}
	out := span{min: m, pre: s.pre, suf: s.suf, best: s.best, set: s.set}
	if n >= 2 {
		out.best = max(out.best, addBound(s.suf, s.pre))
	}
	return out
}

func concatSpans(parts []span) span {
	acc := tokenSpan(0, codeSet{})
	for _, s := range parts {
		next := span{min: addBound(acc.min, s.min), set: acc.set.or(s.set)}
		switch {
		case acc.all && s.all:
			n := next.min
			next.all, next.pre, next.suf, next.best = true, n, n, n
		default:
			next.best = max(acc.best, s.best, addBound(acc.suf, s.pre))
			next.pre = acc.pre
			if acc.all {
				next.pre = addBound(acc.min, s.pre)
			}
			next.suf = s.suf
			if s.all {
				next.suf = addBound(acc.suf, s.min)
			}
		}
		acc = next
	}
	return acc
}

// wholeClass recognizes ^[class]+$ and returns the token codes of class.
func wholeClass(expr string) (codeSet, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 {
		return codeSet{}, false
	}
	first, plus, last := re.Sub[0], re.Sub[1], re.Sub[2]
	if first.Op != syntax.OpBeginText || last.Op != syntax.OpEndText ||
		plus.Op != syntax.OpPlus || plus.Sub[0].Op != syntax.OpCharClass {
		return codeSet{}, false
	}
	var set codeSet
	ranges := plus.Sub[0].Rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= min(ranges[i+1], 0x212A); r++ {
			if c, ok := tokenCode(r); ok {
				set.add(c)
			}
		}
	}
	return set, true
}
