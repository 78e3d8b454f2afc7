//go:build !cgo

package codeindex

// pythonSyntax reports whether Python is chunked by its syntax (with cgo).
const pythonSyntax = false

// chunkPython without cgo (no tree-sitter) cuts Python into line windows.
func chunkPython(src []byte) []chunk {
	return chunkLines(src, newLineIndex(src), 1, countLines(src), "", "lines")
}
