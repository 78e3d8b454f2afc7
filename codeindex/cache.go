package codeindex

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
)

// cacheName is the external embedder's vector cache: an append-only log
// of (key, quantized vector) records, each with its own CRC-32C, written
// after every batch so that an interrupted Update resumes where it
// stopped. A torn or corrupt tail is ignored. The cache is removed once an
// Update commits, since the committed segments then hold the vectors.
const cacheName = "embcache.bin"

// embedBatch is how many texts embedExternal hands to the Embedder at once
// (and how often the cache is synced).
const embedBatch = 64

type cacheKey [16]byte

func (ix *Index) cacheKey(text string) cacheKey {
	h := sha256.New()
	h.Write([]byte(ix.opts.Embedder.Name()))
	h.Write([]byte{0})
	h.Write([]byte(text))
	var k cacheKey
	copy(k[:], h.Sum(nil))
	return k
}

// embedExternal embeds texts with the external embedder, reusing and
// extending the cache.
func (ix *Index) embedExternal(ctx context.Context, texts []string) ([]qvec, error) {
	cache := loadCache(filepath.Join(ix.dir, cacheName))
	out := make([]qvec, len(texts))
	var todo []int
	for i, t := range texts {
		if v, ok := cache[ix.cacheKey(t)]; ok {
			out[i] = v
		} else {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	f, err := os.OpenFile(filepath.Join(ix.dir, cacheName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("codeindex: embedding cache: %w", err)
	}
	defer f.Close()
	dim := 0
	for _, v := range out {
		if v.q != nil {
			dim = len(v.q)
			break
		}
	}
	for lo := 0; lo < len(todo); lo += embedBatch {
		idx := todo[lo:min(lo+embedBatch, len(todo))]
		batch := make([]string, len(idx))
		for j, i := range idx {
			batch[j] = texts[i]
		}
		vs, err := ix.opts.Embedder.Embed(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(vs) != len(batch) {
			return nil, fmt.Errorf("codeindex: embedder %s returned %d vectors for %d texts", ix.opts.Embedder.Name(), len(vs), len(batch))
		}
		var rec []byte
		for j, i := range idx {
			if dim == 0 {
				dim = len(vs[j])
			}
			if len(vs[j]) != dim || dim == 0 {
				return nil, fmt.Errorf("codeindex: embedder %s returned a %d-dimensional vector, want %d", ix.opts.Embedder.Name(), len(vs[j]), dim)
			}
			q, s := quantize(append([]float32(nil), vs[j]...))
			out[i] = qvec{q, s}
			rec = appendCacheRecord(rec, ix.cacheKey(texts[i]), q, s)
		}
		if _, err := f.Write(rec); err != nil {
			return nil, fmt.Errorf("codeindex: embedding cache: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("codeindex: embedding cache: %w", err)
		}
		if ix.opts.Progress != nil {
			ix.opts.Progress(lo+len(idx), len(todo))
		}
	}
	return out, nil
}

// appendCacheRecord appends key, uvarint dim, dim int8, float32 scale and
// the CRC-32C of all of that.
func appendCacheRecord(b []byte, k cacheKey, q []int8, s float32) []byte {
	start := len(b)
	b = append(b, k[:]...)
	b = binary.AppendUvarint(b, uint64(len(q)))
	for _, x := range q {
		b = append(b, byte(x))
	}
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// loadCache reads every intact record up to the first damaged one.
func loadCache(path string) map[cacheKey]qvec {
	out := map[cacheKey]qvec{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for len(data) > 16 {
		var k cacheKey
		copy(k[:], data)
		dim, n := binary.Uvarint(data[16:])
		if n <= 0 || dim > 1<<16 {
			break
		}
		end := 16 + n + int(dim) + 8
		if end > len(data) {
			break
		}
		body := data[:end-4]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[end-4:end]) {
			break
		}
		q := make([]int8, dim)
		for i, b := range body[16+n : 16+n+int(dim)] {
			q[i] = int8(b)
		}
		out[k] = qvec{q, math.Float32frombits(binary.LittleEndian.Uint32(body[len(body)-4:]))}
		data = data[end:]
	}
	return out
}

// removeCache deletes the cache after a commit; failing only costs disk.
func removeCache(dir string) {
	os.Remove(filepath.Join(dir, cacheName))
}
