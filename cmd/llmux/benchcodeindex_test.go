package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBenchCodeIndexJSON runs `bench codeindex --json` on a copy of the
// standard library's strings package and checks that the output is one
// JSON line with the contract's keys.
func TestBenchCodeIndexJSON(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src", "strings")
	root := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(src, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"bench", "codeindex", "--root", root, "--queries", "20", "--json"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 {
		t.Fatalf("--json printed %d lines:\n%s", n, stdout.String())
	}
	var line map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	var keys []string
	for k := range line {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"build_s", "chunks", "files", "index_bytes", "peak_rss_mb", "query_p50_ms", "query_p99_ms", "reindex_noop_s", "results", "size_ratio", "source_bytes"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if results, _ := line["results"].([]any); len(results) != 6 {
		t.Errorf("%d results, want 6", len(results))
	}
}

func TestBenchCodeIndexFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--queries", "-1"},
		{"--embedder-url", "http://127.0.0.1:1"},
		{"--embedder-model", "m"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append([]string{"bench", "codeindex"}, args...), &stdout, &stderr); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
