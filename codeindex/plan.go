package codeindex

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// candidate is a file the walk found, with its stat data.
type candidate struct {
	rel         string
	size, mtime int64
}

// plan is what an Update has to do.
type plan struct {
	check   []candidate // read and (re)index
	remove  []string    // indexed paths to drop
	rebuild bool        // drop all segments, index every live file
	// skipped is the next manifest's Skipped: the current one without
	// the files that vanished or are read again (apply adds the new).
	skipped map[string]skippedFile
}

// plan lists the files to read and to remove.
func (ix *Index) plan(ctx context.Context, cur *snapshot, paths []string) (*plan, error) {
	p := &plan{rebuild: cur.m.Embedder != ix.embedderName() || cur.m.Root != "" && cur.m.Root != ix.root}
	var found []candidate
	var err error
	scope := func(string) bool { return true } // indexed paths the walk covers
	if len(paths) == 0 {
		found, err = ix.statAll(ctx)
	} else {
		found, scope, err = ix.statPaths(ctx, paths)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(found))
	p.skipped = map[string]skippedFile{}
	for _, c := range found {
		seen[c.rel] = true
		if loc, ok := cur.files[c.rel]; ok && !p.rebuild {
			f := cur.segs[loc.seg].files[loc.file]
			if f.size == c.size && f.mtime == c.mtime {
				continue
			}
		}
		if sk, ok := cur.m.Skipped[c.rel]; ok && !p.rebuild && sk.Size == c.size && sk.Mtime == c.mtime {
			p.skipped[c.rel] = sk
			continue
		}
		p.check = append(p.check, c)
	}
	for rel, sk := range cur.m.Skipped {
		if !seen[rel] && !scope(rel) {
			p.skipped[rel] = sk // outside the paths given: untouched
		}
	}
	for rel := range cur.files {
		if !seen[rel] && scope(rel) {
			p.remove = append(p.remove, rel)
		}
	}
	sort.Strings(p.remove)
	if p.rebuild && len(paths) > 0 {
		p.check = append(p.check, ix.liveExcept(cur, seen, p.remove)...)
	}
	return p, nil
}

// liveExcept returns the indexed files not in skip or removed, as
// candidates to re-read.
func (ix *Index) liveExcept(cur *snapshot, skip map[string]bool, removed []string) []candidate {
	gone := map[string]bool{}
	for _, r := range removed {
		gone[r] = true
	}
	var out []candidate
	for rel, loc := range cur.files {
		if skip[rel] || gone[rel] {
			continue
		}
		f := cur.segs[loc.seg].files[loc.file]
		out = append(out, candidate{rel, f.size, f.mtime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out
}

// statAll walks root and stats every indexable file.
func (ix *Index) statAll(ctx context.Context) ([]candidate, error) {
	rels, err := ix.walkFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("codeindex: walk %s: %w", ix.root, err)
	}
	out := make([]candidate, 0, len(rels))
	for _, rel := range rels {
		size, mtime, err := statFile(filepath.Join(ix.root, filepath.FromSlash(rel)))
		if err != nil {
			continue // vanished since the walk
		}
		out = append(out, candidate{rel, size, mtime})
	}
	return out, nil
}

// statPaths resolves explicit paths. It returns the indexable files among
// them (walking directories) and a predicate telling which indexed paths
// the given paths cover, so that covered ones not found are removed.
func (ix *Index) statPaths(ctx context.Context, paths []string) ([]candidate, func(string) bool, error) {
	ig := newIgnorer(ix.root)
	var out []candidate
	var files, dirs []string
	for _, p := range paths {
		rel, err := ix.relPath(p)
		if err != nil {
			return nil, nil, err
		}
		abs := filepath.Join(ix.root, filepath.FromSlash(rel))
		fi, err := os.Lstat(abs)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			files = append(files, rel)
		case err != nil:
			return nil, nil, fmt.Errorf("codeindex: %w", err)
		case fi.IsDir():
			dirs = append(dirs, rel)
			sub, err := ix.walkUnder(ctx, rel)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, sub...)
		default:
			files = append(files, rel)
			if fi.Mode().IsRegular() && ix.pathIndexable(rel, ig) {
				out = append(out, candidate{rel, fi.Size(), fi.ModTime().UnixNano()})
			}
		}
	}
	scope := func(rel string) bool {
		for _, f := range files {
			if rel == f {
				return true
			}
		}
		for _, d := range dirs {
			if d == "." || strings.HasPrefix(rel, d+"/") {
				return true
			}
		}
		return false
	}
	return out, scope, nil
}

// walkUnder walks the directory rel (relative to root) like statAll.
func (ix *Index) walkUnder(ctx context.Context, rel string) ([]candidate, error) {
	all, err := ix.statAll(ctx) // the walk applies every ancestor's rules
	if err != nil || rel == "." {
		return all, err
	}
	var out []candidate
	for _, c := range all {
		if strings.HasPrefix(c.rel, rel+"/") {
			out = append(out, c)
		}
	}
	return out, nil
}

// relPath turns a path given to Update into a slash-separated path
// relative to root, refusing paths outside it.
func (ix *Index) relPath(p string) (string, error) {
	abs := p
	if !filepath.IsAbs(p) {
		abs = filepath.Join(ix.root, p)
	}
	rel, err := filepath.Rel(ix.root, filepath.Clean(abs))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("codeindex: %s is outside the indexed root %s", p, ix.root)
	}
	return filepath.ToSlash(rel), nil
}
