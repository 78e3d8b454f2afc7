package codeindex

import (
	"context"
	"errors"
	"maps"
	"time"
)

// Update policy.
const (
	// retrainFraction: the built-in model is relearned from scratch (a
	// full rebuild) once the chunks folded in since training exceed this
	// fraction of the chunks it was trained on.
	retrainFraction = 0.2
	// Segments are merged into one when there are more than maxSegments
	// or when more than maxDeadFraction of all chunks are tombstoned.
	maxSegments     = 8
	maxDeadFraction = 0.3
)

// Update brings the index up to date with the files under root (no
// paths) or with just the given paths (relative to root or absolute;
// directories are walked; paths that no longer exist are removed). It
// commits a new generation atomically: a cancelled or failed Update leaves
// the previous one in place.
func (ix *Index) Update(ctx context.Context, paths ...string) (UpdateStats, error) {
	start := time.Now()
	if ix.closed.Load() {
		return UpdateStats{}, errClosed
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ensureDir(ix.dir); err != nil {
		return UpdateStats{}, err
	}
	lk, err := lockDir(ix.dir)
	if err != nil {
		return UpdateStats{}, err
	}
	defer lk.unlock()
	cur, err := ix.current()
	if err != nil {
		return UpdateStats{}, err
	}
	p, err := ix.plan(ctx, cur, paths)
	if err != nil {
		return UpdateStats{}, err
	}
	next, st, err := ix.apply(ctx, cur, p)
	if err != nil {
		return UpdateStats{}, err
	}
	if next != cur {
		ix.snap.Store(next)
		collectGarbage(ix.dir, &next.m)
		next.indexBytes = dirBytes(ix.dir, &next.m)
	}
	st.Files, st.Chunks = len(next.files), next.live
	st.SourceBytes, st.IndexBytes = next.sourceBytes, next.indexBytes
	st.Elapsed = time.Since(start)
	ix.log.Info("codeindex: updated", "files", st.Files, "changed", st.Changed, "removed", st.Removed,
		"chunks", st.Chunks, "elapsed", st.Elapsed)
	return st, nil
}

var errClosed = errors.New("codeindex: index is closed")

// current returns the committed snapshot, reloading it when another
// process committed since this Index last looked.
func (ix *Index) current() (*snapshot, error) {
	have := ix.snap.Load()
	m, err := readManifest(ix.dir)
	if err != nil {
		return nil, err
	}
	if m == nil {
		if len(have.segs) > 0 { // removed behind our back: start over
			return emptySnapshot(ix.root), nil
		}
		return have, nil
	}
	if m.Generation == have.m.Generation && len(have.segs) == len(m.Segments) {
		return have, nil
	}
	s, err := loadSnapshot(ix.dir)
	if err != nil {
		return nil, err
	}
	ix.snap.Store(s)
	return s, nil
}

// apply executes a plan and commits the result; it returns cur itself
// when nothing changed.
func (ix *Index) apply(ctx context.Context, cur *snapshot, p *plan) (*snapshot, UpdateStats, error) {
	var st UpdateStats
	if len(p.check) == 0 && len(p.remove) == 0 && !p.rebuild && maps.Equal(p.skipped, cur.m.Skipped) {
		return cur, st, nil
	}
	results, err := ix.process(ctx, cur, p.check, 0, len(p.check))
	if err != nil {
		return nil, st, err
	}
	if !p.rebuild && ix.opts.Embedder == nil && ix.needRetrain(cur, results) {
		ix.log.Info("codeindex: relearning the built-in embedder from the whole corpus")
		p.rebuild = true
		seen := map[string]bool{}
		for _, c := range p.check {
			seen[c.rel] = true
		}
		rest := ix.liveExcept(cur, seen, p.remove)
		more, err := ix.process(ctx, cur, rest, len(p.check), len(p.check)+len(rest))
		if err != nil {
			return nil, st, err
		}
		results = append(results, more...)
	}
	for _, r := range results {
		if r.skip == nil && r.changed {
			st.Changed++
		}
	}
	st.Removed = len(p.remove)
	for _, r := range results {
		if _, was := cur.files[r.entry.path]; was && r.skip != nil {
			st.Removed++
		}
	}
	for _, r := range results {
		if why := cacheableSkip(r.skip); why != "" {
			p.skipped[r.entry.path] = skippedFile{r.entry.size, r.entry.mtime, why}
		}
	}
	if !p.rebuild && st.Changed == 0 && st.Removed == 0 && !anyTouched(results) && maps.Equal(p.skipped, cur.m.Skipped) {
		return cur, st, nil
	}
	next, err := ix.commit(ctx, cur, p, results)
	return next, st, err
}

// cacheableSkip names a skip reason that holds until the file changes
// ("" for none, and for errors such as permissions, which may not).
func cacheableSkip(err error) string {
	switch err {
	case errBinary, errGenerated, errTooLarge:
		return err.Error()
	}
	return ""
}

func anyTouched(results []fileResult) bool {
	for _, r := range results {
		if r.skip == nil {
			return true
		}
	}
	return false
}

// needRetrain reports whether the built-in model must be relearned before
// folding in results.
func (ix *Index) needRetrain(cur *snapshot, results []fileResult) bool {
	if cur.model == nil {
		return true
	}
	added := 0
	for _, r := range results {
		added += len(r.chunks)
	}
	return float64(cur.m.FoldedChunks+added) > retrainFraction*float64(max(cur.m.TrainedChunks, 1))
}

// dirBytes sums the sizes of the files of m, the manifest and the cache.
func dirBytes(dir string, m *manifest) int64 {
	n := int64(len(encodeManifest(m))) + cacheSize(dir)
	if m.Model != nil {
		n += m.Model.Size
	}
	for _, s := range m.Segments {
		n += s.Size
	}
	return n
}
