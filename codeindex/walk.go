package codeindex

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	gitignore "github.com/sabhiram/go-gitignore"
)

// skipDirs are directory names never indexed: version control, vendored
// and third-party code, dependency caches.
var skipDirs = map[string]bool{
	".git": true, ".hg": true, ".svn": true, ".llmux": true,
	"vendor": true, "node_modules": true, "third_party": true,
}

// skipFiles are lock and checksum files: text, but no one searches them.
var skipFiles = map[string]bool{
	"go.sum": true, "package-lock.json": true, "yarn.lock": true,
	"pnpm-lock.yaml": true, "Cargo.lock": true, "poetry.lock": true,
}

// ignorer answers whether a path is excluded by the .gitignore files of
// its ancestors. It loads each directory's .gitignore once.
type ignorer struct {
	root string
	mu   sync.Mutex
	dirs map[string]*gitignore.GitIgnore // rel dir → matcher (nil: none)
}

func newIgnorer(root string) *ignorer {
	return &ignorer{root: root, dirs: map[string]*gitignore.GitIgnore{}}
}

func (ig *ignorer) matcher(dir string) *gitignore.GitIgnore {
	ig.mu.Lock()
	defer ig.mu.Unlock()
	if m, ok := ig.dirs[dir]; ok {
		return m
	}
	m, err := gitignore.CompileIgnoreFile(filepath.Join(ig.root, filepath.FromSlash(dir), ".gitignore"))
	if err != nil {
		m = nil
	}
	ig.dirs[dir] = m
	return m
}

// ignored reports whether rel (slash-separated, relative to root) is
// matched by a .gitignore in one of its ancestor directories. Patterns are
// matched relative to the directory of their .gitignore; a directory is
// tested with a trailing slash so that "build/" patterns apply.
func (ig *ignorer) ignored(rel string, isDir bool) bool {
	dir := path.Dir(rel)
	for {
		if m := ig.matcher(dir); m != nil {
			sub := rel
			if dir != "." {
				sub = strings.TrimPrefix(rel, dir+"/")
			}
			if isDir {
				sub += "/"
			}
			if m.MatchesPath(sub) {
				return true
			}
		}
		if dir == "." {
			return false
		}
		dir = path.Dir(dir)
	}
}

// walkFiles lists the indexable regular files under root (relative,
// slash-separated paths, in lexical order). It does not follow symbolic
// links, skips skipDirs, the index directory and anything .gitignore
// excludes. Unreadable directories are logged and skipped.
func (ix *Index) walkFiles(ctx context.Context) ([]string, error) {
	ig := newIgnorer(ix.root)
	var files []string
	err := filepath.WalkDir(ix.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == ix.root {
				return err
			}
			ix.log.Warn("codeindex: skipping unreadable path", "path", p, "err", err)
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p == ix.root {
			return nil
		}
		rel, _ := filepath.Rel(ix.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDirs[d.Name()] || p == ix.dir || ig.ignored(rel, true) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || skipFiles[d.Name()] || ig.ignored(rel, false) {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	return files, err
}

// pathIndexable reports whether rel, given explicitly to Update, would be
// indexed by a walk: no skipped or ignored directory on its way.
func (ix *Index) pathIndexable(rel string, ig *ignorer) bool {
	parts := strings.Split(rel, "/")
	for i, p := range parts[:len(parts)-1] {
		if skipDirs[p] || ig.ignored(strings.Join(parts[:i+1], "/"), true) {
			return false
		}
	}
	if ix.dir != "" {
		if r, err := filepath.Rel(ix.dir, filepath.Join(ix.root, filepath.FromSlash(rel))); err == nil && !strings.HasPrefix(r, "..") {
			return false
		}
	}
	return !skipFiles[parts[len(parts)-1]] && !ig.ignored(rel, false)
}

// errSkip explains why a file's content is not indexed.
var (
	errBinary    = errors.New("binary")
	errGenerated = errors.New("generated")
	errTooLarge  = errors.New("too large")
)

// generatedRE is Go's convention for generated files (go help generate),
// which other languages' generators follow too.
var generatedRE = regexp.MustCompile(`^(//|#) Code generated .* DO NOT EDIT\.$`)

// generated reports whether the comment lines heading src (before the
// first line of code, as go/ast.IsGenerated has it) hold the marker; a
// generator's template further down does not count.
func generated(src []byte) bool {
	for line := range bytes.Lines(src[:min(len(src), 8<<10)]) {
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0:
		case generatedRE.Match(line):
			return true
		case !isComment(line):
			return false
		}
	}
	return false
}

// classify decides whether content should be indexed. It returns the
// text to index (invalid UTF-8 bytes replaced one for one, so offsets and
// line numbers stay true) or an error explaining the skip.
func classify(name string, src []byte) ([]byte, error) {
	head := src[:min(len(src), 8<<10)]
	if bytes.IndexByte(head, 0) >= 0 {
		return nil, errBinary
	}
	if strings.HasSuffix(name, ".pb.go") || strings.Contains(name, ".min.") {
		return nil, errGenerated
	}
	if generated(src) {
		return nil, errGenerated
	}
	if minified(src) {
		return nil, errGenerated
	}
	if utf8.Valid(src) {
		return src, nil
	}
	bad := 0
	for i := 0; i < len(head); {
		r, n := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && n == 1 {
			bad++
		}
		i += n
	}
	if bad*20 > len(head) { // more than 5% invalid: not text
		return nil, errBinary
	}
	return sanitize(src), nil
}

// sanitize replaces each invalid UTF-8 byte with '?'.
func sanitize(src []byte) []byte {
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, '?')
		} else {
			out = append(out, src[i:i+n]...)
		}
		i += n
	}
	return out
}

// minified reports a file of few, very long lines: bundled JavaScript,
// CSS, one-line JSON. Ordinary code averages well under 100 bytes a line.
func minified(src []byte) bool {
	if len(src) < 2048 {
		return false
	}
	lines := bytes.Count(src, []byte{'\n'}) + 1
	return len(src)/lines > 300
}

// statFile returns the size and modification time (ns) of a file, or
// os.ErrNotExist wrapped when it is missing or not a regular file.
func statFile(p string) (int64, int64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, 0, fs.ErrNotExist
	}
	return fi.Size(), fi.ModTime().UnixNano(), nil
}
