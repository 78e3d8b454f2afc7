package tokens

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// tally counts features instead of costs: what the weights were fitted on.
// It walks text like meter.addString, through the same asciiStep and
// runeFeature.
type tally struct {
	n [32]int
}

func (t *tally) addString(s string) {
	st := sNone
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			x := asciiStep(st, c)
			t.n[x&31]++
			t.n[x>>5&31]++
			st = state(x >> 10)
			i++
			continue
		}
		u, size := utf8.DecodeRuneInString(s[i:])
		f := fOther3
		if u != utf8.RuneError || size > 1 {
			f = runeFeature(u)
		}
		t.n[f]++
		st = sNone
		if f == fLatin {
			st = sLower
		}
		i += size
	}
}

// cost is the tally priced with w, in milli-tokens.
func (t *tally) cost(w *weights) int {
	milli := 0
	for i := range numFeatures {
		milli += t.n[i] * w[i]
	}
	return milli
}

// TestMeterMatchesTally checks that the cost tables, the JSON path (with
// escapes and the fused validating scan) and the plain-text path all price
// text exactly as the features times the weights.
func TestMeterMatchesTally(t *testing.T) {
	extra := []sample{
		{"escapes", "quotes", "a \"quoted\" \\ back/slash\n\ttab \u00e9 \U0001F600 <tag> & \u2028"},
		{"escapes", "invalid", "bad \xff\xfe bytes \xe2\x82"},
		{"escapes", "cut rune", "cut \xf0\x9f\x98 emoji"},
	}
	for _, w := range []*weights{&o200kWeights, &cl100kWeights} {
		tab := newCostTable(w)
		for _, s := range append(corpus(t), extra...) {
			var tl tally
			tl.addString(s.text)
			want := tl.cost(w)

			plain := meter{tab: tab}
			plain.addString(s.text)
			js, _ := json.Marshal(s.text)
			raw := meter{tab: tab}
			raw.addJSON(js[1 : len(js)-1])
			fused := meter{tab: tab}
			sc := scanner{b: js}
			if err := sc.text(&fused); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if plain.milli != want || raw.milli != want || fused.milli != want {
				t.Errorf("%s: plain %d, addJSON %d, fused %d milli-tokens; tally says %d", s.name, plain.milli, raw.milli, fused.milli, want)
			}
		}
	}
}

// TestEscapes checks that escaped text costs what the text it stands for
// costs.
func TestEscapes(t *testing.T) {
	tests := map[string]string{
		`a\nb`:                     "a\nb",
		`\"q\" \\ \/`:              `"q" \ /`,
		`\u0041\u00e9\u4e2d`:       "Aé中",
		`\ud83d\ude00 pair`:        "\U0001F600 pair",
		`\b\f\r\t`:                 "\f\f\r\t",
		`\u003cscript\u003e\u0026`: "<script>&",
		`lone \ud800 half`:         "lone \ufffd half",
	}
	for raw, text := range tests {
		a := meter{tab: o200kCosts}
		a.addJSON([]byte(raw))
		b := meter{tab: o200kCosts}
		b.addString(text)
		c := meter{tab: o200kCosts}
		sc := scanner{b: []byte(`"` + raw + `"`)}
		if err := sc.text(&c); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if a.milli != b.milli || c.milli != b.milli {
			t.Errorf("%s costs %d (fused scan %d), %q costs %d", raw, a.milli, c.milli, text, b.milli)
		}
	}
}
