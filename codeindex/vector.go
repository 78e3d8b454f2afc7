package codeindex

import (
	"math"
)

// vectors holds unit vectors quantized to int8: vector i is
// scale[i] * data[i*dim:(i+1)*dim]. A zero vector (a chunk with no known
// term) has scale 0 and never scores.
type vectors struct {
	dim   int
	data  []int8
	scale []float32
}

func (v *vectors) add(q []int8, s float32) {
	if v.dim == 0 {
		return
	}
	if len(q) != v.dim {
		q, s = make([]int8, v.dim), 0
	}
	v.data = append(v.data, q...)
	v.scale = append(v.scale, s)
}

func (v *vectors) at(i int) ([]int8, float32) {
	return v.data[i*v.dim : (i+1)*v.dim], v.scale[i]
}

func (v *vectors) encode(e *encoder) {
	e.uint(uint64(v.dim))
	e.uint(uint64(len(v.scale)))
	for _, x := range v.data {
		e.buf = append(e.buf, byte(x))
	}
	for _, s := range v.scale {
		e.f32(s)
	}
}

func decodeVectors(d *decoder, chunks int) vectors {
	v := vectors{dim: int(d.uint())}
	n := int(d.uint())
	if d.err != nil {
		return v
	}
	if v.dim == 0 {
		return v
	}
	if n != chunks || v.dim > 1<<16 {
		d.err = errShortVectors
		return v
	}
	raw := d.raw(n * v.dim)
	if d.err != nil {
		return v
	}
	v.data = make([]int8, len(raw))
	for i, b := range raw {
		v.data[i] = int8(b)
	}
	v.scale = make([]float32, n)
	for i := range v.scale {
		v.scale[i] = d.f32()
	}
	return v
}

var errShortVectors = errorString("vector count does not match chunk count")

type errorString string

func (e errorString) Error() string { return string(e) }

// normalize scales v to unit length in place; it reports false for a
// zero (or non-finite) vector.
func normalize(v []float32) bool {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(ss, 0) || math.IsNaN(ss) {
		return false
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return true
}

// quantize normalizes v and maps it to int8 with a per-vector scale:
// the largest component becomes ±127. A zero vector gets scale 0.
func quantize(v []float32) ([]int8, float32) {
	q := make([]int8, len(v))
	if !normalize(v) {
		return q, 0
	}
	var m float32
	for _, x := range v {
		m = max(m, abs32(x))
	}
	s := m / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / s)))
	}
	return q, s
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// dotInt8 returns the dot product of two equal-length int8 vectors.
func dotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
