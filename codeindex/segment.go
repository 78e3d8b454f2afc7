package codeindex

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
)

// A segment is an immutable part of the index: the files of one Update
// (or of a merge), their chunks, the BM25 postings of those chunks and
// their quantized vectors. Chunk ids are local to the segment.
type segment struct {
	name   string
	files  []fileEntry
	chunks []chunkMeta

	// Lexical: terms sorted, term i is termBlob[termOff[i]:termOff[i+1]],
	// its postings postings[postOff[i]:postOff[i+1]] as uvarint pairs
	// (chunk id delta, term frequency).
	termBlob []byte
	termOff  []uint32
	df       []uint32
	postOff  []uint32
	postings []byte

	vecs vectors
}

// fileEntry is an indexed file. Its chunks are chunks[first:first+n].
type fileEntry struct {
	path        string // slash-separated, relative to root
	size, mtime int64
	hash        [16]byte // SHA-256 prefix of the content
	first, n    int32
}

// chunkMeta locates a chunk; the text itself is re-read from the file.
type chunkMeta struct {
	file               int32 // index into segment.files
	startLine, endLine int32
	startByte, endByte int64
	hash               uint64 // of src[startByte:endByte]
	length             int32  // BM25 document length in terms
	kind               uint8
	symbol             string
}

// kinds are the chunk kinds, stored as their index.
var kinds = []string{"lines", "func", "method", "type", "const", "var", "package", "function", "class", "module"}

func kindIndex(k string) uint8 {
	for i, s := range kinds {
		if s == k {
			return uint8(i)
		}
	}
	return 0
}

func (s *segment) term(i int) []byte { return s.termBlob[s.termOff[i]:s.termOff[i+1]] }

// lookup returns the index of term t, or -1.
func (s *segment) lookup(t string) int {
	n := len(s.df)
	i := sort.Search(n, func(i int) bool { return string(s.term(i)) >= t })
	if i < n && string(s.term(i)) == t {
		return i
	}
	return -1
}

// eachPosting calls fn for each (chunk, tf) of term i, in chunk order.
func (s *segment) eachPosting(i int, fn func(doc uint32, tf uint32)) {
	p := s.postings[s.postOff[i]:s.postOff[i+1]]
	var doc uint64
	for len(p) > 0 {
		d, n := binary.Uvarint(p)
		tf, m := binary.Uvarint(p[n:])
		p = p[n+m:]
		doc += d
		fn(uint32(doc), uint32(tf))
	}
}

// termFreq is a term and its (boosted) frequency in one chunk.
type termFreq struct {
	term string
	tf   uint32
}

// builder accumulates chunks into a new segment.
type builder struct {
	files  []fileEntry
	chunks []chunkMeta
	ids    map[string]int32
	terms  []string
	posts  [][]posting
	vecs   vectors
}

type posting struct{ doc, tf uint32 }

func newBuilder(dim int) *builder {
	return &builder{ids: map[string]int32{}, vecs: vectors{dim: dim}}
}

// addFile starts a file; the chunks added next belong to it.
func (b *builder) addFile(f fileEntry) {
	f.first, f.n = int32(len(b.chunks)), 0
	b.files = append(b.files, f)
}

// addChunk adds a chunk of the last file with its terms and vector.
func (b *builder) addChunk(c chunkMeta, terms []termFreq, vec []int8, scale float32) {
	c.file = int32(len(b.files) - 1)
	b.files[c.file].n++
	doc := uint32(len(b.chunks))
	b.chunks = append(b.chunks, c)
	for _, t := range terms {
		id, ok := b.ids[t.term]
		if !ok {
			id = int32(len(b.terms))
			b.ids[t.term] = id
			b.terms = append(b.terms, t.term)
			b.posts = append(b.posts, nil)
		}
		b.posts[id] = append(b.posts[id], posting{doc, t.tf})
	}
	b.vecs.add(vec, scale)
}

// encode serializes the segment. Layout (all integers uvarint unless
// noted): magic "LXSG1\n"; file count, then per file path length, path,
// size, mtime, 16-byte hash, first, n; chunk count, then per chunk file,
// start/end line, start/end byte, 8-byte LE hash, length, kind byte,
// symbol length, symbol; term count, then per term length, term, df,
// postings length, postings; vector dim, then count×dim int8 and count
// float32 LE scales.
func (b *builder) encode() []byte {
	order := make([]int32, len(b.terms))
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(i, j int) bool { return b.terms[order[i]] < b.terms[order[j]] })
	e := encoder{buf: make([]byte, 0, 64+len(b.chunks)*48+len(b.vecs.data)*5/4)}
	e.raw([]byte(segMagic))
	e.uint(uint64(len(b.files)))
	for _, f := range b.files {
		e.str(f.path)
		e.uint(uint64(f.size))
		e.uint(uint64(f.mtime))
		e.raw(f.hash[:])
		e.uint(uint64(f.first))
		e.uint(uint64(f.n))
	}
	e.uint(uint64(len(b.chunks)))
	for _, c := range b.chunks {
		e.uint(uint64(c.file))
		e.uint(uint64(c.startLine))
		e.uint(uint64(c.endLine))
		e.uint(uint64(c.startByte))
		e.uint(uint64(c.endByte))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, c.hash)
		e.uint(uint64(c.length))
		e.buf = append(e.buf, c.kind)
		e.str(c.symbol)
	}
	e.uint(uint64(len(order)))
	var pbuf []byte
	for _, id := range order {
		e.str(b.terms[id])
		ps := b.posts[id]
		e.uint(uint64(len(ps)))
		pbuf = pbuf[:0]
		var last uint32
		for _, p := range ps {
			pbuf = binary.AppendUvarint(pbuf, uint64(p.doc-last))
			pbuf = binary.AppendUvarint(pbuf, uint64(p.tf))
			last = p.doc
		}
		e.uint(uint64(len(pbuf)))
		e.raw(pbuf)
	}
	b.vecs.encode(&e)
	return e.buf
}

const segMagic = "LXSG1\n"

var errShort = errors.New("truncated")

// decodeSegment parses an encoded segment; data is retained.
func decodeSegment(name string, data []byte) (*segment, error) {
	d := decoder{buf: data}
	if string(d.raw(len(segMagic))) != segMagic {
		return nil, fmt.Errorf("segment %s: bad magic", name)
	}
	s := &segment{name: name}
	nf := d.count(8)
	s.files = make([]fileEntry, nf)
	for i := range s.files {
		f := &s.files[i]
		f.path = d.str()
		f.size = int64(d.uint())
		f.mtime = int64(d.uint())
		copy(f.hash[:], d.raw(16))
		f.first = int32(d.uint())
		f.n = int32(d.uint())
	}
	nc := d.count(16)
	s.chunks = make([]chunkMeta, nc)
	for i := range s.chunks {
		c := &s.chunks[i]
		c.file = int32(d.uint())
		c.startLine = int32(d.uint())
		c.endLine = int32(d.uint())
		c.startByte = int64(d.uint())
		c.endByte = int64(d.uint())
		c.hash = d.u64()
		c.length = int32(d.uint())
		c.kind = d.byte()
		c.symbol = d.str()
		if d.err == nil && (c.file < 0 || int(c.file) >= nf || int(c.kind) >= len(kinds)) {
			d.err = errors.New("chunk out of range")
		}
	}
	d.terms(s)
	s.vecs = decodeVectors(&d, nc)
	if d.err != nil {
		return nil, fmt.Errorf("segment %s: %w", name, d.err)
	}
	for _, f := range s.files {
		if f.first < 0 || f.n < 0 || int(f.first)+int(f.n) > nc {
			return nil, fmt.Errorf("segment %s: file %s: chunk range out of bounds", name, f.path)
		}
	}
	return s, nil
}

func (d *decoder) terms(s *segment) {
	nt := d.count(3)
	s.termOff = make([]uint32, 0, nt+1)
	s.postOff = make([]uint32, 0, nt+1)
	s.df = make([]uint32, 0, nt)
	blob := make([]byte, 0, nt*8)
	var plist [][]byte
	var ptotal int
	for i := 0; i < nt && d.err == nil; i++ {
		s.termOff = append(s.termOff, uint32(len(blob)))
		blob = append(blob, d.str()...)
		s.df = append(s.df, uint32(d.uint()))
		p := d.raw(int(d.uint()))
		plist = append(plist, p)
		s.postOff = append(s.postOff, uint32(ptotal))
		ptotal += len(p)
	}
	s.termOff = append(s.termOff, uint32(len(blob)))
	s.postOff = append(s.postOff, uint32(ptotal))
	s.termBlob = blob
	s.postings = make([]byte, 0, ptotal)
	for _, p := range plist {
		s.postings = append(s.postings, p...)
	}
}

type encoder struct{ buf []byte }

func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) raw(b []byte)  { e.buf = append(e.buf, b...) }
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *encoder) f32(f float32) {
	e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(f))
}

// decoder reads what encoder wrote; the first error sticks and later
// reads return zero values, so callers check err once at the end.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) raw(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.buf) {
		if d.err == nil {
			d.err = errShort
		}
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) byte() uint8 {
	b := d.raw(1)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (d *decoder) str() string { return string(d.raw(int(d.uint()))) }

func (d *decoder) u64() uint64 {
	b := d.raw(8)
	if len(b) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) f32() float32 {
	b := d.raw(4)
	if len(b) < 4 {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

// count reads an element count and rejects one that the remaining bytes
// cannot hold (each element needs at least minSize bytes), so corrupt
// input cannot make us allocate gigabytes.
func (d *decoder) count(minSize int) int {
	n := d.uint()
	if d.err == nil && n > uint64(len(d.buf)/max(minSize, 1)) {
		d.err = fmt.Errorf("count %d exceeds data", n)
		return 0
	}
	return int(n)
}
