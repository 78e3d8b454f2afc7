package codeindex

import (
	"unicode"
	"unicode/utf8"
)

// maxTokenLen bounds a token: longer runs (hashes, base64, tables) are
// noise for retrieval and would bloat the dictionary.
const maxTokenLen = 40

// stopwords are dropped from documents and queries alike (before and
// after stemming): Go's keywords, frequent in every chunk and meaningless
// in a query, and English function words. The English ones matter most
// where code has no comments: there "the" and "of" occur only in string
// literals, so their idf is high and a query's function words would pull
// in every chunk holding a usage message or a template.
var stopwords = map[string]bool{
	"break": true, "case": true, "chan": true, "const": true, "continue": true,
	"default": true, "defer": true, "else": true, "fallthrough": true, "for": true,
	"func": true, "go": true, "goto": true, "if": true, "import": true,
	"interface": true, "map": true, "package": true, "range": true, "return": true,
	"select": true, "struct": true, "switch": true, "type": true, "var": true,

	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true,
	"be": true, "been": true, "but": true, "by": true, "can": true, "do": true,
	"does": true, "has": true, "have": true, "in": true, "into": true, "is": true,
	"it": true, "its": true, "no": true, "not": true, "of": true, "on": true,
	"or": true, "so": true, "such": true, "than": true, "that": true, "the": true,
	"their": true, "then": true, "there": true, "these": true, "they": true,
	"this": true, "those": true, "to": true, "was": true, "were": true,
	"when": true, "which": true, "while": true, "will": true, "with": true,
	"would": true, "should": true, "may": true, "must": true, "any": true,
	"each": true, "all": true, "from": true, "whether": true, "otherwise": true,
}

// splitIdentifiers splits an identifier into its lowercase parts at
// camelCase and PascalCase humps, underscores and letter/digit boundaries:
// "HTTPServerTLS2_config" → http, server, tls, 2, config. An acronym
// followed by a word splits before the word's capital ("HTTPServer" →
// http, server). Non-letter, non-digit runes separate parts.
func splitIdentifiers(s string) []string {
	var parts []string
	start := -1 // byte offset of the current part, -1 when none
	var prev rune
	flush := func(end int) {
		if start >= 0 && end > start {
			parts = append(parts, lower(s[start:end]))
		}
		start = -1
	}
	for i, r := range s {
		if !isWordRune(r) || r == '_' {
			flush(i)
			prev = 0
			continue
		}
		if start < 0 {
			start, prev = i, r
			continue
		}
		switch {
		case unicode.IsDigit(r) != unicode.IsDigit(prev):
			flush(i)
			start = i
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i)
			start = i
		case unicode.IsLower(r) && unicode.IsUpper(prev) && i-start > utf8.RuneLen(prev):
			// "HTTPServer": the S starts the next part.
			j := i - utf8.RuneLen(prev)
			flush(j)
			start = j
		}
		prev = r
	}
	flush(len(s))
	return parts
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// lower lowercases s, avoiding the allocation for all-lowercase ASCII.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return toLowerSlow(s)
		}
	}
	return s
}

func toLowerSlow(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		b = append(b, unicode.ToLower(r))
	}
	return string(b)
}

// stem removes English plural and verb endings lightly, so that "reads",
// "reading" and "read" meet: it is deliberately weaker than Porter, which
// conflates identifiers that differ ("general", "generate").
func stem(w string) string {
	n := len(w)
	switch {
	case n > 4 && hasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 4 && (hasSuffix(w, "sses") || hasSuffix(w, "shes") || hasSuffix(w, "ches") || hasSuffix(w, "xes")):
		return w[:n-2]
	case n > 3 && w[n-1] == 's' && w[n-2] != 's' && w[n-2] != 'u' && w[n-2] != 'i':
		return w[:n-1]
	case n > 5 && hasSuffix(w, "ing"):
		return undouble(w[:n-3])
	case n > 4 && hasSuffix(w, "ed") && !hasSuffix(w, "eed"):
		return undouble(w[:n-2])
	}
	return w
}

// undouble trims a doubled final consonant left by a removed suffix:
// "stopp" → "stop"; "ll", "ss" and "zz" stay ("call", "pass").
func undouble(w string) string {
	n := len(w)
	if n > 2 && w[n-1] == w[n-2] {
		switch w[n-1] {
		case 'l', 's', 'z', 'a', 'e', 'i', 'o', 'u':
			return w
		}
		return w[:n-1]
	}
	return w
}

func hasSuffix(s, suf string) bool {
	return len(s) >= len(suf) && s[len(s)-len(suf):] == suf
}

// abbreviations maps the short forms common in identifiers to the words
// a query uses. Indexing adds the word next to the short form, so that
// "buffer" finds buf and "length" finds len; queries are not expanded.
var abbreviations = map[string]string{
	"addr": "address", "alloc": "allocate", "arg": "argument", "args": "argument",
	"attr": "attribute", "auth": "authentication", "buf": "buffer", "bufs": "buffer",
	"calc": "calculate", "cap": "capacity", "cert": "certificate", "cfg": "config",
	"char": "character", "chk": "check", "cmd": "command", "cmp": "compare",
	"cnt": "count", "col": "column", "concat": "concatenate", "conf": "config",
	"conn": "connection", "ctx": "context", "cur": "current", "dec": "decode",
	"decl": "declaration", "del": "delete", "desc": "description",
	"dest": "destination", "dir": "directory", "dst": "destination", "elem": "element",
	"enc": "encode", "env": "environment", "eq": "equal", "err": "error", "errs": "error",
	"exec": "execute", "expr": "expression", "ext": "extension", "fmt": "format",
	"fn": "function", "gen": "generate", "hdr": "header", "idx": "index",
	"impl": "implementation", "init": "initialize", "iter": "iterator", "len": "length",
	"lib": "library", "ln": "line", "max": "maximum", "mem": "memory", "min": "minimum",
	"mod": "module", "msg": "message", "mu": "mutex", "num": "number", "obj": "object",
	"op": "operation", "ops": "operation", "opt": "option", "opts": "option",
	"param": "parameter", "params": "parameter", "pkg": "package", "pos": "position",
	"prev": "previous", "proc": "process", "ptr": "pointer", "rand": "random",
	"recv": "receive", "ref": "reference", "req": "request", "res": "result",
	"resp": "response", "ret": "return", "sep": "separator", "seq": "sequence",
	"sig": "signature", "sock": "socket", "spec": "specification", "src": "source",
	"stmt": "statement", "str": "string", "sync": "synchronize", "sys": "system",
	"tmp": "temporary", "tok": "token", "tx": "transaction", "typ": "type",
	"val": "value", "vals": "value", "var": "variable", "ws": "whitespace",
}

// tokenize appends to dst the index terms of text: for every identifier
// or word, its stemmed lowercase parts and, for compound identifiers, the
// whole identifier lowercased. Single characters and stopwords are dropped.
func tokenize(dst []string, text string) []string {
	i := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		j := i + size
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !isWordRune(r) {
				break
			}
			j += size
		}
		dst = appendWord(dst, text[i:j])
		i = j
	}
	return dst
}

func appendWord(dst []string, word string) []string {
	if len(word) > maxTokenLen {
		return dst
	}
	if simpleLower(word) {
		return appendTerm(dst, word)
	}
	parts := splitIdentifiers(word)
	for _, p := range parts {
		dst = appendTerm(dst, p)
	}
	if len(parts) > 1 {
		whole := lower(trimUnderscores(word))
		if len(whole) > 1 && !stopwords[whole] {
			dst = append(dst, whole)
		}
	}
	return dst
}

// appendTerm appends the stem of a lowercase word unless it is a
// stopword or a single character.
func appendTerm(dst []string, w string) []string {
	if len(w) < 2 || stopwords[w] {
		return dst
	}
	if s := stem(w); !stopwords[s] {
		dst = append(dst, s)
	}
	return dst
}

// expandAbbreviations appends, for each abbreviation among tokens, its
// stemmed expansion.
func expandAbbreviations(tokens []string) []string {
	n := len(tokens)
	for _, t := range tokens[:n] {
		if w, ok := abbreviations[t]; ok {
			tokens = appendTerm(tokens, w)
		}
	}
	return tokens
}

// simpleLower reports whether word is lowercase ASCII letters only, the
// common case that needs no splitting.
func simpleLower(word string) bool {
	for i := 0; i < len(word); i++ {
		if c := word[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func trimUnderscores(s string) string {
	for len(s) > 0 && s[0] == '_' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == '_' {
		s = s[:len(s)-1]
	}
	return s
}
