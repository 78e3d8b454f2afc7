package codeindex

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEmbeddings is an OpenAI-compatible embeddings server whose vectors
// hash words into 32 buckets, so texts sharing words are similar.
type fakeEmbeddings struct {
	mu       sync.Mutex
	requests int
	inputs   int
	sent     map[string]int
	failFrom int         // answer 500 from this request on (0: never)
	throttle int         // answer 429 to this many requests first
	header   http.Header // of the last request
}

func (f *fakeEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.header = r.Header.Clone()
	if r.URL.Path != "/v1/embeddings" {
		http.Error(w, "no such path "+r.URL.Path, http.StatusNotFound)
		return
	}
	if f.throttle > 0 {
		f.throttle--
		w.Header().Set("Retry-After-Ms", "5")
		http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
		return
	}
	if f.failFrom > 0 && f.requests >= f.failFrom {
		http.Error(w, `{"error":"down"}`, http.StatusInternalServerError)
		return
	}
	var req embedRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != "test-model" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	type item struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var out struct {
		Data []item `json:"data"`
	}
	for i, text := range req.Input {
		f.inputs++
		if f.sent == nil {
			f.sent = map[string]int{}
		}
		f.sent[text]++
		out.Data = append(out.Data, item{i, hashVector(text)})
	}
	// Answer out of order: the client must sort by index.
	for i, j := 0, len(out.Data)-1; i < j; i, j = i+1, j-1 {
		out.Data[i], out.Data[j] = out.Data[j], out.Data[i]
	}
	json.NewEncoder(w).Encode(out)
}

func hashVector(text string) []float32 {
	v := make([]float32, 32)
	for _, w := range tokenize(nil, text) {
		h := fnv.New32a()
		h.Write([]byte(w))
		v[h.Sum32()%32]++
	}
	v[0] += 0.01
	return v
}

func newTestEmbedder(url string) (*httpEmbedder, *[]time.Duration) {
	e := NewHTTPEmbedder(url, "sk-test-SECRET", "test-model").(*httpEmbedder)
	var waits []time.Duration
	e.wait = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	return e, &waits
}

func TestHTTPEmbedder(t *testing.T) {
	fake := &fakeEmbeddings{throttle: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, waits := newTestEmbedder(srv.URL)
	texts := make([]string, 150)
	for i := range texts {
		texts[i] = fmt.Sprintf("text number %d about widgets", i)
	}
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 150 || fake.inputs != 150 || fake.requests != 3+2 {
		t.Fatalf("%d vectors, %d inputs, %d requests; want 150, 150, 5 (3 batches + 2 throttled)", len(vs), fake.inputs, fake.requests)
	}
	for i, v := range vs {
		if fmt.Sprint(v) != fmt.Sprint(hashVector(texts[i])) {
			t.Fatalf("vector %d out of order", i)
		}
	}
	if len(*waits) != 2 || (*waits)[0] != 5*time.Millisecond {
		t.Fatalf("waits %v, want two of 5ms (retry-after-ms)", *waits)
	}
	if got := fake.header.Get("Authorization"); got != "Bearer sk-test-SECRET" {
		t.Fatalf("authorization %q", got)
	}
	if e.Name() != "http:test-model" || strings.Contains(fmt.Sprintf("%v %+v %#v", e, e, e), "SECRET") {
		t.Fatal("the key shows when the embedder is printed")
	}
}

func TestHTTPEmbedderErrors(t *testing.T) {
	t.Run("retries exhausted", func(t *testing.T) {
		fake := &fakeEmbeddings{throttle: 100}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		e, waits := newTestEmbedder(srv.URL)
		_, err := e.Embed(context.Background(), []string{"x"})
		if err == nil || !strings.Contains(err.Error(), "429") || len(*waits) != e.retries {
			t.Fatalf("err %v after %d waits", err, len(*waits))
		}
	})
	t.Run("client error not retried", func(t *testing.T) {
		srv := httptest.NewServer(&fakeEmbeddings{})
		defer srv.Close()
		e, waits := newTestEmbedder(srv.URL + "/nope")
		_, err := e.Embed(context.Background(), []string{"x"})
		if err == nil || !strings.Contains(err.Error(), "404") || len(*waits) != 0 || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err %v after %d waits", err, len(*waits))
		}
	})
	t.Run("retry-after header", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			h    http.Header
			want time.Duration
		}{
			{"ms", http.Header{"Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
			{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
			{"capped", http.Header{"Retry-After": {"3600"}}, time.Minute},
			{"backoff", http.Header{}, 4 * time.Second},
		} {
			if got := retryDelay(tc.h, 2); got != tc.want {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func TestIndexWithHTTPEmbedderResumes(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 100 {
		files[fmt.Sprintf("f%03d.go", i)] = fmt.Sprintf("package p\n\n// Widget%d polishes widget number %d.\nfunc Widget%d() {}\n", i, i, i)
	}
	files["gizmo.go"] = "package p\n\n// Gizmo frobnicates gizmos.\nfunc Gizmo() {}\n"
	writeTree(t, root, files)
	fake := &fakeEmbeddings{failFrom: 2}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	e, _ := newTestEmbedder(srv.URL)
	e.retries = 0
	ix := openTest(t, root, Options{Embedder: e})
	if _, err := ix.Update(context.Background()); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("update with a failing server: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, ".llmux", cacheName)); err != nil {
		t.Fatalf("no embedding cache after an interrupted run: %v", err)
	}
	fake.mu.Lock()
	fake.failFrom = 0
	fake.mu.Unlock()
	st := mustUpdate(t, ix)
	if st.Files != 101 || st.Chunks != 101 {
		t.Fatalf("stats %+v", st)
	}
	for text, n := range fake.sent {
		if n > 1 {
			t.Fatalf("%q embedded %d times: the cache was not used", text, n)
		}
	}
	if fake.inputs != 101 {
		t.Fatalf("%d texts embedded, want 101", fake.inputs)
	}
	if _, err := os.Stat(filepath.Join(root, ".llmux", cacheName)); err == nil {
		t.Fatal("cache kept after the commit")
	}
	if ix.Stats().Embedder != "http:test-model" {
		t.Fatalf("embedder %q", ix.Stats().Embedder)
	}
	hits := search(t, ix, "frobnicates gizmos", ModeVector)
	if len(hits) == 0 || hits[0].Symbol != "Gizmo" {
		t.Fatalf("vector hits %+v", hits)
	}
	// Opened without the embedder, hybrid search falls back to lexical.
	ix2 := openTest(t, root, Options{})
	if hits := search(t, ix2, "frobnicates gizmos", ModeHybrid); len(hits) == 0 || hits[0].Symbol != "Gizmo" {
		t.Fatalf("hybrid without the embedder: %+v", hits)
	}
	if _, err := ix2.Search(context.Background(), "gizmo", SearchOptions{Mode: ModeVector}); err == nil {
		t.Fatal("vector search without the index's embedder succeeded")
	}
}
