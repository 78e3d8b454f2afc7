package tokens

import (
	"sync"
	"testing"
)

func TestEncodingFor(t *testing.T) {
	tests := map[string]string{
		"gpt-4o":                 O200kBase,
		"gpt-4o-mini-2024-07-18": O200kBase,
		"chatgpt-4o-latest":      O200kBase,
		"gpt-4.1":                O200kBase,
		"gpt-4.1-mini":           O200kBase,
		"gpt-4.5-preview":        O200kBase,
		"gpt-5":                  O200kBase,
		"gpt-5.4":                O200kBase,
		"o1":                     O200kBase,
		"o3-mini":                O200kBase,
		"o4-mini":                O200kBase,
		"gpt-oss-120b":           O200kBase,
		"ft:gpt-4o:org::id":      O200kBase,
		"claude":                 O200kBase,
		"claude-sonnet-4-5":      O200kBase,
		"some-new-model":         O200kBase,
		"":                       O200kBase,
		"gpt-4":                  Cl100kBase,
		"GPT-4":                  Cl100kBase,
		"gpt-4-turbo":            Cl100kBase,
		"gpt-4-0613":             Cl100kBase,
		"gpt-3.5-turbo":          Cl100kBase,
		"gpt-35-turbo":           Cl100kBase,
		"azure/gpt-35-turbo-16k": Cl100kBase,
		"ft:gpt-3.5-turbo:org":   Cl100kBase,
		"text-embedding-3-small": Cl100kBase,
		"text-embedding-3-large": Cl100kBase,
		"text-embedding-ada-002": Cl100kBase,
		"davinci-002":            Cl100kBase,
		"babbage-002":            Cl100kBase,
	}
	for family, want := range tests {
		if got := EncodingFor(family); got != want {
			t.Errorf("EncodingFor(%q) = %q, want %q", family, got, want)
		}
	}
}

// TestRoleIsOneToken backs the perRole constant.
func TestRoleIsOneToken(t *testing.T) {
	e := NewEstimator()
	for _, family := range []string{"gpt-4o", "gpt-4"} {
		for _, role := range []string{"system", "developer", "user", "assistant", "tool", "function"} {
			if n := e.Exact(role, family); n != perRole {
				t.Errorf("%s: role %q is %d tokens, want %d", EncodingFor(family), role, n, perRole)
			}
		}
	}
}

func TestExact(t *testing.T) {
	e := NewEstimator()
	const hello = "Hello, world! How are you today?" // 9 tokens in both (providers.md §3.3)
	tests := []struct {
		text, family string
		want         int
	}{
		{hello, "gpt-4o", 9},
		{hello, "gpt-4", 9},
		{hello, "claude-opus-4", 12}, // ceil(9 × 1.3)
		{"", "gpt-4o", 0},
		{"<|endoftext|>", "gpt-4o", 7}, // special tokens count as text
	}
	for _, tt := range tests {
		if got := e.Exact(tt.text, tt.family); got != tt.want {
			t.Errorf("Exact(%q, %q) = %d, want %d", tt.text, tt.family, got, tt.want)
		}
	}
	// o200k is far more compact than cl100k on non-English text.
	ru := "Ограничитель скорости должен решать заранее."
	if o, c := e.Exact(ru, "gpt-4o"), e.Exact(ru, "gpt-4"); o >= c {
		t.Errorf("Russian: o200k %d tokens, cl100k %d; want o200k fewer", o, c)
	}
}

// TestExactConcurrent loads both encodings from many goroutines at once
// (run with -race): one load each, identical answers.
func TestExactConcurrent(t *testing.T) {
	e := NewEstimator()
	const text = "Concurrent callers share one codec per encoding."
	var wg sync.WaitGroup
	got := make([]int, 16)
	for i := range got {
		wg.Go(func() {
			family := []string{"gpt-4o", "gpt-4"}[i%2]
			got[i] = e.Exact(text, family)
		})
	}
	wg.Wait()
	for i, n := range got {
		if want := got[i%2]; n != want || n == 0 {
			t.Errorf("goroutine %d counted %d, want %d", i, n, want)
		}
	}
}

// TestFastEstimateMonotone checks that appending text never lowers the
// estimate, for every pair of corpus samples.
func TestFastEstimateMonotone(t *testing.T) {
	samples := corpus(t)
	for _, family := range []string{"gpt-4o", "gpt-4"} {
		for i := 0; i < len(samples); i += 7 {
			a := samples[i].text
			for j := 0; j < len(samples); j += 11 {
				b := samples[j].text
				// Cut b at every 97th byte to try many joins, including
				// mid-word and mid-rune.
				for k := 0; k < len(b); k += 97 {
					if ab, a0 := textTok(family, a+b[:k]), textTok(family, a); ab < a0 {
						t.Fatalf("%s: estimate(a+b[:%d]) = %d < estimate(a) = %d (a=%s, b=%s)", family, k, ab, a0, samples[i].name, samples[j].name)
					}
				}
			}
		}
	}
}
