package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// corpus is the codeindex benchmark's two copies of the code: mode 1 as
// it is (hard links where the file system allows, else copies) and mode 2
// with its comments blanked. Both hold the same files at the same
// relative paths, with the same line numbers.
type corpus struct {
	code, blanked string // the two roots
	files         []corpusFile
	bytes         int64 // sum of the files' sizes
	largest       corpusFile
	linked        int   // files of code that are hard links to the source
	commentBytes  int64 // bytes blanked in mode 2 (newlines excepted)
	// generated and generatedBytes count the generated files
	// (ast.IsGenerated) left out, and their bytes.
	generated      int
	generatedBytes int64
	// candidates are every query the files offer, before duplicates are
	// dropped (see dedupeQueries); short counts doc comments dropped for
	// having fewer than minQueryWords words left; parseErrs files that
	// did not parse (they are indexed, but give no query).
	candidates []query
	short      int
	parseErrs  int
}

// corpusFile is one file of the corpus.
type corpusFile struct {
	rel  string // slash-separated, relative to the root
	size int64
}

// selectCorpus returns the files under root the corpus holds:
// non-test .go files outside testdata and vendor directories (and hidden
// ones), sorted by path. Vendored code is left out because the issue's
// figures (about 3,900 files, 47 MB for GOROOT/src) are those without it:
// it is third-party code, and GOROOT/src holds much of it twice (vendor
// and cmd/vendor).
func selectCorpus(root string) ([]corpusFile, error) {
	var files []corpusFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, corpusFile{rel: filepath.ToSlash(rel), size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bench codeindex: walk %s: %w", root, err)
	}
	slices.SortFunc(files, func(a, b corpusFile) int { return strings.Compare(a.rel, b.rel) })
	return files, nil
}

// buildCorpus selects the files under root, places them under code (linked
// or copied) and, blanked, under blanked, and collects the query
// candidates from their doc comments.
func buildCorpus(ctx context.Context, root, code, blanked string) (*corpus, error) {
	files, err := selectCorpus(root)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("bench codeindex: no non-test .go files under %s", root)
	}
	c := &corpus{code: code, blanked: blanked}
	ex := newQueryExtractor()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.rel)))
		if err != nil {
			return nil, fmt.Errorf("bench codeindex: %w", err)
		}
		qs, short, generated, err := ex.fileQueries(f.rel, src)
		if generated {
			// The indexer skips generated files by design (they are not
			// what a developer asks about), so the corpus leaves them
			// out in both modes: mode 2 blanks the marker with the other
			// comments, and would otherwise index them.
			c.generated++
			c.generatedBytes += int64(len(src))
			continue
		}
		if err != nil {
			c.parseErrs++
		}
		linked, err := placeFile(filepath.Join(root, filepath.FromSlash(f.rel)), filepath.Join(code, filepath.FromSlash(f.rel)), src)
		if err != nil {
			return nil, err
		}
		if linked {
			c.linked++
		}
		out, n := blankComments(src)
		if err := writeFile(filepath.Join(blanked, filepath.FromSlash(f.rel)), out); err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
		c.commentBytes += int64(n)
		c.bytes += int64(len(src))
		if int64(len(src)) > c.largest.size {
			c.largest = corpusFile{rel: f.rel, size: int64(len(src))}
		}
		c.candidates = append(c.candidates, qs...)
		c.short += short
	}
	return c, nil
}

// placeFile hard-links src to dst, or writes data (src's content) there
// where linking fails (another file system, no permission). It reports
// whether it linked. A linked file shares its inode with the source, so
// the benchmark never writes to one in place (see editFile).
func placeFile(src, dst string, data []byte) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("bench codeindex: %w", err)
	}
	if err := os.Link(src, dst); err == nil {
		return true, nil
	}
	return false, writeFile(dst, data)
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench codeindex: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("bench codeindex: %w", err)
	}
	return nil
}

// editFile appends tail to the file at path without writing through a
// hard link: it writes a new file beside it and renames it over path, so
// a linked source (GOROOT) is never modified.
func editFile(path, tail string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench codeindex: edit: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".llmux-edit-*")
	if err != nil {
		return fmt.Errorf("bench codeindex: edit: %w", err)
	}
	_, err = io.Copy(tmp, io.MultiReader(bytes.NewReader(old), strings.NewReader(tail)))
	err = errors.Join(err, tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("bench codeindex: edit: %w", err)
	}
	return nil
}

// blankComments returns a copy of src with every byte of every comment
// replaced by a space, except newlines: every line keeps its number and
// every other byte its offset, and the code is unchanged. Comments are
// found by go/scanner, so "//" inside a string or rune literal is left
// alone. It also returns the number of bytes blanked. Source the scanner
// rejects is blanked as far as it could be scanned.
func blankComments(src []byte) ([]byte, int) {
	out := bytes.Clone(src)
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)
	n := 0
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			return out, n
		}
		if tok != token.COMMENT {
			continue
		}
		start := file.Offset(pos)
		for i := start; i < commentEnd(src, start); i++ {
			if out[i] != '\n' {
				out[i] = ' '
				n++
			}
		}
	}
}

// commentEnd returns the offset just past the comment starting at start:
// the end of its line for //, past the closing */ for /* (the end of src
// if it is missing). The scanner's literal is not used for this because
// it drops carriage returns.
func commentEnd(src []byte, start int) int {
	if start+1 < len(src) && src[start+1] == '/' {
		if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
			return start + i
		}
		return len(src)
	}
	if i := bytes.Index(src[start+2:], []byte("*/")); i >= 0 {
		return start + 2 + i + 2
	}
	return len(src)
}

// dirBytes sums the sizes of the regular files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bench codeindex: size of %s: %w", dir, err)
	}
	return n, nil
}
