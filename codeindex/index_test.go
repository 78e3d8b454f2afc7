package codeindex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeTree writes files (slash paths relative to root) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleRepo is a small repository with a few distinct topics.
func sampleRepo() map[string]string {
	return map[string]string{
		"go.mod": "module example.com/demo\n",
		"store/store.go": `package store

// Store keeps values by key in memory.
type Store struct{ data map[string][]byte }

// Get returns the value stored under key.
func (s *Store) Get(key string) ([]byte, bool) {
	v, ok := s.data[key]
	return v, ok
}

// Put saves value under key, replacing any previous value.
func (s *Store) Put(key string, value []byte) { s.data[key] = value }
`,
		"net/retry.go": `package net

import "time"

// Backoff returns how long to wait before the given retry attempt,
// doubling the delay each time up to a maximum.
func Backoff(attempt int, base, maxDelay time.Duration) time.Duration {
	d := base << attempt
	if d > maxDelay || d <= 0 {
		return maxDelay
	}
	return d
}
`,
		"util/strings.go": `package util

import "strings"

// ReverseWords reverses the order of the words in a sentence.
func ReverseWords(sentence string) string {
	words := strings.Fields(sentence)
	for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
		words[i], words[j] = words[j], words[i]
	}
	return strings.Join(words, " ")
}
`,
		"scripts/tool.py": `import sys

def parse_arguments(argv):
    """Parse the command line arguments into a dictionary."""
    return dict(a.split("=") for a in argv)
`,
		"README.md": "# Demo\n\nA demo repository for the code index.\n",
	}
}

func openTest(t testing.TB, root string, opts Options) *Index {
	t.Helper()
	ix, err := Open(context.Background(), root, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func mustUpdate(t testing.TB, ix *Index, paths ...string) UpdateStats {
	t.Helper()
	st, err := ix.Update(context.Background(), paths...)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	return st
}

func search(t testing.TB, ix *Index, q string, mode Mode) []Hit {
	t.Helper()
	hits, err := ix.Search(context.Background(), q, SearchOptions{K: 5, Mode: mode})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return hits
}

func TestIndexAndSearch(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	ix := openTest(t, root, Options{})
	st := mustUpdate(t, ix)
	if st.Files != 6 || st.Changed != 6 || st.Chunks < 8 || st.SourceBytes == 0 || st.IndexBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, mode := range []Mode{ModeLexical, ModeHybrid} {
		hits := search(t, ix, "wait before retry attempt", mode)
		if len(hits) == 0 || hits[0].Path != "net/retry.go" || hits[0].Symbol != "Backoff" || hits[0].Kind != "func" {
			t.Fatalf("%s: hits %+v", mode, hits)
		}
		h := hits[0]
		if h.StartLine != 5 || h.EndLine != 13 || h.Location() != "net/retry.go:5-13" {
			t.Errorf("%s: location %s", mode, h.Location())
		}
		if h.Snippet != "func Backoff(attempt int, base, maxDelay time.Duration) time.Duration {\nd := base << attempt" {
			t.Errorf("%s: snippet %q", mode, h.Snippet)
		}
	}
	hits := search(t, ix, "parse command line arguments", ModeHybrid)
	if len(hits) == 0 || hits[0].Path != "scripts/tool.py" || pythonSyntax && hits[0].Symbol != "parse_arguments" {
		t.Fatalf("python: hits %+v", hits)
	}
	if hits := search(t, ix, "Store.Get value key", ModeLexical); len(hits) == 0 || hits[0].Symbol != "Store.Get" {
		t.Fatalf("method: hits %+v", hits)
	}
	if hits := search(t, ix, "value stored under key", ModeVector); len(hits) == 0 {
		t.Fatal("vector search found nothing")
	}
	if hits := search(t, ix, "zzzunknownword", ModeHybrid); len(hits) != 0 {
		t.Fatalf("unknown word: hits %+v", hits)
	}
	gi, err := os.ReadFile(filepath.Join(root, ".llmux", ".gitignore"))
	if err != nil || string(gi) != "*\n" {
		t.Fatalf(".llmux/.gitignore = %q, %v", gi, err)
	}
	s := ix.Stats()
	if s.Files != 6 || s.Chunks != st.Chunks || s.Embedder != builtinName || s.IndexBytes != st.IndexBytes {
		t.Fatalf("Stats %+v after %+v", s, st)
	}
}

func TestIncrementalUpdate(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	ix := openTest(t, root, Options{})
	mustUpdate(t, ix)

	st := mustUpdate(t, ix)
	if st.Changed != 0 || st.Removed != 0 || st.Files != 6 {
		t.Fatalf("no-op update: %+v", st)
	}
	gen := ix.snap.Load().m.Generation

	writeTree(t, root, map[string]string{"util/strings.go": sampleRepo()["util/strings.go"] + `
// CountVowels counts the vowels of a word.
func CountVowels(word string) int { return strings.Count(word, "a") }
`})
	st = mustUpdate(t, ix)
	if st.Changed != 1 || st.Removed != 0 {
		t.Fatalf("one edit: %+v", st)
	}
	if hits := search(t, ix, "counts the vowels", ModeLexical); len(hits) == 0 || hits[0].Symbol != "CountVowels" {
		t.Fatalf("edited file not searchable: %+v", hits)
	}
	if ix.snap.Load().m.Generation != gen+1 {
		t.Fatal("edit did not commit a new generation")
	}

	if err := os.Remove(filepath.Join(root, "net", "retry.go")); err != nil {
		t.Fatal(err)
	}
	st = mustUpdate(t, ix)
	if st.Removed != 1 || st.Files != 5 {
		t.Fatalf("removal: %+v", st)
	}
	for _, h := range search(t, ix, "wait before retry attempt", ModeHybrid) {
		if h.Path == "net/retry.go" {
			t.Fatalf("removed file still found: %+v", h)
		}
	}

	// Explicit paths: a new file, and a deleted one given by name.
	writeTree(t, root, map[string]string{"extra/hash.go": "package extra\n\n// Checksum hashes the payload.\nfunc Checksum(p []byte) uint32 { return 0 }\n"})
	st = mustUpdate(t, ix, "extra/hash.go", filepath.Join(root, "store", "gone.go"))
	if st.Changed != 1 || st.Files != 6 {
		t.Fatalf("update(paths): %+v", st)
	}
	os.Remove(filepath.Join(root, "extra", "hash.go"))
	if st = mustUpdate(t, ix, "extra/hash.go"); st.Removed != 1 || st.Files != 5 {
		t.Fatalf("update(deleted path): %+v", st)
	}
	if _, err := ix.Update(context.Background(), "../outside.go"); err == nil {
		t.Fatal("a path outside the root was accepted")
	}

	// A second Index on the same directory sees the committed state.
	ix2 := openTest(t, root, Options{})
	if got, want := ix2.Stats(), ix.Stats(); got != want {
		t.Fatalf("reopened stats %+v, want %+v", got, want)
	}
}

func TestRetrainAndMerge(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("p%d/f.go", i)] = fmt.Sprintf("package p%d\n\n// Alpha%d computes alpha number %d.\nfunc Alpha%d() int { return %d }\n", i, i, i, i, i)
	}
	writeTree(t, root, files)
	ix := openTest(t, root, Options{})
	mustUpdate(t, ix)
	trained := ix.snap.Load().m.TrainedChunks
	if trained != 40 {
		t.Fatalf("trained on %d chunks, want 40", trained)
	}
	// Small edits fold in: the model stays, segments accumulate, then merge.
	for i := range 12 {
		writeTree(t, root, map[string]string{fmt.Sprintf("p%d/f.go", i): fmt.Sprintf("package p%d\n\n// Beta%d is edited.\nfunc Beta%d() {}\n", i, i, i)})
		mustUpdate(t, ix)
		s := ix.snap.Load()
		if len(s.segs) > maxSegments {
			t.Fatalf("%d segments after %d edits", len(s.segs), i+1)
		}
		if i < 7 && s.m.TrainedChunks != trained {
			t.Fatalf("edit %d retrained the model (%d > %.0f%% of %d?)", i, s.m.FoldedChunks, retrainFraction*100, trained)
		}
	}
	s := ix.snap.Load()
	if s.m.FoldedChunks != 0 && s.m.FoldedChunks > int(retrainFraction*float64(s.m.TrainedChunks)) {
		t.Fatalf("folded %d chunks on a model of %d: should have retrained", s.m.FoldedChunks, s.m.TrainedChunks)
	}
	if hits := search(t, ix, "Beta11 edited", ModeLexical); len(hits) == 0 || hits[0].Symbol != "Beta11" {
		t.Fatalf("hits %+v", hits)
	}
	if hits := search(t, ix, "Alpha30", ModeLexical); len(hits) == 0 || hits[0].Symbol != "Alpha30" {
		t.Fatalf("hits %+v", hits)
	}
	if st := mustUpdate(t, ix); st.Files != 40 || st.Chunks != 40 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWalkRules(t *testing.T) {
	root := t.TempDir()
	big := strings.Repeat("// padding line for the size limit\n", 40)
	writeTree(t, root, map[string]string{
		".gitignore":                  "*.log\nbuild/\n",
		"keep.go":                     "package k\n\n// Keep is kept.\nfunc Keep() {}\n",
		"app.log":                     "ignored by the root .gitignore\n",
		"build/out.go":                "package build\n",
		"sub/.gitignore":              "secret.go\n",
		"sub/secret.go":               "package sub\n",
		"sub/open.go":                 "package sub\n\n// Open is found.\nfunc Open() {}\n",
		"vendor/dep/dep.go":           "package dep\n",
		"node_modules/x/index.js":     "module.exports = 1\n",
		"third_party/lib.go":          "package lib\n",
		".git/config":                 "[core]\n",
		"gen.go":                      "// Code generated by stringer; DO NOT EDIT.\n\npackage k\n\nfunc x() {}\n",
		"api.pb.go":                   "package k\n",
		"bin.go":                      "package k\x00\x01\x02",
		"large.go":                    "package k\n" + big,
		"latin1.go":                   "package k\n\n// Caf\xe9 serves coffee.\nfunc Cafe() {}\n",
		"min.js":                      strings.Repeat("var a=1;", 800),
		"documented_generated_api.go": "// Code generated by gen. DO NOT EDIT.\n\npackage k\n\n// Exported does things.\nfunc Exported() {}\n",
	})
	var logs bytes.Buffer
	ix := openTest(t, root, Options{MaxFileBytes: 1000, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	mustUpdate(t, ix)
	var got []string
	for p := range ix.snap.Load().files {
		got = append(got, p)
	}
	want := map[string]bool{"keep.go": true, "sub/open.go": true, "latin1.go": true, ".gitignore": true, "sub/.gitignore": true}
	if len(got) != len(want) {
		t.Errorf("indexed %q, want %d files", got, len(want))
	}
	for _, p := range got {
		if !want[p] {
			t.Errorf("indexed %s, which should be skipped", p)
		}
	}
	if !strings.Contains(logs.String(), "large.go") {
		t.Errorf("no log line for the oversized file:\n%s", logs.String())
	}
	sk := ix.snap.Load().m.Skipped
	for _, p := range []string{"gen.go", "api.pb.go", "bin.go", "large.go", "min.js"} {
		if _, ok := sk[p]; !ok {
			t.Errorf("%s not recorded as skipped: %v", p, sk)
		}
	}
	gen := ix.snap.Load().m.Generation
	logs.Reset()
	if st := mustUpdate(t, ix); st.Changed != 0 || ix.snap.Load().m.Generation != gen || strings.Contains(logs.String(), "large.go") {
		t.Errorf("no-op update re-read skipped files or committed: %+v\n%s", st, logs.String())
	}
	os.Remove(filepath.Join(root, "bin.go"))
	mustUpdate(t, ix)
	if _, ok := ix.snap.Load().m.Skipped["bin.go"]; ok {
		t.Error("a deleted skipped file stays in the manifest")
	}
	if hits := search(t, ix, "serves coffee", ModeLexical); len(hits) == 0 || hits[0].Path != "latin1.go" {
		t.Errorf("invalid UTF-8 file not searchable: %+v", hits)
	}
}

func TestBadInputs(t *testing.T) {
	t.Run("missing root", func(t *testing.T) {
		_, err := Open(context.Background(), filepath.Join(t.TempDir(), "nope"), Options{})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("root is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, nil, 0o644)
		if _, err := Open(context.Background(), f, Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"a.go": "package a\n\n// A is readable.\nfunc A() {}\n", "b.go": "package a\n\nfunc B() {}\n"})
		p := filepath.Join(root, "b.go")
		os.Chmod(p, 0)
		if _, err := os.ReadFile(p); err == nil {
			t.Skip("running with privileges that read any file")
		}
		var logs bytes.Buffer
		ix := openTest(t, root, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		st := mustUpdate(t, ix)
		if st.Files != 1 || !strings.Contains(logs.String(), "b.go") {
			t.Fatalf("stats %+v, logs %s", st, logs.String())
		}
	})
	t.Run("symlink loop", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"d/a.go": "package d\n\n// A is here.\nfunc A() {}\n"})
		if err := os.Symlink(root, filepath.Join(root, "d", "loop")); err != nil {
			t.Skip("no symlinks:", err)
		}
		os.Symlink("a.go", filepath.Join(root, "d", "link.go"))
		ix := openTest(t, root, Options{})
		if st := mustUpdate(t, ix); st.Files != 1 {
			t.Fatalf("stats %+v: symlinks followed", st)
		}
	})
	t.Run("many files", func(t *testing.T) {
		root := t.TempDir()
		files := map[string]string{}
		for i := range 3000 {
			files[fmt.Sprintf("d%02d/f%04d.go", i%50, i)] = fmt.Sprintf("package d\n\n// F%d is number %d.\nfunc F%d() {}\n", i, i, i)
		}
		writeTree(t, root, files)
		ix := openTest(t, root, Options{})
		if st := mustUpdate(t, ix); st.Files != 3000 || st.Chunks != 3000 {
			t.Fatalf("stats %+v", st)
		}
		if hits := search(t, ix, "F2999", ModeHybrid); len(hits) == 0 || hits[0].Symbol != "F2999" {
			t.Fatalf("hits %+v", hits)
		}
		start := time.Now()
		if st := mustUpdate(t, ix); st.Changed != 0 {
			t.Fatalf("no-op: %+v", st)
		}
		t.Logf("no-op update of 3000 files: %v", time.Since(start))
	})
	t.Run("empty repository", func(t *testing.T) {
		ix := openTest(t, t.TempDir(), Options{})
		if st := mustUpdate(t, ix); st.Files != 0 {
			t.Fatalf("stats %+v", st)
		}
		if hits := search(t, ix, "anything", ModeHybrid); len(hits) != 0 {
			t.Fatalf("hits %+v", hits)
		}
	})
}

func TestCancelledUpdateKeepsLastIndex(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	dir := filepath.Join(t.TempDir(), "idx")
	ix := openTest(t, root, Options{IndexDir: dir})
	first := mustUpdate(t, ix)

	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("more/f%03d.go", i)] = fmt.Sprintf("package more\n\n// G%d does %d.\nfunc G%d() {}\n", i, i, i)
	}
	writeTree(t, root, files)
	ctx, cancel := context.WithCancel(context.Background())
	ix2 := openTest(t, root, Options{IndexDir: dir, Progress: func(done, total int) {
		if done == 10 {
			cancel()
		}
	}})
	if _, err := ix2.Update(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled update: %v", err)
	}
	ix3 := openTest(t, root, Options{IndexDir: dir})
	if got := ix3.Stats(); got.Files != first.Files || got.Chunks != first.Chunks {
		t.Fatalf("after cancel: %+v, want the first index %+v", got, first)
	}
	if st := mustUpdate(t, ix3); st.Files != first.Files+200 {
		t.Fatalf("update after cancel: %+v", st)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestCorruptIndex(t *testing.T) {
	for _, target := range []string{"manifest", "seg-", "model-"} {
		t.Run(target, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, sampleRepo())
			ix := openTest(t, root, Options{})
			mustUpdate(t, ix)
			dir := filepath.Join(root, ".llmux")
			ents, _ := os.ReadDir(dir)
			var victim string
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), target) {
					victim = filepath.Join(dir, e.Name())
				}
			}
			data, err := os.ReadFile(victim)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			os.WriteFile(victim, data, 0o644)
			_, err = Open(context.Background(), root, Options{})
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open after flipping a byte of %s: %v", filepath.Base(victim), err)
			}
			// The documented recovery: drop the manifest and update.
			os.Remove(filepath.Join(dir, manifestName))
			ix2 := openTest(t, root, Options{})
			if st := mustUpdate(t, ix2); st.Files != 6 {
				t.Fatalf("rebuild: %+v", st)
			}
		})
	}
}

func TestConcurrentSearchDuringUpdate(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	ix := openTest(t, root, Options{})
	mustUpdate(t, ix)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				hits, err := ix.Search(ctx, "wait before retry attempt", SearchOptions{})
				if err != nil && ctx.Err() == nil {
					t.Errorf("search: %v", err)
					return
				}
				if err == nil && (len(hits) == 0 || hits[0].Symbol != "Backoff") {
					t.Errorf("hits during update: %+v", hits)
					return
				}
			}
		}()
	}
	for i := range 5 {
		writeTree(t, root, map[string]string{fmt.Sprintf("x/f%d.go", i): fmt.Sprintf("package x\n\n// H%d helps.\nfunc H%d() {}\n", i, i)})
		mustUpdate(t, ix)
	}
	cancel()
	wg.Wait()
}

func TestLocked(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	ix := openTest(t, root, Options{})
	dir := filepath.Join(root, ".llmux")
	if err := ensureDir(dir); err != nil {
		t.Fatal(err)
	}
	lk, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.unlock()
	if _, err := ix.Update(context.Background()); !errors.Is(err, ErrLocked) {
		t.Fatalf("update while locked: %v", err)
	}
}

func TestSnippetAfterChange(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	ix := openTest(t, root, Options{})
	mustUpdate(t, ix)
	writeTree(t, root, map[string]string{"net/retry.go": "package net\n\n// changed\n"})
	hits := search(t, ix, "wait before retry attempt", ModeLexical)
	if len(hits) == 0 || hits[0].Snippet != "(file changed since indexing)" {
		t.Fatalf("hits %+v", hits)
	}
	os.Remove(filepath.Join(root, "net", "retry.go"))
	if hits = search(t, ix, "wait before retry attempt", ModeLexical); hits[0].Snippet != "(file removed since indexing)" {
		t.Fatalf("hits %+v", hits)
	}
}

func TestIndexOutsideTree(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, sampleRepo())
	dir := filepath.Join(t.TempDir(), "index")
	ix := openTest(t, root, Options{IndexDir: dir})
	mustUpdate(t, ix)
	if _, err := os.Stat(filepath.Join(root, ".llmux")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("index dir created inside the tree: %v", err)
	}
	// Root read from the index.
	ix2 := openTest(t, "", Options{IndexDir: dir})
	if hits := search(t, ix2, "reverses the order of words", ModeHybrid); len(hits) == 0 || hits[0].Symbol != "ReverseWords" {
		t.Fatalf("hits %+v", hits)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeHybrid, ModeLexical, ModeVector} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("fuzzy"); err == nil {
		t.Error("ParseMode accepted fuzzy")
	}
}
