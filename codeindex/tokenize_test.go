package codeindex

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"camel", "readFile", []string{"read", "file"}},
		{"pascal", "ReadFile", []string{"read", "file"}},
		{"acronym then word", "HTTPServer", []string{"http", "server"}},
		{"word then acronym", "ServeHTTP", []string{"serve", "http"}},
		{"snake", "max_file_bytes", []string{"max", "file", "bytes"}},
		{"digits", "utf8Decode2", []string{"utf", "8", "decode", "2"}},
		{"mixed", "parseHTTP2Frame_v3", []string{"parse", "http", "2", "frame", "v", "3"}},
		{"single", "x", []string{"x"}},
		{"unicode", "größeÄnderung", []string{"größe", "änderung"}},
		{"separators", "a.b-c d", []string{"a", "b", "c", "d"}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitIdentifiers(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("splitIdentifiers(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"whole identifier kept", "ReadFile", []string{"read", "file", "readfile"}},
		{"keywords and English stopwords dropped", "func return the of Parse", []string{"parse"}},
		{"plurals and verb forms stemmed", "reads files entries", []string{"read", "file", "entry"}},
		{"returns is a stopword after stemming", "returns", nil},
		{"single characters dropped", "a b x1", []string{"x1"}},
		{"overlong tokens dropped", strings.Repeat("z", 50), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokenize(nil, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestStem(t *testing.T) {
	for in, want := range map[string]string{
		"entries": "entry", "boxes": "box", "matches": "match", "types": "type",
		"reading": "read", "stopped": "stop", "called": "call", "bus": "bus",
		"analysis": "analysis", "class": "class", "go": "go",
	} {
		if got := stem(in); got != want {
			t.Errorf("stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSplitIdentifiers(f *testing.F) {
	for _, s := range []string{"ReadFile", "HTTPServerTLS2_config", "größeÄnderung", "__x__", "a\xffb", "", "日本語Name"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range splitIdentifiers(s) {
			if p == "" {
				t.Fatalf("empty part from %q", s)
			}
			if strings.ContainsRune(p, '_') {
				t.Fatalf("part %q of %q holds an underscore", p, s)
			}
		}
		for _, tok := range tokenize(nil, s) {
			if len(tok) < 2 || len(tok) > maxTokenLen+1 || stopwords[tok] {
				t.Fatalf("bad token %q from %q", tok, s)
			}
			if utf8.ValidString(s) && !utf8.ValidString(tok) {
				t.Fatalf("token %q of valid %q is not valid UTF-8", tok, s)
			}
		}
	})
}

func TestChunkTokens(t *testing.T) {
	body := "// Grow enlarges the buffer.\nfunc (b *Buf) Grow(n int) { b.buf = append(b.buf, make([]byte, n)...) }\n"
	count := map[string]int{}
	for _, tok := range chunkTokens(nil, "bytes/buffer.go", "Buf.Grow", body) {
		count[tok]++
	}
	for tok, want := range map[string]int{
		"buffer":  1 + docBoost + 1, // the comment, its boost, the path
		"grow":    2 + docBoost + symbolBoost,
		"enlarge": 1 + docBoost,
		"buf":     3 + symbolBoost, // Buf, b.buf twice, and the symbol
		"byte":    2,               // []byte and the path's "bytes"
	} {
		if count[tok] < want {
			t.Errorf("%q counted %d times, want at least %d (%v)", tok, count[tok], want, count)
		}
	}
	if count["buffer"] < 1+docBoost+1+3 {
		t.Errorf("abbreviation buf not expanded to buffer: %v", count)
	}
}

func TestLeadingComment(t *testing.T) {
	for in, want := range map[string]string{
		"// A does.\n// More.\nfunc A() {}\n": "// A does.\n// More.\n",
		"\t# py comment\ndef f(): pass\n":     "\t# py comment\n",
		"func A() {}\n":                       "",
		"// only comment":                     "// only comment",
	} {
		if got := leadingComment(in); got != want {
			t.Errorf("leadingComment(%q) = %q, want %q", in, got, want)
		}
	}
}
