package guard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// codeCorpus returns the source files in testdata/code (Go, Python and
// JavaScript from the Go distribution), which contain no secrets.
func codeCorpus(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "code", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no code corpus: %v", err)
	}
	var files []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, string(b))
	}
	return files
}

// codeRequest builds an OpenAI chat request of about size bytes: a user
// message holding source files, with the fake secrets planted in code.
func codeRequest(t testing.TB, f fakes, size int) []byte {
	t.Helper()
	files := codeCorpus(t)
	plant := []string{
		"\n\tawsKey := \"" + f.aws + "\" // TODO: move to env\n",
		"\nSLACK_BOT_TOKEN = \"" + f.slack + "\"\n",
		"\nconst githubToken = '" + f.github + "';\n",
		"\nconst privateKey = `" + f.rsa + "`;\n",
	}
	var code strings.Builder
	for i := 0; code.Len() < size*9/10; i++ {
		file := files[i%len(files)]
		mid := strings.LastIndexByte(file[:len(file)/2], '\n') + 1
		code.WriteString("// file " + string(rune('a'+i)) + "\n" + file[:mid])
		if i < len(plant) {
			code.WriteString(plant[i])
		}
		code.WriteString(file[mid:] + "\n")
	}
	text := code.String()[:size*9/10]
	body, err := json.Marshal(map[string]any{
		"model": "gpt-4o",
		"messages": []any{
			map[string]any{"role": "system", "content": "You are a senior engineer reviewing code. Answer concisely."},
			map[string]any{"role": "user", "content": "Please review these files and point out bugs:\n\n" + text},
		},
		"temperature": 0.2,
		"stream":      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// proseRequest builds an OpenAI chat request of about size bytes of plain
// English.
func proseRequest(t testing.TB, size int) []byte {
	t.Helper()
	var text strings.Builder
	for text.Len() < size {
		text.WriteString(proseSample + "\n\n")
	}
	body, err := json.Marshal(map[string]any{
		"model":    "gpt-4o-mini",
		"messages": []any{map[string]any{"role": "user", "content": text.String()[:size]}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func BenchmarkRedact100KB(b *testing.B) {
	f := newFakes(42)
	body := codeRequest(b, f, 100<<10)
	r := NewRedactor(newTestGitleaks(b))
	out, v, err := r.Redact(body)
	if err != nil || v.Len() != 4 || bytes.Contains(out, []byte(f.github)) {
		b.Fatalf("Redact: %v, %v secrets", err, v.Len())
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = r.Redact(body)
	}
}

func BenchmarkRedactPlainText(b *testing.B) {
	body := proseRequest(b, 4<<10)
	r := NewRedactor(newTestGitleaks(b))
	if _, v, err := r.Redact(body); err != nil || v != nil {
		b.Fatalf("Redact: %v, %v", err, v)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = r.Redact(body)
	}
}

// answerText is a model answer of about 4 KB quoting three placeholders.
func answerText() string {
	var b strings.Builder
	for b.Len() < 4<<10 {
		b.WriteString("Set the key to <<SECRET_1:aws-access-token>> and load <<SECRET_2:private-key>> from disk; " +
			"then call the API with <<SECRET_3:quirky>>. " + proseSample[:300] + "\n")
	}
	return b.String()
}

func BenchmarkRestoreJSON(b *testing.B) {
	v, _ := testVault(b)
	body, err := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion",
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": answerText()}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		_ = v.RestoreJSON(body)
	}
}

func BenchmarkStreamRestorer(b *testing.B) {
	v, _ := testVault(b)
	text := answerText()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s := v.NewStream()
		for i := 0; i < len(text); i += 6 { // token-sized deltas
			_ = s.Push(text[i:min(i+6, len(text))])
		}
		_ = s.Flush()
	}
}
