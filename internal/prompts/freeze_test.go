package prompts

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFreeze(t *testing.T) {
	dir := copyGood(t)
	n, err := Freeze(dir, "explain-code")
	if err != nil || n != 7 {
		t.Fatalf("Freeze = %d, %v; want 7", n, err)
	}
	frozen := filepath.Join(dir, ".versions", "explain-code", "7")
	files, err := readTree(frozen)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"_partials/idk.j2", "_partials/scope.j2", "claude.prompt", "default.prompt", "gpt35.prompt", "gpt4.prompt", "prompt.yaml"}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Fatalf("frozen files = %v, want %v (nested partials included)", got, want)
	}
	if string(files["gpt4.prompt"]) != readString(t, filepath.Join(dir, "explain-code", "gpt4.prompt")) {
		t.Error("frozen gpt4.prompt differs from the original")
	}

	// Again, unchanged: nothing to do.
	if n, err := Freeze(dir, "explain-code"); err != nil || n != 7 {
		t.Fatalf("second Freeze = %d, %v; want 7, nil", n, err)
	}

	// Edited without a bump: refused.
	gpt4 := filepath.Join(dir, "explain-code", "gpt4.prompt")
	writeFile(t, gpt4, strings.Replace(readString(t, gpt4), "Explain this code:", "Explain this, please:", 1))
	_, err = Freeze(dir, "explain-code")
	if err == nil || !strings.Contains(err.Error(), "version 7 is already frozen with different content; bump version in prompt.yaml") {
		t.Fatalf("Freeze after an edit = %v", err)
	}

	// Bumped: production stays on the frozen 7, staging gets 8.
	manifest := filepath.Join(dir, "explain-code", "prompt.yaml")
	text := readString(t, manifest)
	text = strings.Replace(text, "version: 7", "version: 8", 1)
	text = strings.Replace(text, "production: 6", "production: 7", 1)
	text = strings.Replace(text, "staging: 7", "staging: 8", 1)
	writeFile(t, manifest, text)
	writeFile(t, filepath.Join(dir, "_partials", "scope.j2"), "New scope.\n")

	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := r.Resolve("explain-code")
	if err != nil || prod.Number != 7 || !prod.Frozen {
		t.Fatalf("production = %v, %v; want the frozen version 7", prod, err)
	}
	staging, err := r.Resolve("explain-code@staging")
	if err != nil || staging.Number != 8 || staging.Frozen {
		t.Fatalf("staging = %v, %v; want the current version 8", staging, err)
	}
	vars := map[string]any{"code": "x"}
	wantProd := []string{"Only answer questions about code and tooling", "Explain this code:"}
	wantStaging := []string{"New scope.", "Explain this, please:"}
	for v, want := range map[*Version][]string{prod: wantProd, staging: wantStaging} {
		vt, _ := v.Select("gpt-4o", FamilyOpenAI)
		msgs, err := vt.Render(vars, "gpt-4o", FamilyOpenAI)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(msgs[0].Content, want[0]) || !strings.HasPrefix(msgs[1].Content, want[1]) {
			t.Errorf("%s renders %q, want prefixes %q", v.Ref(), msgs, want)
		}
	}
	if _, err := r.Resolve("explain-code@6"); err != nil {
		t.Errorf("version 6 is still frozen: %v", err)
	}
}

func TestFreezeErrors(t *testing.T) {
	dir := copyGood(t)
	if n, err := Freeze(dir, "summarize"); err != nil || n != 1 {
		t.Fatalf("Freeze(summarize) = %d, %v", n, err)
	}
	files, err := readTree(filepath.Join(dir, ".versions", "summarize", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"default.prompt", "prompt.yaml"}) {
		t.Errorf("frozen files = %v", got)
	}

	_, err = Freeze(dir, "nope")
	var nf *NotFoundError
	if !errors.As(err, &nf) || err.Error() != `freeze: unknown prompt "nope"` {
		t.Errorf("Freeze(nope) = %v", err)
	}

	writeFile(t, filepath.Join(dir, "summarize", "default.prompt"), "messages:\n  - role: robot\n    content: x\n")
	_, err = Freeze(dir, "summarize")
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), `"robot" is not one of system, user, assistant`) {
		t.Errorf("Freeze of a broken prompt = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".versions", "summarize", "2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a broken prompt was frozen: %v", err)
	}

	// A broken prompt.yaml: the prompt does not load at all.
	writeFile(t, filepath.Join(dir, "summarize", "prompt.yaml"), "name: summarize\nversion: x\n")
	if _, err := Freeze(dir, "summarize"); !errors.As(err, &le) {
		t.Errorf("Freeze with a broken prompt.yaml = %v, want a *LoadError", err)
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
