package guard

import (
	"strings"
	"testing"
)

const streamText = "Here: <<SECRET_1:aws-access-token>> and <<SECRET_2:private-key>>, not <<SECRET_9:nope>> " +
	"nor <<<SECRET_1:aws-access-token>>> nor <<SECRET_1:aws-acc> <<SECRET_3:quirky>><"

func TestStreamRestorerEverySplit(t *testing.T) {
	v, _ := testVault(t)
	want := v.Restore(streamText)
	if want == streamText {
		t.Fatal("nothing to restore; the test text is wrong")
	}
	for i := 0; i <= len(streamText); i++ {
		for j := i; j <= len(streamText); j++ {
			s := v.NewStream()
			got := s.Push(streamText[:i]) + s.Push(streamText[i:j]) + s.Push(streamText[j:]) + s.Flush()
			if got != want {
				t.Fatalf("split at %d, %d: got %q, want %q", i, j, got, want)
			}
		}
	}
}

func TestStreamRestorerHoldsBack(t *testing.T) {
	v, f := testVault(t)
	s := v.NewStream()
	steps := []struct{ in, out string }{
		{"abc <", "abc "},
		{"<SEC", ""},
		{"RET_1:aws-acc", ""},
		{"ess-token>", ""},
		{"> done <<x", f.aws + " done <<x"},
		{"<<SECRET_7", "<<SECRET_7"}, // no such placeholder: released
		{"", ""},
	}
	for i, st := range steps {
		if got := s.Push(st.in); got != st.out {
			t.Errorf("step %d: Push(%q) = %q, want %q", i, st.in, got, st.out)
		}
	}
	if held := s.Push("<<SECRET_2:"); held != "" {
		t.Errorf("Push = %q, want it held", held)
	}
	if got := s.Flush(); got != "<<SECRET_2:" {
		t.Errorf("Flush = %q, want the held text as is", got)
	}
	if held := len(s.Push(strings.Repeat("<", 3))); held != 1 {
		t.Errorf("released %d of \"<<<\", want 1: a suffix is held only while it can be a placeholder", held)
	}
	var nilVault *Vault
	if got := nilVault.NewStream().Push("<<SEC"); got != "<<SEC" {
		t.Errorf("nil vault stream Push = %q, want it unchanged", got)
	}
}
