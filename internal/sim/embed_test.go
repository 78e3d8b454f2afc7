package sim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/llmux/llmux/internal/api/openai"
)

func embed(t *testing.T, s *Server, body string) openai.EmbeddingResponse {
	t.Helper()
	w := serve(s, call{path: "/v1/embeddings", header: openaiAuth(), body: body})
	if w.Code != 200 {
		t.Fatalf("embeddings: %d %s", w.Code, w.Body)
	}
	var resp openai.EmbeddingResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestBase64EmbeddingsMatchFloats(t *testing.T) {
	s := newTestServer(t, nil)
	floats := embed(t, s, `{"model":"text-embedding-3-small","input":["the quick brown fox","jumps"]}`)
	b64 := embed(t, s, `{"model":"text-embedding-3-small","input":["the quick brown fox","jumps"],"encoding_format":"base64"}`)
	for i := range floats.Data {
		var want []float32
		if err := json.Unmarshal(floats.Data[i].Embedding, &want); err != nil {
			t.Fatal(err)
		}
		var s64 string
		if err := json.Unmarshal(b64.Data[i].Embedding, &s64); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(s64)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != 1536 || len(raw) != 4*len(want) {
			t.Fatalf("lengths: %d floats, %d bytes", len(want), len(raw))
		}
		norm := 0.0
		for j, f := range want {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])); got != f {
				t.Fatalf("input %d dim %d: base64 %v, float %v", i, j, got, f)
			}
			norm += float64(f) * float64(f)
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("input %d: |v|² = %v, want 1", i, norm)
		}
	}
}

func TestEmbeddingsDimensionsAndSimilarity(t *testing.T) {
	s := newTestServer(t, nil)
	if got := len(vector(t, embed(t, s, `{"model":"text-embedding-3-large","input":"x"}`), 0)); got != 3072 {
		t.Errorf("3-large: %d dims, want 3072", got)
	}
	if got := len(vector(t, embed(t, s, `{"model":"text-embedding-3-small","input":"x","dimensions":256}`), 0)); got != 256 {
		t.Errorf("dimensions 256: %d dims", got)
	}
	resp := embed(t, s, `{"model":"m","input":["parse the config file","parse config files quickly","banana smoothie recipe"],"dimensions":512}`)
	a, b, c := vector(t, resp, 0), vector(t, resp, 1), vector(t, resp, 2)
	if cos(a, b) <= cos(a, c)+0.2 {
		t.Errorf("related texts not closer: cos(a,b)=%.3f cos(a,c)=%.3f", cos(a, b), cos(a, c))
	}
	tokens := embed(t, s, `{"model":"m","input":[[1,2,3],[4,5]]}`)
	if len(tokens.Data) != 2 || tokens.Usage.PromptTokens != 5 {
		t.Errorf("token input: %d vectors, %d tokens", len(tokens.Data), tokens.Usage.PromptTokens)
	}
}

func vector(t *testing.T, r openai.EmbeddingResponse, i int) []float32 {
	t.Helper()
	var v []float32
	if err := json.Unmarshal(r.Data[i].Embedding, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func cos(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}
