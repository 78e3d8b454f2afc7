package prompts

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// loadGood loads testdata/good.
func loadGood(t testing.TB) *Repo {
	t.Helper()
	r, err := Load(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeRepo writes files (by slash path) under a new temporary folder and
// returns it.
func writeRepo(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for rel, text := range files {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(rel)), text)
	}
	return dir
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyGood copies testdata/good to a temporary folder, for tests that
// change files.
func copyGood(t testing.TB) string {
	t.Helper()
	src := filepath.Join("testdata", "good")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		writeFile(t, filepath.Join(dst, rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// repoWith writes a one-prompt repository: prompt "p" with the given
// prompt.yaml body (after name and version) and variant files.
func repoWith(t testing.TB, manifest string, variants map[string]string) string {
	t.Helper()
	files := map[string]string{"p/prompt.yaml": "name: p\nversion: 1\n" + manifest}
	for name, text := range variants {
		files["p/"+name] = text
	}
	return writeRepo(t, files)
}
