//go:build cgo

package codeindex

import (
	"bytes"
	"sort"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// pythonSyntax reports whether Python is chunked by its syntax (with cgo).
const pythonSyntax = true

// chunkPython returns one chunk per top-level function, per class (its
// header, docstring and attributes up to the first method) and per method
// ("Class.method"), each with the decorators and the comment lines just
// above it; module-level code between them is cut into line windows.
func chunkPython(src []byte) []chunk {
	li := newLineIndex(src)
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(sitter.NewLanguage(python.Language())); err != nil {
		return chunkLines(src, li, 1, countLines(src), "", "lines")
	}
	tree := p.Parse(src, nil)
	if tree == nil {
		return chunkLines(src, li, 1, countLines(src), "", "lines")
	}
	defer tree.Close()
	pc := pyChunker{src: src, li: li}
	root := tree.RootNode()
	for i := uint(0); i < root.NamedChildCount(); i++ {
		pc.definition(root.NamedChild(i), "")
	}
	return pc.withGaps()
}

type pyChunker struct {
	src []byte
	li  lineIndex
	out []chunk
}

// definition adds n if it is a (decorated) function or class definition;
// methods of classes are named "Class.method".
func (pc *pyChunker) definition(n *sitter.Node, enclosing string) {
	outer := n
	if n.Kind() == "decorated_definition" {
		if n = n.ChildByFieldName("definition"); n == nil {
			return
		}
	}
	nameNode := n.ChildByFieldName("name")
	if nameNode == nil {
		return
	}
	name := nameNode.Utf8Text(pc.src)
	if enclosing != "" {
		name = enclosing + "." + name
	}
	start := pc.commentStart(int(outer.StartPosition().Row) + 1)
	end := int(outer.EndPosition().Row) + 1
	if outer.EndPosition().Column == 0 && end > start {
		end--
	}
	switch n.Kind() {
	case "function_definition":
		pc.add(start, end, name, "function")
	case "class_definition":
		body := n.ChildByFieldName("body")
		first := end
		var methods []*sitter.Node
		if body != nil {
			for i := uint(0); i < body.NamedChildCount(); i++ {
				c := body.NamedChild(i)
				if k := c.Kind(); k == "function_definition" || k == "decorated_definition" || k == "class_definition" {
					methods = append(methods, c)
					first = min(first, pc.commentStart(int(c.StartPosition().Row)+1)-1)
				}
			}
		}
		pc.add(start, max(first, start), name, "class")
		for _, m := range methods {
			pc.definition(m, name)
		}
	}
}

// commentStart moves line up over the "#" comment lines directly above it.
func (pc *pyChunker) commentStart(line int) int {
	for line > 1 {
		prev := bytes.TrimSpace(pc.src[pc.li.start(line-1):pc.li.end(line-1, len(pc.src))])
		if len(prev) == 0 || prev[0] != '#' {
			break
		}
		line--
	}
	return line
}

func (pc *pyChunker) add(start, end int, symbol, kind string) {
	last := len(pc.li)
	start, end = max(start, 1), min(end, last)
	if start > end {
		return
	}
	if end-start+1 > maxDeclLines {
		for s := start; s <= end; s += splitLines {
			e := min(s+splitLines-1, end)
			pc.out = append(pc.out, chunk{s, e, pc.li.start(s), pc.li.end(e, len(pc.src)), symbol, kind})
		}
		return
	}
	pc.out = append(pc.out, chunk{start, end, pc.li.start(start), pc.li.end(end, len(pc.src)), symbol, kind})
}

// withGaps returns the chunks in line order plus line windows over the
// non-blank lines no chunk covers (imports, module-level statements).
func (pc *pyChunker) withGaps() []chunk {
	sort.Slice(pc.out, func(i, j int) bool { return pc.out[i].startLine < pc.out[j].startLine })
	var all []chunk
	next := 1 // first line not yet covered
	gap := func(to int) {
		for next <= to && pc.blank(next) {
			next++
		}
		for to >= next && pc.blank(to) {
			to--
		}
		if next <= to {
			all = append(all, chunkLines(pc.src, pc.li, next, to, "", "module")...)
		}
	}
	for _, c := range pc.out {
		gap(c.startLine - 1)
		all = append(all, c)
		next = max(next, c.endLine+1)
	}
	gap(countLines(pc.src))
	return all
}

func (pc *pyChunker) blank(line int) bool {
	return len(bytes.TrimSpace(pc.src[pc.li.start(line):pc.li.end(line, len(pc.src))])) == 0
}
