package codeindex

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// snapshot is one committed generation of the index, immutable once
// built: Search works on the snapshot it loaded while Update prepares the
// next and swaps it in atomically.
type snapshot struct {
	m     manifest
	segs  []*segment
	dead  [][]bool // per segment, per chunk: replaced or removed
	base  []int    // global id of each segment's chunk 0
	total int      // chunks, dead included
	live  int      // live chunks
	files map[string]fileLoc
	model *lsaModel
	dim   int // vector dimension, 0 when there are no vectors

	avgdl float64
	norm  []float32 // per global chunk: k1·(1−b+b·len/avgdl)

	sourceBytes, indexBytes int64
}

// fileLoc finds a live file: segment and index in its file table.
type fileLoc struct{ seg, file int32 }

// emptySnapshot is the index before the first Update.
func emptySnapshot(root string) *snapshot {
	s := &snapshot{m: manifest{Version: formatVersion, Root: root}}
	s.derive()
	return s
}

// loadSnapshot reads the committed index in dir: (nil, nil) when there is
// none. A file collected by a concurrent update between reading the
// manifest and the file makes it start over.
func loadSnapshot(dir string) (*snapshot, error) {
	for attempt := 0; ; attempt++ {
		s, err := loadOnce(dir)
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, corrupt(dir, "a file the manifest lists is missing: "+err.Error())
		}
		return s, err
	}
}

func loadOnce(dir string) (*snapshot, error) {
	m, err := readManifest(dir)
	if m == nil || err != nil {
		return nil, err
	}
	s := &snapshot{m: *m}
	size := int64(len(encodeManifest(m)))
	if m.Model != nil {
		data, err := readChecked(dir, *m.Model)
		if err != nil {
			return nil, err
		}
		if s.model, err = decodeLSA(data); err != nil {
			return nil, corrupt(dir, err.Error())
		}
		size += m.Model.Size
	}
	for _, ref := range m.Segments {
		data, err := readChecked(dir, ref.fileRef)
		if err != nil {
			return nil, err
		}
		seg, err := decodeSegment(ref.Name, data)
		if err != nil {
			return nil, corrupt(dir, err.Error())
		}
		for _, f := range ref.Dead {
			if f < 0 || int(f) >= len(seg.files) {
				return nil, corrupt(dir, fmt.Sprintf("%s: dead file %d out of range", ref.Name, f))
			}
		}
		s.segs = append(s.segs, seg)
		size += ref.Size
	}
	s.indexBytes = size + cacheSize(dir)
	s.derive()
	if err := s.checkDims(); err != nil {
		return nil, corrupt(dir, err.Error())
	}
	return s, nil
}

func (s *snapshot) checkDims() error {
	for _, seg := range s.segs {
		if seg.vecs.dim != 0 && s.dim != 0 && seg.vecs.dim != s.dim {
			return fmt.Errorf("segment %s has %d-dimensional vectors, others %d", seg.name, seg.vecs.dim, s.dim)
		}
		if seg.vecs.dim != 0 {
			s.dim = seg.vecs.dim
		}
	}
	if s.model != nil && s.dim != 0 && s.model.dim != s.dim {
		return fmt.Errorf("model dimension %d, vectors %d", s.model.dim, s.dim)
	}
	return nil
}

// cacheSize is the size of the embedding cache, part of the index's bytes.
func cacheSize(dir string) int64 {
	fi, err := os.Stat(filepath.Join(dir, cacheName))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// BM25 parameters (the usual ones; 0.9 and 1.6 for k1, 0.5 and 0.9 for b
// did no better on the benchmark in doc.go).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// derive computes the tables Search needs from segments and tombstones.
func (s *snapshot) derive() {
	s.files = map[string]fileLoc{}
	s.dead = make([][]bool, len(s.segs))
	s.base = make([]int, len(s.segs))
	s.total, s.live, s.sourceBytes = 0, 0, 0
	var sumLen float64
	for i, seg := range s.segs {
		s.base[i] = s.total
		s.total += len(seg.chunks)
		dead := make([]bool, len(seg.chunks))
		deadFile := make([]bool, len(seg.files))
		if i < len(s.m.Segments) {
			for _, f := range s.m.Segments[i].Dead {
				deadFile[f] = true
			}
		}
		for fi, f := range seg.files {
			if deadFile[fi] {
				for c := f.first; c < f.first+f.n; c++ {
					dead[c] = true
				}
				continue
			}
			s.files[f.path] = fileLoc{int32(i), int32(fi)}
			s.sourceBytes += f.size
			s.live += int(f.n)
		}
		s.dead[i] = dead
		for _, c := range seg.chunks {
			sumLen += float64(c.length)
		}
		if seg.vecs.dim != 0 {
			s.dim = seg.vecs.dim
		}
	}
	s.avgdl = 1
	if s.total > 0 && sumLen > 0 {
		s.avgdl = sumLen / float64(s.total)
	}
	s.norm = make([]float32, s.total)
	for i, seg := range s.segs {
		for c, ch := range seg.chunks {
			s.norm[s.base[i]+c] = float32(bm25K1 * (1 - bm25B + bm25B*float64(ch.length)/s.avgdl))
		}
	}
}

// locate returns the segment of global chunk id g and its local id.
func (s *snapshot) locate(g int) (*segment, int) {
	i := len(s.base) - 1
	for i > 0 && s.base[i] > g {
		i--
	}
	return s.segs[i], g - s.base[i]
}

// chunkAt returns the segment, chunk and file of global chunk id g.
func (s *snapshot) chunkAt(g int) (*segment, *chunkMeta, *fileEntry) {
	seg, l := s.locate(g)
	c := &seg.chunks[l]
	return seg, c, &seg.files[c.file]
}
