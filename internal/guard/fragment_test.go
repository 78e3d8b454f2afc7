package guard

import (
	"strings"
	"testing"
)

// TestFragmentsFindWhatTheWholeTextHolds checks that scanning fragments
// finds what one gitleaks pass over the whole text finds, including armored
// keys with blank lines inside, placed between paragraphs of code.
func TestFragmentsFindWhatTheWholeTextHolds(t *testing.T) {
	g := newTestGitleaks(t)
	code := strings.Join(codeCorpus(t), "\n")[:30000]
	f := newFakes(12)
	for i, s := range append(f.all(), f.encryptedRSA, f.pgp) {
		at := strings.Index(code[4000*i:], "\n\n") + 4000*i + 2
		text := code[:at] + "value = \"" + s + "\"\n\n" + code[at:]
		whole := map[string]bool{}
		for _, x := range g.detector.DetectString(text) {
			whole[x.Secret] = true
		}
		if !whole[s] {
			t.Fatalf("secret %d: gitleaks does not find it in the whole text; the test is wrong", i)
		}
		for _, x := range g.Detect(text) {
			delete(whole, x.Secret)
		}
		if len(whole) > 0 {
			t.Errorf("secret %d: fragments missed %d findings of the whole text", i, len(whole))
		}
	}
	if n := len(fragments(code)); n < 20 {
		t.Errorf("code cut into %d fragments, want many", n)
	}
}

func TestFragments(t *testing.T) {
	para := strings.Repeat("x", fragmentTarget) + "\n"
	tests := []struct {
		name string
		text string
		want int
	}{
		{"short", "a\n\nb", 1},
		{"cut at blank lines", para + "\n" + para + " \t\n" + para, 3},
		{"no blank line", para + para + para, 1},
		{"not inside armor", "-----BEGIN X-----\n" + para + "\n" + para + "-----END X-----\n\n" + para, 2},
		// The first armorMax (16 KB, 31 paragraphs) stay whole.
		{"an old unclosed marker does not stop cutting", "\"-----BEGIN\"\n" + strings.Repeat(para+"\n", 40), 10},
	}
	for _, tt := range tests {
		parts := fragments(tt.text)
		if len(parts) != tt.want || strings.Join(parts, "") != tt.text {
			t.Errorf("%s: %d fragments, want %d (joined equal: %v)", tt.name, len(parts), tt.want, strings.Join(parts, "") == tt.text)
		}
	}
}
