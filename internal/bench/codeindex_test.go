package bench

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// smallStdlib returns a root holding copies of the standard library's
// strings and bytes packages (non-test files), a corpus that indexes in
// seconds.
func smallStdlib(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, pkg := range []string{"strings", "bytes"} {
		dir := stdlibDir(t, pkg)
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := writeFile(filepath.Join(root, pkg, filepath.Base(f)), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// codeIndexKeys are the JSON line's keys, the contract.
var (
	codeIndexKeys       = []string{"build_s", "chunks", "files", "index_bytes", "peak_rss_mb", "query_p50_ms", "query_p99_ms", "reindex_noop_s", "results", "size_ratio", "source_bytes"}
	codeIndexResultKeys = []string{"embedder", "mode", "mrr_at_10", "recall_at_1", "recall_at_10", "retriever"}
)

// TestCodeIndexReport runs the benchmark on the strings and bytes
// packages and checks what it prints, the JSON line's keys and that
// lexical search finds most answers in mode 1; never the bars.
func TestCodeIndexReport(t *testing.T) {
	var progress bytes.Buffer
	rep, err := CodeIndex(t.Context(), CodeIndexOptions{Root: smallStdlib(t), Progress: &progress})
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"GOMAXPROCS", "loadavg", "GOROOT", "corpus", "mode 2: comments blanked", "dropped as duplicates", "queries asked (all)",
		"peak RSS of the whole process", "retrieval (", "recall@10", "MRR@10", "lexical", "vector", "hybrid",
		"incremental (mode 1", "strings/strings.go edited", "bars (", "cold build", "index size", "query p99", "peak memory",
		"no-change re-index", "mode 1, builtin: hybrid recall@10 >= 0.95", "mode 2, builtin: hybrid MRR@10 >= 0.27", "hybrid >= lexical",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if n := strings.Count(text, "\nPASS  ") + strings.Count(text, "\nFAIL  "); n != 11 {
		t.Errorf("%d bar verdicts, want 11:\n%s", n, text)
	}
	line := checkCodeIndexJSON(t, text)
	if line.Files != rep.Conditions.Files || line.Files < 10 || line.SourceBytes <= 0 || line.Chunks <= 0 || line.IndexBytes <= 0 {
		t.Errorf("JSON line %+v", line)
	}
	if len(line.Results) != 6 {
		t.Fatalf("%d results, want 6 (2 modes x 3 retrievers)", len(line.Results))
	}
	if r := line.Results[0]; r.Mode != 1 || r.Retriever != "lexical" || r.RecallAt10 <= 0.5 {
		t.Errorf("mode 1 lexical %+v: want recall@10 above 0.5", r)
	}
	if _, err := os.Stat(rep.Conditions.WorkDir); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind (%v)", rep.Conditions.WorkDir, err)
	}
	t.Logf("\n%s", text)
}

// checkCodeIndexJSON checks that text ends with exactly one JSON line
// with exactly the contract's keys, and returns it.
func checkCodeIndexJSON(t *testing.T, text string) codeIndexLine {
	t.Helper()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	last := lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "{") {
			t.Errorf("a JSON line before the last: %s", l)
		}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(last), &raw); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, last)
	}
	if keys := sortedKeys(raw); !slices.Equal(keys, codeIndexKeys) {
		t.Errorf("keys %v, want %v", keys, codeIndexKeys)
	}
	var results []map[string]any
	json.Unmarshal(raw["results"], &results)
	for _, r := range results {
		if keys := sortedKeys(r); !slices.Equal(keys, codeIndexResultKeys) {
			t.Errorf("result keys %v, want %v", keys, codeIndexResultKeys)
		}
	}
	var line codeIndexLine
	if err := json.Unmarshal([]byte(last), &line); err != nil {
		t.Fatal(err)
	}
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCodeIndexOptions(t *testing.T) {
	for _, opt := range []CodeIndexOptions{
		{Queries: -1},
		{EmbedderURL: "http://127.0.0.1:1"},
		{Root: t.TempDir()}, // no Go files
	} {
		if _, err := CodeIndex(t.Context(), opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
	keep := t.TempDir()
	os.WriteFile(filepath.Join(keep, "x"), nil, 0o644)
	if _, err := CodeIndex(t.Context(), CodeIndexOptions{Root: t.TempDir(), Keep: keep}); err == nil || !strings.Contains(err.Error(), "empty directory") {
		t.Errorf("non-empty --keep: error %v", err)
	}
}

// TestCodeIndexHTTPEmbedder adds an embeddings endpoint (a fake hashing
// words into 64 dimensions) and checks that its runs are reported beside
// the built-in embedder's, and that the key is sent and never printed.
func TestCodeIndexHTTPEmbedder(t *testing.T) {
	const key = "sk-test-SECRET"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model string   `json:"model"`
			Input []string `json:"input"`
		}
		if r.URL.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer "+key || json.NewDecoder(r.Body).Decode(&req) != nil || req.Model != "fake" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		type item struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		var resp struct {
			Data []item `json:"data"`
		}
		for i, text := range req.Input {
			resp.Data = append(resp.Data, item{Index: i, Embedding: hashedWords(text)})
		}
		json.NewEncoder(w).Encode(resp)
	}))
	defer srv.Close()
	rep, err := CodeIndex(t.Context(), CodeIndexOptions{Root: smallStdlib(t), Queries: 20,
		EmbedderURL: srv.URL, EmbedderModel: "fake", EmbedderKey: key})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.WriteText(&out)
	rep.WriteJSON(&out)
	text := out.String()
	if strings.Contains(text, key) {
		t.Error("the API key was printed")
	}
	for _, want := range []string{"http (model fake)", "mode 1, http: hybrid recall@10", "mode 2, http: hybrid >= lexical", "20 queries asked: a sample of the"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	line := checkCodeIndexJSON(t, text)
	var embedders []string
	for _, r := range line.Results {
		embedders = append(embedders, r.Embedder)
	}
	if len(line.Results) != 12 || !slices.Contains(embedders, "http:fake") {
		t.Errorf("%d results, embedders %v: want 12, with http:fake", len(line.Results), embedders)
	}
}

// hashedWords embeds text as counts of its lower-cased words hashed into
// 64 dimensions.
func hashedWords(text string) []float32 {
	v := make([]float32, 64)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) }) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%64]++
	}
	v[0] += 0.01 // never all zero
	return v
}
