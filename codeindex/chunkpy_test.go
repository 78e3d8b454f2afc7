//go:build cgo

package codeindex

import (
	"fmt"
	"strings"
	"testing"
)

func TestChunkPython(t *testing.T) {
	src := `import os

# helper adds.
def helper(a, b):
    """Add a and b."""
    return a + b

class Store:
    """A key-value store."""
    size = 0

    def get(self, key):
        return self.data[key]

    @staticmethod
    def make():
        return Store()

print(helper(1, 2))
`
	got := chunkPython([]byte(src))
	var names []string
	for _, c := range got {
		names = append(names, fmt.Sprintf("%s:%s:%d-%d", c.kind, c.symbol, c.startLine, c.endLine))
	}
	want := []string{"module::1-1", "function:helper:3-6", "class:Store:8-11", "function:Store.get:12-13",
		"function:Store.make:15-17", "module::19-19"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("chunks\n%s\nwant\n%s", strings.Join(names, " "), strings.Join(want, " "))
	}
}

func FuzzChunkPython(f *testing.F) {
	f.Add([]byte("def f():\n    pass\n"))
	f.Add([]byte("class C:\n    @d\n    def m(self): pass\n"))
	f.Add([]byte("\xff\xfe def"))
	f.Fuzz(func(t *testing.T, src []byte) {
		checkChunks(t, src, chunkPython(src))
	})
}
