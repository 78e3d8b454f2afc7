package tokens

import (
	"errors"
	"testing"
)

func TestEmbeddings(t *testing.T) {
	tests := []struct {
		name, body string
		want       int
	}{
		{"string", `{"model":"text-embedding-3-small","input":"The food was delicious."}`, textTok("text-embedding-3-small", "The food was delicious.")},
		{"strings", `{"input":["first text","second text"],"encoding_format":"base64"}`, textTok("text-embedding-3-small", "first text", "second text")},
		{"token array counts its length", `{"input":[9906,1917,0,100257]}`, 4},
		{"token arrays count their lengths", `{"input":[[9906,1917],[0],[]],"dimensions":256}`, 3},
		{"empty array", `{"input":[]}`, 0},
	}
	e := NewEstimator()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Embeddings([]byte(tt.body), "text-embedding-3-small")
			if err != nil {
				t.Fatal(err)
			}
			if noPrompt(got) != (Estimate{Input: tt.want}) {
				t.Errorf("Embeddings = %+v, want Input %d and no output", got, tt.want)
			}
		})
	}
}

func TestEmbeddingsErrors(t *testing.T) {
	bad := map[string]string{
		"no input":        `{"model":"m"}`,
		"input a number":  `{"input":5}`,
		"input null":      `{"input":null}`,
		"mixed array":     `{"input":["a",1]}`,
		"mixed nesting":   `{"input":[[1],2]}`,
		"null token":      `{"input":[[1,null]]}`,
		"negative token":  `{"input":[-1]}`,
		"float token":     `{"input":[1.5]}`,
		"nested strings":  `{"input":[["a"]]}`,
		"unterminated":    `{"input":"abc`,
		"bad unicode esc": `{"input":"\u12G4"}`,
	}
	e := NewEstimator()
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := e.Embeddings([]byte(body), "text-embedding-3-small"); !errors.Is(err, ErrInvalidBody) {
				t.Fatalf("error = %v, want ErrInvalidBody", err)
			}
		})
	}
}
