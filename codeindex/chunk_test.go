package codeindex

import (
	"fmt"
	"strings"
	"testing"
)

const goSample = `// Package demo is a demo.
package demo

import "fmt"

// Reader reads things.
type Reader struct{ n int }

type (
	// A is the first.
	A int
	B string // B is the second.
)

const (
	X = 1
	Y = 2
)

// ReadAll reads everything.
//
// It never fails.
func (r *Reader) ReadAll() string {
	return fmt.Sprint(r.n)
}

func Map[K comparable, V any](m map[K]V) {}

func (g *Gen[T]) Get() T { var t T; return t }
`

func TestChunkGo(t *testing.T) {
	got := chunkGo([]byte(goSample))
	want := []struct {
		symbol, kind string
		start, end   int
	}{
		{"demo", "package", 1, 2},
		{"Reader", "type", 6, 7},
		{"A", "type", 10, 11},
		{"B", "type", 12, 12},
		{"X", "const", 15, 18},
		{"Reader.ReadAll", "method", 20, 25},
		{"Map", "func", 27, 27},
		{"Gen.Get", "method", 29, 29},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		c := got[i]
		if c.symbol != w.symbol || c.kind != w.kind || c.startLine != w.start || c.endLine != w.end {
			t.Errorf("chunk %d = %s %s %d-%d, want %s %s %d-%d", i, c.symbol, c.kind, c.startLine, c.endLine, w.symbol, w.kind, w.start, w.end)
		}
	}
	doc := goSample[got[5].startByte:got[5].endByte]
	if !strings.HasPrefix(doc, "// ReadAll reads everything.") || !strings.HasSuffix(doc, "}\n") {
		t.Errorf("method chunk text %q: want the doc comment through the closing brace", doc)
	}
}

func TestChunkGoHugeFunctionSplit(t *testing.T) {
	var b strings.Builder
	b.WriteString("package p\n\n// Big is big.\nfunc Big() {\n")
	for i := range 900 {
		fmt.Fprintf(&b, "\t_ = %d\n", i)
	}
	b.WriteString("}\n")
	got := chunkGo([]byte(b.String()))
	if len(got) < 4 {
		t.Fatalf("a 900-line function gave %d chunks, want it split", len(got))
	}
	if got[0].startLine != 3 || got[0].symbol != "Big" {
		t.Errorf("first part %+v: want it to start at the doc comment", got[0])
	}
	for i := 1; i < len(got); i++ {
		if got[i].startLine != got[i-1].endLine+1 {
			t.Errorf("parts %d and %d are not contiguous", i-1, i)
		}
	}
}

func TestChunkGoUnparsable(t *testing.T) {
	src := strings.Repeat("this is not go\n", 130)
	got := chunkGo([]byte(src))
	if len(got) != 3 || got[0].kind != "lines" || got[0].endLine != windowLines || got[1].startLine != windowLines-windowOverlap+1 {
		t.Fatalf("got %+v, want overlapping line windows", got)
	}
}

func TestChunkFileFallback(t *testing.T) {
	src := strings.Repeat("line\n", 100)
	got := chunkFile("notes.txt", []byte(src))
	if len(got) != 2 || got[1].endLine != 100 {
		t.Fatalf("got %+v", got)
	}
	if chunkFile("empty.txt", nil) != nil {
		t.Fatal("an empty file gave chunks")
	}
}

// checkChunks verifies the invariants every chunker keeps.
func checkChunks(t *testing.T, src []byte, chunks []chunk) {
	t.Helper()
	lines := countLines(src)
	for _, c := range chunks {
		if c.startLine < 1 || c.endLine < c.startLine || c.endLine > lines {
			t.Fatalf("chunk lines %d-%d out of 1-%d", c.startLine, c.endLine, lines)
		}
		if c.startByte < 0 || c.endByte > len(src) || c.startByte > c.endByte {
			t.Fatalf("chunk bytes %d-%d out of 0-%d", c.startByte, c.endByte, len(src))
		}
	}
}

func FuzzChunkGo(f *testing.F) {
	f.Add([]byte(goSample))
	f.Add([]byte("package p\nfunc (x *T[K, V]) M() {}\n"))
	f.Add([]byte("package p\n/* unterminated"))
	f.Add([]byte("package p\nfunc F() {\n\x00\xff}\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkChunks(t, src, chunkGo(src))
	})
}
