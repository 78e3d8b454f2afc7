package codeindex

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"strings"
)

// chunk is a contiguous range of a file that the index returns as one
// hit: a declaration with its doc comment, or a window of lines.
type chunk struct {
	startLine, endLine int // 1-based, inclusive
	startByte, endByte int // [startByte, endByte)
	symbol, kind       string
}

// Chunking limits. A declaration longer than maxDeclLines is split into
// windows of splitLines (the first keeps the doc comment and signature);
// files without a syntax chunker are cut into windowLines-line windows that
// overlap by windowOverlap lines.
const (
	maxDeclLines  = 400
	splitLines    = 200
	windowLines   = 60
	windowOverlap = 10
)

// chunkFile splits src by the syntax of its language, chosen by the file
// name's extension; unknown languages get line windows.
func chunkFile(name string, src []byte) []chunk {
	switch strings.ToLower(path.Ext(name)) {
	case ".go":
		return chunkGo(src)
	case ".py", ".pyi":
		return chunkPython(src)
	}
	return chunkLines(src, newLineIndex(src), 1, countLines(src), "", "lines")
}

// lineIndex maps between byte offsets and 1-based line numbers.
type lineIndex []int // lineIndex[i] is the offset where line i+1 starts

func newLineIndex(src []byte) lineIndex {
	li := lineIndex{0}
	for i, c := range src {
		if c == '\n' && i+1 < len(src) {
			li = append(li, i+1)
		}
	}
	return li
}

// start returns the offset of line n's first byte.
func (li lineIndex) start(n int) int { return li[n-1] }

// end returns the offset just past line n (after its newline).
func (li lineIndex) end(n int, size int) int {
	if n < len(li) {
		return li[n]
	}
	return size
}

func countLines(src []byte) int {
	if len(src) == 0 {
		return 0
	}
	n := bytes.Count(src, []byte{'\n'})
	if src[len(src)-1] != '\n' {
		n++
	}
	return n
}

// chunkLines cuts lines [from, to] into overlapping windows.
func chunkLines(src []byte, li lineIndex, from, to int, symbol, kind string) []chunk {
	var out []chunk
	for s := from; s <= to; s += windowLines - windowOverlap {
		e := min(s+windowLines-1, to)
		out = append(out, chunk{s, e, li.start(s), li.end(e, len(src)), symbol, kind})
		if e == to {
			break
		}
	}
	return out
}

// chunkGo returns one chunk per top-level function, method, type spec and
// const/var group, each with its doc comment, plus the package doc. A file
// that does not parse at all falls back to line windows.
func chunkGo(src []byte) []chunk {
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, "", src, parser.ParseComments|parser.SkipObjectResolution)
	li := newLineIndex(src)
	if f == nil || len(f.Decls) == 0 && f.Doc == nil {
		return chunkLines(src, li, 1, countLines(src), "", "lines")
	}
	tf := fset.File(f.Pos())
	g := goChunker{src: src, li: li, tf: tf}
	if f.Doc != nil && f.Name != nil {
		g.add(f.Doc.Pos(), f.Name.End(), f.Name.Name, "package")
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			g.addFunc(d)
		case *ast.GenDecl:
			g.addGen(d)
		}
	}
	if len(g.out) == 0 {
		return chunkLines(src, li, 1, countLines(src), "", "lines")
	}
	return g.out
}

type goChunker struct {
	src []byte
	li  lineIndex
	tf  *token.File
	out []chunk
}

func (g *goChunker) addFunc(d *ast.FuncDecl) {
	start := d.Pos()
	if d.Doc != nil {
		start = d.Doc.Pos()
	}
	name, kind := d.Name.Name, "func"
	if d.Recv != nil && len(d.Recv.List) > 0 {
		name, kind = recvName(d.Recv.List[0].Type)+"."+name, "method"
	}
	g.add(start, d.End(), name, kind)
}

func recvName(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return "?"
		}
	}
}

func (g *goChunker) addGen(d *ast.GenDecl) {
	if d.Tok == token.IMPORT || len(d.Specs) == 0 {
		return
	}
	start := d.Pos()
	if d.Doc != nil {
		start = d.Doc.Pos()
	}
	if d.Tok != token.TYPE || !d.Lparen.IsValid() {
		g.add(start, d.End(), specName(d.Specs[0]), d.Tok.String())
		return
	}
	for _, s := range d.Specs {
		ts := s.(*ast.TypeSpec)
		start, end := ts.Pos(), ts.End()
		if ts.Doc != nil {
			start = ts.Doc.Pos()
		}
		if ts.Comment != nil && ts.Comment.End() > end {
			end = ts.Comment.End()
		}
		g.add(start, end, ts.Name.Name, "type")
	}
}

func specName(s ast.Spec) string {
	switch s := s.(type) {
	case *ast.TypeSpec:
		return s.Name.Name
	case *ast.ValueSpec:
		if len(s.Names) > 0 {
			return s.Names[0].Name
		}
	}
	return ""
}

// add records the declaration spanning [from, to) as whole lines, split
// into windows when it is longer than maxDeclLines.
func (g *goChunker) add(from, to token.Pos, symbol, kind string) {
	if !from.IsValid() || !to.IsValid() || to <= from {
		return
	}
	base := g.tf.Base()
	so, eo := int(from)-base, int(to)-base
	if so < 0 || eo > len(g.src) || so >= eo {
		return
	}
	sl, el := g.tf.Line(from), g.tf.Line(to-1)
	if el-sl+1 > maxDeclLines {
		for s := sl; s <= el; s += splitLines {
			e := min(s+splitLines-1, el)
			g.out = append(g.out, chunk{s, e, g.li.start(s), g.li.end(e, len(g.src)), symbol, kind})
		}
		return
	}
	g.out = append(g.out, chunk{sl, el, g.li.start(sl), g.li.end(el, len(g.src)), symbol, kind})
}
