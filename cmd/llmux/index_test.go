package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// codeRepo writes a small repository for the index and search commands.
func codeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range map[string]string{
		"retry/backoff.go": "package retry\n\n// Backoff returns how long to wait before the next retry attempt.\nfunc Backoff(attempt int) int {\n\treturn 1 << attempt\n}\n",
		"kv/store.go":      "package kv\n\n// Get returns the value stored under key.\nfunc Get(key string) string {\n\treturn key\n}\n",
		"docs/notes.md":    "# Notes\n\nNothing to see.\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func runIndexCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestIndexCommand(t *testing.T) {
	root := codeRepo(t)
	out, errOut, err := runIndexCLI(t, "index", root)
	if err != nil {
		t.Fatalf("index: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "indexed 3 files (3 changed, 0 removed)") || !strings.Contains(out, "embedder builtin-lsa") {
		t.Fatalf("output %q", out)
	}
	if !strings.Contains(errOut, "indexing: 3/3") {
		t.Errorf("no progress lines on a non-terminal: %q", errOut)
	}
	if out, _, err = runIndexCLI(t, "index", root); err != nil || !strings.Contains(out, "(0 changed, 0 removed)") {
		t.Fatalf("re-index: %q, %v", out, err)
	}

	// A damaged index is reported and rebuilt.
	dir := filepath.Join(root, ".llmux")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "seg-") {
			p := filepath.Join(dir, e.Name())
			data, _ := os.ReadFile(p)
			data[len(data)-3] ^= 0x55
			os.WriteFile(p, data, 0o644)
		}
	}
	out, errOut, err = runIndexCLI(t, "index", root)
	if err != nil || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, "rebuilding") || !strings.Contains(out, "indexed 3 files (3 changed") {
		t.Fatalf("rebuild: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
}

func TestIndexCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{"index", filepath.Join(t.TempDir(), "absent")}, "no such file"},
		{"bad embedder", []string{"index", t.TempDir(), "--embedder", "magic"}, "--embedder must be builtin or http"},
		{"http without url", []string{"index", t.TempDir(), "--embedder", "http"}, "needs --embed-url and --embed-model"},
		{"two paths", []string{"index", "a", "b"}, "accepts at most 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runIndexCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
