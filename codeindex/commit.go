package codeindex

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// commit builds the next generation from cur, the plan and the processed
// files, writes its new files durably, then switches the manifest.
func (ix *Index) commit(ctx context.Context, cur *snapshot, p *plan, results []fileResult) (*snapshot, error) {
	m := manifest{Version: formatVersion, Root: ix.root, Generation: cur.m.Generation + 1,
		Embedder: ix.embedderName(), Skipped: p.skipped}
	model, err := ix.nextModel(ctx, cur, p, results, &m)
	if err != nil {
		return nil, err
	}
	vecs, err := ix.embedAll(ctx, model, results)
	if err != nil {
		return nil, err
	}
	keep := survivors(cur, p, results)
	b := newBuilder(vectorDim(cur, p, model, vecs))
	if len(keep)+1 > maxSegments || deadFraction(keep) > maxDeadFraction {
		for _, k := range keep {
			addSegment(b, k.seg, k.dead)
		}
		keep = nil
	}
	addResults(b, results, vecs)

	w := &genWriter{dir: ix.dir, gen: m.Generation}
	next := &snapshot{model: model}
	for _, k := range keep {
		m.Segments = append(m.Segments, segRef{fileRef: k.ref, Dead: k.dead})
		next.segs = append(next.segs, k.seg)
	}
	if len(b.files) > 0 {
		ref, seg, err := w.segment(b)
		if err != nil {
			return nil, w.abort(err)
		}
		m.Segments = append(m.Segments, segRef{fileRef: ref})
		next.segs = append(next.segs, seg)
	}
	if model != nil && model != cur.model {
		ref, err := w.model(model)
		if err != nil {
			return nil, w.abort(err)
		}
		m.Model = &ref
	}
	if err := ctx.Err(); err != nil {
		return nil, w.abort(err) // the last moment to back out
	}
	if err := writeDurable(ix.dir, manifestName, encodeManifest(&m)); err != nil {
		return nil, w.abort(fmt.Errorf("codeindex: write manifest: %w", err))
	}
	if ix.opts.Embedder != nil {
		removeCache(ix.dir)
	}
	next.m = m
	next.derive()
	return next, nil
}

// nextModel returns the built-in model the next generation uses: the
// current one, or a new one learned from results on a rebuild. It records
// the training bookkeeping in m. With an external embedder it is nil.
func (ix *Index) nextModel(ctx context.Context, cur *snapshot, p *plan, results []fileResult, m *manifest) (*lsaModel, error) {
	if ix.opts.Embedder != nil {
		return nil, nil
	}
	if cur.model != nil && !p.rebuild {
		m.Model, m.TrainedChunks = cur.m.Model, cur.m.TrainedChunks
		m.FoldedChunks = cur.m.FoldedChunks + countChunks(results)
		return cur.model, nil
	}
	model, err := ix.train(ctx, results)
	if err != nil {
		return nil, err
	}
	m.TrainedChunks = model.docs
	return model, nil
}

// vectorDim is the dimension of the next generation's vectors.
func vectorDim(cur *snapshot, p *plan, model *lsaModel, vecs []qvec) int {
	switch {
	case model != nil:
		return model.dim
	case len(vecs) > 0:
		return len(vecs[0].q)
	case !p.rebuild:
		return cur.dim
	}
	return 0
}

// kept is a current segment that stays, with its new tombstones.
type kept struct {
	seg  *segment
	ref  fileRef
	dead []int32
}

// survivors returns the current segments that keep live files, with the
// files now replaced or removed marked dead. A rebuild keeps none.
func survivors(cur *snapshot, p *plan, results []fileResult) []kept {
	if p.rebuild {
		return nil
	}
	replaced := map[string]bool{}
	for _, r := range results {
		replaced[r.entry.path] = true
	}
	for _, rel := range p.remove {
		replaced[rel] = true
	}
	var out []kept
	for i, seg := range cur.segs {
		dead := append([]int32(nil), cur.m.Segments[i].Dead...)
		for fi, f := range seg.files {
			if loc, ok := cur.files[f.path]; ok && loc == (fileLoc{int32(i), int32(fi)}) && replaced[f.path] {
				dead = append(dead, int32(fi))
			}
		}
		if len(seg.files) > len(dead) {
			out = append(out, kept{seg, cur.m.Segments[i].fileRef, dead})
		}
	}
	return out
}

// genWriter writes the new files of one generation and removes them if
// the commit is abandoned.
type genWriter struct {
	dir     string
	gen     uint64
	written []string
}

func (w *genWriter) segment(b *builder) (fileRef, *segment, error) {
	name := fmt.Sprintf("seg-%06d.bin", w.gen)
	data := b.encode()
	ref, err := writeIndexFile(w.dir, name, data)
	if err != nil {
		return fileRef{}, nil, err
	}
	w.written = append(w.written, name)
	seg, err := decodeSegment(name, data)
	if err != nil {
		return fileRef{}, nil, fmt.Errorf("codeindex: re-reading new segment: %w", err)
	}
	return ref, seg, nil
}

func (w *genWriter) model(m *lsaModel) (fileRef, error) {
	name := fmt.Sprintf("model-%06d.bin", w.gen)
	ref, err := writeIndexFile(w.dir, name, m.encode())
	if err == nil {
		w.written = append(w.written, name)
	}
	return ref, err
}

// abort removes what was written and returns err.
func (w *genWriter) abort(err error) error {
	for _, n := range w.written {
		os.Remove(filepath.Join(w.dir, n))
	}
	return err
}

func countChunks(results []fileResult) int {
	n := 0
	for _, r := range results {
		n += len(r.chunks)
	}
	return n
}

// deadFraction is the share of the kept segments' chunks that are dead.
func deadFraction(keep []kept) float64 {
	var all, gone int
	for _, k := range keep {
		all += len(k.seg.chunks)
		for _, f := range k.dead {
			gone += int(k.seg.files[f].n)
		}
	}
	if all == 0 {
		return 0
	}
	return float64(gone) / float64(all)
}

// train learns the built-in model from every chunk of results.
func (ix *Index) train(ctx context.Context, results []fileResult) (*lsaModel, error) {
	var bags [][]termFreq
	for _, r := range results {
		if r.skip == nil {
			bags = append(bags, r.bags...)
		}
	}
	if len(bags) == 0 {
		return &lsaModel{}, nil
	}
	model, err := trainLSA(ctx, bags)
	if err != nil {
		return nil, fmt.Errorf("codeindex: learn embedder: %w", err)
	}
	ix.log.Info("codeindex: learned the built-in embedder", "chunks", len(bags), "terms", len(model.terms), "dim", model.dim)
	return model, nil
}

// qvec is a quantized vector.
type qvec struct {
	q     []int8
	scale float32
}

// embedAll returns a vector per chunk of results (skipped files have
// none), from the built-in model or the external embedder.
func (ix *Index) embedAll(ctx context.Context, model *lsaModel, results []fileResult) ([]qvec, error) {
	if ix.opts.Embedder != nil {
		var texts []string
		for _, r := range results {
			if r.skip == nil {
				texts = append(texts, r.texts...)
			}
		}
		return ix.embedExternal(ctx, texts)
	}
	var bags [][]termFreq
	for _, r := range results {
		if r.skip == nil {
			bags = append(bags, r.bags...)
		}
	}
	out := make([]qvec, len(bags))
	if model == nil || model.dim == 0 {
		return out, nil
	}
	parallelRows(len(bags), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			q, s := quantize(model.embed(bags[i]))
			out[i] = qvec{q, s}
		}
	})
	return out, ctx.Err()
}

// addResults adds the processed files (skipped ones excluded) in order.
func addResults(b *builder, results []fileResult, vecs []qvec) {
	v := 0
	for _, r := range results {
		if r.skip != nil {
			continue
		}
		b.addFile(r.entry)
		for i, c := range r.chunks {
			b.addChunk(c, r.bags[i], vecs[v].q, vecs[v].scale)
			v++
		}
	}
}

// addSegment copies the live files of seg into b: term bags recovered by
// inverting its postings, vectors copied as they are.
func addSegment(b *builder, seg *segment, dead []int32) {
	bags := make([][]termFreq, len(seg.chunks))
	for t := range seg.df {
		term := string(seg.term(t))
		seg.eachPosting(t, func(doc, tf uint32) {
			if int(doc) < len(bags) {
				bags[doc] = append(bags[doc], termFreq{term, tf})
			}
		})
	}
	isDead := map[int32]bool{}
	for _, f := range dead {
		isDead[f] = true
	}
	for fi, f := range seg.files {
		if isDead[int32(fi)] {
			continue
		}
		b.addFile(f)
		for c := f.first; c < f.first+f.n; c++ {
			var q []int8
			var s float32
			if seg.vecs.dim != 0 {
				q, s = seg.vecs.at(int(c))
			}
			b.addChunk(seg.chunks[c], bags[c], q, s)
		}
	}
}
