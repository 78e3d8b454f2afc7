package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmux/llmux/codeindex"
)

func TestSearchCommand(t *testing.T) {
	root := codeRepo(t)
	if _, errOut, err := runIndexCLI(t, "index", root); err != nil {
		t.Fatalf("index: %v\n%s", err, errOut)
	}

	out, _, err := runIndexCLI(t, "search", "--root", root, "wait", "before", "the", "next", "retry")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(out, "\n", 3)
	if len(first) < 2 || !strings.HasPrefix(first[0], "retry/backoff.go:3-6  Backoff  ") || first[1] != "    func Backoff(attempt int) int {" {
		t.Fatalf("output %q", out)
	}

	out, _, err = runIndexCLI(t, "search", "--root", root, "--json", "--mode", "lexical", "--k", "1", "value stored under key")
	if err != nil {
		t.Fatal(err)
	}
	var hits []codeindex.Hit
	if err := json.Unmarshal([]byte(out), &hits); err != nil || len(hits) != 1 || hits[0].Location() != "kv/store.go:3-6" || hits[0].Kind != "func" {
		t.Fatalf("json %q: %v", out, err)
	}
	if out, _, err = runIndexCLI(t, "search", "--root", root, "--json", "zzzznothing"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("no hits: %q, %v", out, err)
	}

	batch := filepath.Join(t.TempDir(), "q.jsonl")
	os.WriteFile(batch, []byte(`{"id": 7, "query": "retry attempt wait"}`+"\n\n"+`{"id": {"k": ["x"]}, "query": "value stored under key"}`+"\n"), 0o644)
	out, _, err = runIndexCLI(t, "search", "--root", root, "--batch", batch, "--k", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"id":7,"hits":["retry/backoff.go:3-6"`) || !strings.HasPrefix(lines[1], `{"id":{"k":["x"]},"hits":["kv/store.go:3-6"`) {
		t.Fatalf("batch output %q", out)
	}
}

func TestSearchCommandIndexDir(t *testing.T) {
	root := codeRepo(t)
	dir := filepath.Join(t.TempDir(), "idx")
	if _, errOut, err := runIndexCLI(t, "index", root, "--index-dir", dir); err != nil {
		t.Fatalf("index: %v\n%s", err, errOut)
	}
	// No --root: the root comes from the index.
	out, _, err := runIndexCLI(t, "search", "--index-dir", dir, "--mode", "vector", "retry attempt")
	if err != nil || !strings.Contains(out, "retry/backoff.go:3-6") {
		t.Fatalf("search: %q, %v", out, err)
	}
}

func TestSearchCommandErrors(t *testing.T) {
	root := codeRepo(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no query", []string{"search", "--root", root}, "give a QUERY or --batch FILE"},
		{"no index", []string{"search", "--root", root, "x"}, "run llmux index first"},
		{"bad mode", []string{"search", "--root", root, "--mode", "fuzzy", "x"}, "unknown mode"},
		{"bad k", []string{"search", "--root", root, "--k", "0", "x"}, "--k 0"},
		{"both", []string{"search", "--root", root, "--batch", "f", "x"}, "not both"},
		{"missing root", []string{"search", "--root", filepath.Join(root, "nope"), "x"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runIndexCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := runIndexCLI(t, "index", root); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"id\":1,\"query\":\"x\"}\nnot json\n"), 0o644)
	if _, _, err := runIndexCLI(t, "search", "--root", root, "--batch", bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl:2") {
		t.Fatalf("bad batch line: %v", err)
	}
}
