package codeindex

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// lsaModel is the built-in embedder: latent semantic analysis learned
// from the indexed chunks. A text's vector is the fold-in of its TF-IDF
// vector onto the top right singular vectors of the chunk×term matrix:
// embed(x) = Σ_t (1+ln tf_t)·idf_t · vec_t, normalized. Chunks and
// queries are embedded the same way, so new chunks fold in without
// retraining.
type lsaModel struct {
	terms []string  // sorted vocabulary
	idf   []float32 // per term
	vec   []float32 // len(terms)×dim, row t is term t's vector
	dim   int
	docs  int // chunks it was trained on
}

// LSA training parameters.
const (
	lsaMinDF      = 3     // a term must occur in this many chunks (fewer in small corpora)
	lsaMaxVocab   = 20000 // keep the most frequent terms beyond this
	lsaMaxRank    = 96
	lsaMinRank    = 16
	lsaOversample = 16
	lsaPowerIters = 1
	// lsaSigmaPow weights dimension i of a vector by σ_i^lsaSigmaPow: 1 is
	// classic LSA (document vectors UΣ), 0 weighs all dimensions equally.
	lsaSigmaPow = 1.0
)

// lsaRank picks the rank for a corpus of n chunks: a small repository
// cannot support, and need not pay for, the full rank.
func lsaRank(n int) int {
	return max(lsaMinRank, min(lsaMaxRank, n/32))
}

// trainLSA learns a model from the term bags of all chunks.
func trainLSA(ctx context.Context, docs [][]termFreq) (*lsaModel, error) {
	if len(docs) == 0 {
		return nil, errors.New("no chunks to learn from")
	}
	m := vocabulary(docs)
	if len(m.terms) == 0 {
		return m, nil
	}
	a := m.matrix(docs)
	rank := min(lsaRank(len(docs)), len(m.terms), len(docs))
	v, sigma, err := randomizedSVD(ctx, a, rank)
	if err != nil {
		return nil, err
	}
	rank = len(sigma)
	m.dim = rank
	m.vec = make([]float32, len(m.terms)*rank)
	for t := range m.terms {
		for j := 0; j < rank; j++ {
			w := 1.0
			if lsaSigmaPow != 1 && sigma[j] > 0 {
				w = math.Pow(sigma[j], lsaSigmaPow-1)
			}
			m.vec[t*rank+j] = float32(v[t*rank+j] * w)
		}
	}
	return m, nil
}

// vocabulary selects the terms and their idf.
func vocabulary(docs [][]termFreq) *lsaModel {
	df := map[string]int32{}
	for _, d := range docs {
		for _, t := range d {
			df[t.term]++
		}
	}
	type tdf struct {
		t  string
		df int32
	}
	var keep []tdf
	minDF := lsaMinDF // small corpora keep rarer terms: they have few others
	switch {
	case len(docs) < 200:
		minDF = 1
	case len(docs) < 5000:
		minDF = min(minDF, 2)
	}
	for t, n := range df {
		if int(n) >= minDF {
			keep = append(keep, tdf{t, n})
		}
	}
	if len(keep) > lsaMaxVocab {
		sort.Slice(keep, func(i, j int) bool {
			if keep[i].df != keep[j].df {
				return keep[i].df > keep[j].df
			}
			return keep[i].t < keep[j].t
		})
		keep = keep[:lsaMaxVocab]
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].t < keep[j].t })
	m := &lsaModel{docs: len(docs), terms: make([]string, len(keep)), idf: make([]float32, len(keep))}
	n := float64(len(docs))
	for i, k := range keep {
		m.terms[i] = k.t
		m.idf[i] = float32(math.Log(n / float64(k.df)))
	}
	return m
}

func (m *lsaModel) lookup(t string) int {
	i := sort.SearchStrings(m.terms, t)
	if i < len(m.terms) && m.terms[i] == t {
		return i
	}
	return -1
}

// weight is the TF-IDF weight of a term occurring tf times.
func (m *lsaModel) weight(i int, tf uint32) float32 {
	return (1 + float32(math.Log(float64(tf)))) * m.idf[i]
}

// embed folds a bag of terms into the latent space. Unknown terms are
// ignored; a bag with none known gives the zero vector.
func (m *lsaModel) embed(bag []termFreq) []float32 {
	out := make([]float32, m.dim)
	if m.dim == 0 {
		return out
	}
	for _, t := range bag {
		i := m.lookup(t.term)
		if i < 0 {
			continue
		}
		w := m.weight(i, t.tf)
		row := m.vec[i*m.dim : (i+1)*m.dim]
		for j, x := range row {
			out[j] += w * x
		}
	}
	return out
}

// csr is a sparse matrix in compressed sparse row form.
type csr struct {
	rows, cols int
	ptr        []int32
	col        []int32
	val        []float32
}

// matrix builds the chunk×term TF-IDF matrix, rows normalized to unit
// length so long chunks do not dominate the factorization.
func (m *lsaModel) matrix(docs [][]termFreq) *csr {
	a := &csr{rows: len(docs), cols: len(m.terms), ptr: make([]int32, 1, len(docs)+1)}
	for _, d := range docs {
		start := len(a.val)
		var ss float64
		for _, t := range d {
			i := m.lookup(t.term)
			if i < 0 {
				continue
			}
			w := m.weight(i, t.tf)
			a.col = append(a.col, int32(i))
			a.val = append(a.val, w)
			ss += float64(w) * float64(w)
		}
		if ss > 0 {
			inv := float32(1 / math.Sqrt(ss))
			for k := start; k < len(a.val); k++ {
				a.val[k] *= inv
			}
		}
		a.ptr = append(a.ptr, int32(len(a.val)))
	}
	return a
}

// transpose returns Aᵀ in CSR form.
func (a *csr) transpose() *csr {
	t := &csr{rows: a.cols, cols: a.rows, ptr: make([]int32, a.cols+1), col: make([]int32, len(a.col)), val: make([]float32, len(a.val))}
	for _, c := range a.col {
		t.ptr[c+1]++
	}
	for i := 1; i <= a.cols; i++ {
		t.ptr[i] += t.ptr[i-1]
	}
	next := append([]int32(nil), t.ptr[:a.cols]...)
	for r := 0; r < a.rows; r++ {
		for k := a.ptr[r]; k < a.ptr[r+1]; k++ {
			c := a.col[k]
			t.col[next[c]] = int32(r)
			t.val[next[c]] = a.val[k]
			next[c]++
		}
	}
	return t
}

// mul returns A·X for a dense X (a.cols × l, row-major), in parallel
// over row blocks.
func (a *csr) mul(x []float64, l int) []float64 {
	y := make([]float64, a.rows*l)
	parallelRows(a.rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := y[r*l : (r+1)*l]
			for k := a.ptr[r]; k < a.ptr[r+1]; k++ {
				v := float64(a.val[k])
				xr := x[int(a.col[k])*l : int(a.col[k]+1)*l]
				for j, xv := range xr {
					yr[j] += v * xv
				}
			}
		}
	})
	return y
}

// parallelRows splits [0, n) into one block per CPU and runs fn on each.
func parallelRows(n int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if n < 1024 || p == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + p - 1) / p
	for lo := 0; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+step, n))
	}
	wg.Wait()
}

// orthonormalize replaces the columns of the rows×l matrix y (row-major)
// by an orthonormal basis of their span, through the eigendecomposition
// of the l×l Gram matrix: Q = Y·W·Λ^(-1/2). Squaring the condition number
// costs accuracy only in directions far below the ones kept, and it runs
// as two dense matrix products (parallel BLAS) instead of a Householder
// QR, which in pure Go is ten times slower at this shape. Directions with
// no weight become zero columns.
func orthonormalize(y []float64, rows, l int) error {
	ym := mat.NewDense(rows, l, y)
	w, lambda, err := gramEigen(ym)
	if err != nil {
		return err
	}
	for j := range l {
		inv := 0.0
		if lambda[j] > lambda[0]*1e-12 && lambda[j] > 0 {
			inv = 1 / math.Sqrt(lambda[j])
		}
		for i := range l {
			w.Set(i, j, w.At(i, j)*inv)
		}
	}
	q := mat.NewDense(rows, l, nil)
	q.Mul(ym, w)
	copy(y, q.RawMatrix().Data)
	return nil
}

// gramEigen returns the eigenvectors (columns, by descending eigenvalue)
// and eigenvalues of MᵀM.
func gramEigen(m *mat.Dense) (*mat.Dense, []float64, error) {
	_, l := m.Dims()
	var g mat.SymDense
	g.SymOuterK(1, m.T())
	var eig mat.EigenSym
	if !eig.Factorize(&g, true) {
		return nil, nil, errors.New("eigendecomposition did not converge")
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	w := mat.NewDense(l, l, nil)
	lambda := make([]float64, l)
	for j := range l {
		src := l - 1 - j
		lambda[j] = vals[src]
		for i := range l {
			w.Set(i, j, vecs.At(i, src))
		}
	}
	return w, lambda, nil
}

// randomizedSVD returns the top rank right singular vectors of a (as the
// columns of a cols×rank matrix, row-major) and its singular values, by
// the randomized range finder of Halko, Martinsson and Tropp (2011) with
// lsaPowerIters power iterations.
func randomizedSVD(ctx context.Context, a *csr, rank int) ([]float64, []float64, error) {
	l := min(rank+lsaOversample, a.rows, a.cols)
	rank = min(rank, l)
	at := a.transpose()
	rng := rand.New(rand.NewPCG(1, 2))
	omega := make([]float64, a.cols*l)
	for i := range omega {
		omega[i] = rng.NormFloat64()
	}
	y := a.mul(omega, l) // range sample, rows×l
	omega = nil
	for it := 0; it < lsaPowerIters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		z := at.mul(y, l)
		if err := orthonormalize(z, a.cols, l); err != nil {
			return nil, nil, err
		}
		y = a.mul(z, l)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if err := orthonormalize(y, a.rows, l); err != nil {
		return nil, nil, err
	}
	// B = QᵀA is l×cols; with Bᵀ = AᵀQ, B·Bᵀ = Ub·Σ²·Ubᵀ and the right
	// singular vectors of A are V = Bᵀ·Ub·Σ⁻¹.
	bt := mat.NewDense(a.cols, l, at.mul(y, l))
	y = nil
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ub, lambda, err := gramEigen(bt)
	if err != nil {
		return nil, nil, err
	}
	sigma := make([]float64, rank)
	for j := range rank {
		sigma[j] = math.Sqrt(max(lambda[j], 0))
		inv := 0.0
		if sigma[j] > 0 {
			inv = 1 / sigma[j]
		}
		for i := range l {
			ub.Set(i, j, ub.At(i, j)*inv)
		}
	}
	v := mat.NewDense(a.cols, rank, nil)
	v.Mul(bt, ub.Slice(0, l, 0, rank))
	return v.RawMatrix().Data, sigma, nil
}

// encode serializes the model. Layout: magic "LXLSA1\n"; dim, trained
// chunk count, term count (uvarints); per term its length, bytes, idf
// (float32), row scale (float32) and dim int8 components.
func (m *lsaModel) encode() []byte {
	e := encoder{buf: make([]byte, 0, 16+len(m.terms)*(m.dim+16))}
	e.raw([]byte(lsaMagic))
	e.uint(uint64(m.dim))
	e.uint(uint64(m.docs))
	e.uint(uint64(len(m.terms)))
	for i, t := range m.terms {
		e.str(t)
		e.f32(m.idf[i])
		q, s := quantizeRaw(m.vec[i*m.dim : (i+1)*m.dim])
		e.f32(s)
		for _, x := range q {
			e.buf = append(e.buf, byte(x))
		}
	}
	return e.buf
}

const lsaMagic = "LXLSA1\n"

func decodeLSA(data []byte) (*lsaModel, error) {
	d := decoder{buf: data}
	if string(d.raw(len(lsaMagic))) != lsaMagic {
		return nil, errors.New("model: bad magic")
	}
	m := &lsaModel{dim: int(d.uint()), docs: int(d.uint())}
	n := d.count(9 + m.dim)
	if m.dim > 1<<12 {
		return nil, errors.New("model: bad dimension")
	}
	m.terms = make([]string, n)
	m.idf = make([]float32, n)
	m.vec = make([]float32, n*m.dim)
	for i := 0; i < n && d.err == nil; i++ {
		m.terms[i] = d.str()
		m.idf[i] = d.f32()
		s := d.f32()
		row := d.raw(m.dim)
		for j, b := range row {
			m.vec[i*m.dim+j] = float32(int8(b)) * s
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("model: %w", d.err)
	}
	if !sort.StringsAreSorted(m.terms) {
		return nil, errors.New("model: vocabulary not sorted")
	}
	return m, nil
}

// quantizeRaw maps v to int8 without normalizing it first.
func quantizeRaw(v []float32) ([]int8, float32) {
	q := make([]int8, len(v))
	var mx float32
	for _, x := range v {
		mx = max(mx, abs32(x))
	}
	if mx == 0 {
		return q, 0
	}
	s := mx / 127
	for i, x := range v {
		q[i] = int8(math.Round(float64(x / s)))
	}
	return q, s
}
