package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var fit = flag.Bool("fit", false, "print least-squares weights fitted on testdata/corpus (retune count.go with them)")

// sample is one piece of the accuracy corpus.
type sample struct {
	category, name, text string
}

// corpus splits every file under testdata/corpus/<category>/ into samples
// at line boundaries, cycling through sizes from a short chat turn to a
// long document, so each file gives several samples of each size.
func corpus(t testing.TB) []sample {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	sizes := []int{200, 700, 1800, 4000}
	var out []sample
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		cat, name := filepath.Base(filepath.Dir(fn)), filepath.Base(fn)
		var cur strings.Builder
		k := 0
		flush := func() {
			out = append(out, sample{cat, fmt.Sprintf("%s#%d", name, k), cur.String()})
			cur.Reset()
			k++
		}
		for _, line := range strings.SplitAfter(string(b), "\n") {
			cur.WriteString(line)
			if cur.Len() >= sizes[k%len(sizes)] {
				flush()
			}
		}
		if cur.Len() > 40 {
			flush()
		}
	}
	return out
}

// adversarial returns text no tokenizer compresses: base64, hex and ids.
// It is reported, not asserted: such text is rare in prompts outside
// images and files, which are charged by formula instead.
func adversarial() []sample {
	var out []sample
	for i := range 12 {
		var raw []byte
		for j := range 40 {
			h := sha256.Sum256(fmt.Appendf(nil, "%d/%d", i, j))
			raw = append(raw, h[:]...)
		}
		switch i % 3 {
		case 0:
			out = append(out, sample{"random", fmt.Sprintf("base64#%d", i), base64.StdEncoding.EncodeToString(raw[:600])})
		case 1:
			out = append(out, sample{"random", fmt.Sprintf("hex#%d", i), hex.EncodeToString(raw[:400])})
		case 2:
			var ids []string
			for j := 0; j+16 <= 320; j += 16 {
				ids = append(ids, fmt.Sprintf("call_%x", raw[j:j+12]))
			}
			out = append(out, sample{"random", fmt.Sprintf("ids#%d", i), strings.Join(ids, ", ")})
		}
	}
	return out
}

// fastText is the fast estimate of one text, measured the way requests
// are: as a JSON string in a body (so escapes are exercised too).
func fastText(t testing.TB, e *Estimator, text, family string) int {
	t.Helper()
	body, err := json.Marshal(map[string]string{"input": text})
	if err != nil {
		t.Fatal(err)
	}
	est, err := e.Embeddings(body, family)
	if err != nil {
		t.Fatal(err)
	}
	return est.Input
}

// TestFastEstimateAccuracy compares the fast estimate with the exact
// tiktoken count on the corpus. The estimate must be at least the exact
// count for ≥ 95% of samples, per encoding, and at most 1.6× it on prose
// and code. The measured table is logged (go test -v) and copied into
// doc.go; -fit prints retuned weights.
func TestFastEstimateAccuracy(t *testing.T) {
	e := NewEstimator()
	samples := corpus(t)
	for _, family := range []string{"gpt-4o", "gpt-4"} {
		t.Run(EncodingFor(family), func(t *testing.T) {
			ratios := map[string][]float64{}
			under, total := 0, 0
			var rows []fitRow
			var bytesPer []float64 // bytes per exact token, for the single-ratio comparison
			type agg struct{ fast, exact int }
			files := map[string]*agg{}
			for _, s := range append(samples, adversarial()...) {
				exact := e.Exact(s.text, family)
				fast := fastText(t, e, s.text, family)
				r := float64(fast) / float64(exact)
				ratios[s.category] = append(ratios[s.category], r)
				file := s.category + "/" + s.name[:strings.IndexByte(s.name, '#')]
				if files[file] == nil {
					files[file] = &agg{}
				}
				files[file].fast += fast
				files[file].exact += exact
				if s.category == "random" {
					continue
				}
				bytesPer = append(bytesPer, float64(len(s.text))/float64(exact))
				total++
				if fast < exact {
					under++
					t.Logf("under: %s/%s fast=%d exact=%d (%.2f)", s.category, s.name, fast, exact, r)
				}
				if (s.category == "prose" || s.category == "code") && r > 1.6 {
					t.Errorf("%s/%s: estimate %d is %.2f× the exact %d; want ≤ 1.6×", s.category, s.name, fast, r, exact)
				}
				var tl tally
				tl.addString(s.text)
				rows = append(rows, fitRow{tl, exact})
			}
			logRatios(t, ratios)
			if testing.Verbose() {
				for _, f := range slices.Sorted(maps.Keys(files)) {
					t.Logf("  %-42s estimate/exact %5d/%5d = %.2f", f, files[f].fast, files[f].exact, float64(files[f].fast)/float64(files[f].exact))
				}
			}
			singleRatio(t, samples, bytesPer, e, family)
			if cover := 1 - float64(under)/float64(total); cover < 0.95 {
				t.Errorf("estimate ≥ exact for %.1f%% of %d samples; want ≥ 95%%", 100*cover, total)
			} else {
				t.Logf("estimate ≥ exact for %.1f%% of %d samples", 100*cover, total)
			}
			if *fit {
				t.Logf("fitted weights (milli-tokens): %v", fitWeights(rows, 0.97))
			}
		})
	}
}

// singleRatio logs what one bytes-per-token ratio, low enough to cover 95%
// of samples, would charge prose and code: the reason the fast path
// weighs byte classes instead.
func singleRatio(t *testing.T, samples []sample, bytesPer []float64, e *Estimator, family string) {
	t.Helper()
	slices.Sort(bytesPer)
	ratio := bytesPer[len(bytesPer)/20]
	over := map[string][]float64{}
	for _, s := range samples {
		if s.category == "prose" || s.category == "code" {
			est := math.Ceil(float64(len(s.text)) / ratio)
			over[s.category] = append(over[s.category], est/float64(e.Exact(s.text, family)))
		}
	}
	for _, cat := range []string{"prose", "code"} {
		r := over[cat]
		slices.Sort(r)
		t.Logf("a single ratio of %.2f bytes/token (covers 95%%) would charge %s %.2f× (median), %.2f× (max)", ratio, cat, r[len(r)/2], r[len(r)-1])
	}
}

func logRatios(t *testing.T, ratios map[string][]float64) {
	t.Helper()
	t.Logf("%-10s %4s %6s %6s %6s %6s %6s", "category", "n", "min", "p5", "median", "mean", "max")
	for _, cat := range slices.Sorted(maps.Keys(ratios)) {
		r := ratios[cat]
		slices.Sort(r)
		sum := 0.0
		for _, x := range r {
			sum += x
		}
		t.Logf("%-10s %4d %6.2f %6.2f %6.2f %6.2f %6.2f", cat, len(r), r[0], r[len(r)/20], r[len(r)/2], sum/float64(len(r)), r[len(r)-1])
	}
}

// fitRow is one sample for fitWeights.
type fitRow struct {
	t     tally
	exact int
}

// fitWeights fits weights minimising the squared relative error, then
// scales them so the estimate covers the given fraction of rows. It is the
// procedure that produced o200kWeights and cl100kWeights.
func fitWeights(rows []fitRow, cover float64) weights {
	const n = int(numFeatures)
	var a [n][n + 1]float64
	for _, r := range rows {
		wt := 1 / float64(r.exact*r.exact)
		for i := range n {
			a[i][n] += wt * float64(r.t.n[i]*r.exact)
			for j := range n {
				a[i][j] += wt * float64(r.t.n[i]*r.t.n[j])
			}
		}
	}
	coef := solve(a)
	var est []float64
	for _, r := range rows {
		s := 0.0
		for i := range n {
			s += coef[i] * float64(r.t.n[i])
		}
		est = append(est, s/float64(r.exact))
	}
	slices.Sort(est)
	scale := 1 / est[int(float64(len(est))*(1-cover))]
	var w weights
	for i := range n {
		w[i] = int(math.Round(coef[i]*scale*100)) * 10
	}
	return w
}

// solve is Gauss-Jordan elimination with partial pivoting; features that
// never occur get weight 0.
func solve(m [numFeatures][numFeatures + 1]float64) [numFeatures]float64 {
	const n = int(numFeatures)
	for i := range n {
		p := i
		for r := i + 1; r < n; r++ {
			if math.Abs(m[r][i]) > math.Abs(m[p][i]) {
				p = r
			}
		}
		m[i], m[p] = m[p], m[i]
		if math.Abs(m[i][i]) < 1e-12 {
			continue
		}
		for r := range n {
			if r != i {
				f := m[r][i] / m[i][i]
				for c := i; c <= n; c++ {
					m[r][c] -= f * m[i][c]
				}
			}
		}
	}
	var x [numFeatures]float64
	for i := range n {
		if math.Abs(m[i][i]) >= 1e-12 {
			x[i] = m[i][n] / m[i][i]
		}
	}
	return x
}
