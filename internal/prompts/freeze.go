package prompts

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
)

// Freeze copies the current version of a prompt (prompt.yaml, its
// variant files and the partials they include) to
// dir/.versions/NAME/VERSION/, so that a label can keep pointing at it
// after the folder moves on. It returns the version frozen. Freezing a
// version again with the same content does nothing; with different
// content it is an error: the version in prompt.yaml must be bumped. The
// copy is written to a temporary folder and renamed into place, so a
// reload never sees half of it.
func Freeze(dir, name string) (version int, err error) {
	r, ps := load(dir)
	p := r.prompts[name]
	if p == nil {
		if _, statErr := os.Stat(filepath.Join(dir, name)); statErr == nil && ps.errors() > 0 {
			return 0, fmt.Errorf("freeze %s: %w", name, &LoadError{Problems: ps.sorted()})
		}
		return 0, fmt.Errorf("freeze: %w", &NotFoundError{Ref: name, What: "prompt"})
	}
	v := p.Versions[p.Current]
	if v == nil || v.Frozen {
		return 0, fmt.Errorf("freeze %s: version %d does not load: %w", name, p.Current, &LoadError{Problems: ps.sorted()})
	}
	files, err := freezeFiles(v)
	if err != nil {
		return 0, fmt.Errorf("freeze %s: %w", v.ref, err)
	}
	target := frozenDir(dir, name, v.Number)
	have, err := readTree(target)
	switch {
	case err == nil:
		if maps.EqualFunc(have, files, bytes.Equal) {
			return v.Number, nil
		}
		return 0, fmt.Errorf("freeze %s: version %d is already frozen with different content; bump version in prompt.yaml", name, v.Number)
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("freeze %s: %w", v.ref, err)
	}
	if err := writeTree(target, files); err != nil {
		return 0, fmt.Errorf("freeze %s: %w", v.ref, err)
	}
	return v.Number, nil
}

// frozenDir is where version n of a prompt is frozen.
func frozenDir(dir, name string, n int) string {
	return filepath.Join(dir, versionsDir, name, strconv.Itoa(n))
}

// freezeFiles reads the files that make up a version, by their path in
// a frozen copy ("prompt.yaml", "claude.prompt", "_partials/scope.j2").
func freezeFiles(v *Version) (map[string][]byte, error) {
	paths := map[string]string{manifestFile: filepath.Join(v.dir, manifestFile)}
	for _, vt := range v.Variants {
		paths[filepath.Base(vt.File)] = vt.File
	}
	for _, rel := range v.partials {
		paths[rel] = filepath.Join(v.root, filepath.FromSlash(rel))
	}
	files := make(map[string][]byte, len(paths))
	for rel, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		files[rel] = data
	}
	return files, nil
}

// readTree reads every file under root, keyed by slash-separated path.
func readTree(root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

// writeTree writes files to a temporary folder beside target and renames
// it to target.
func writeTree(target string, files map[string][]byte) (err error) {
	parent := filepath.Dir(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	// The "." prefix keeps a reload that runs meanwhile from reading it
	// as a version.
	tmp, err := os.MkdirTemp(parent, ".freeze-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for rel, data := range files {
		path := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return os.Rename(tmp, target)
}
