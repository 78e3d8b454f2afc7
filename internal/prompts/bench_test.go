package prompts

import (
	"strings"
	"testing"
)

// BenchmarkRender renders a compiled, cached variant: three messages, a
// partial with a nested include and an if, and ~2 KB of code.
func BenchmarkRender(b *testing.B) {
	r, err := Load("testdata/good")
	if err != nil {
		b.Fatal(err)
	}
	v, err := r.Resolve("explain-code@7")
	if err != nil {
		b.Fatal(err)
	}
	vt, _ := v.Select("gpt-4o", FamilyOpenAI)
	if vt == nil || len(vt.messages) != 3 {
		b.Fatalf("want the 3-message gpt4 variant, got %v", vt)
	}
	vars := map[string]any{"code": strings.Repeat("if a < b && c {\n\treturn \"q\"\n}\n", 64)}
	if n := len(vars["code"].(string)); n < 1900 || n > 2200 {
		b.Fatalf("code is %d bytes", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := vt.Render(vars, "gpt-4o", FamilyOpenAI); err != nil {
			b.Fatal(err)
		}
	}
}
