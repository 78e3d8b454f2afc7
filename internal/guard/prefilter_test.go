package guard

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"

	"github.com/llmux/llmux/internal/config"
)

const proseSample = `The history of the city is a long and winding tale. Its founders, a small group of farmers and traders, settled near the river because the soil was rich and the water was clean. The key to its success, historians argue, was its openness: anyone with a skill could find a place here. Access to the market was never restricted by birth, and the council kept records of every contract in a great leather book. The capital is only two hours away by train, yet the pace of life here feels entirely different. If you ask an old resident for the secret of a happy life, they will smile and tell you that it is a matter of patience, good company and a token of kindness every day. "Don't rush," they say; "authenticity can't be faked." In 1998, after the well-known storm of the twenty-first of March, the mayor's office rebuilt the bridge for $2.5 million (about 3% of the budget), and the password to the old archive, they joke, is still "patience". Their API to the world, so to speak, is the weekly market on Saturday, from 8:30 to 13:00.`

func TestPrefilterRejectsProse(t *testing.T) {
	g := newTestGitleaks(t)
	texts := map[string]string{
		"prose":          proseSample,
		"prose repeated": strings.Repeat(proseSample+"\n\n", 4),
		"chat":           "Hi! Can you explain what an API key is and why I should not share my access token or password? Thanks.",
		"list":           "- first item\n- second item: keys, tokens and secrets\n- third: capital letters",
		"empty":          "",
	}
	for name, text := range texts {
		if g.pre.mayMatch(text) {
			t.Errorf("%s: mayMatch = true, want the prefilter to rule it out", name)
		}
		if got := g.detector.DetectString(text); len(got) > 0 {
			t.Errorf("%s: gitleaks found %d secrets in prose; the sample is wrong", name, len(got))
		}
	}
}

// TestPrefilterNeverHidesAFinding runs each default rule's regex backwards
// to generate matches, puts them in a few contexts, and checks that the
// prefilter passes every text in which gitleaks reports a finding.
func TestPrefilterNeverHidesAFinding(t *testing.T) {
	g := newTestGitleaks(t)
	checkPrefilter(t, g, 6)
	f := newFakes(9)
	for _, text := range []string{f.aws, f.slack, f.github, f.rsa, f.encryptedRSA, f.pgp, "key = \"" + f.aws + "\"", proseSample + "\n" + f.rsa} {
		if !g.pre.mayMatch(text) {
			t.Errorf("prefilter rules out a text with a fake secret: %.40q...", text)
		}
	}
}

// TestPrefilterCustomRules does the same for custom rules the defaults do
// not resemble: no keywords, secrets with other characters, letters only,
// entropy thresholds, secret groups.
func TestPrefilterCustomRules(t *testing.T) {
	dir := t.TempDir()
	rules := `
[[rules]]
id = "no-keywords"
regex = '''pass: (\S{8,})'''
[[rules]]
id = "letters"
regex = '''(?i)code=([a-z]{10})\b'''
keywords = ["code="]
[[rules]]
id = "entropy-group"
regex = '''(?i)(?:tok|tkn)[_-]?(id)?[:=]\s*([A-Z0-9]{12,20})'''
secretGroup = 2
entropy = 3.2
keywords = ["tok", "tkn"]
[[rules]]
id = "spaces"
regex = '''secret phrase "([a-z ]{12,40})"'''
keywords = ["secret phrase"]
`
	if err := os.WriteFile(filepath.Join(dir, "rules.toml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := NewGitleaks(config.Secrets{Rules: "rules.toml"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	checkPrefilter(t, g, 40)
	if g.pre.mayMatch("we do it as is, ok?") {
		t.Error("prefilter passes a text no custom rule can match")
	}
}

// checkPrefilter generates samples matches of every rule of g and fails
// if gitleaks reports a finding in a text the prefilter rules out.
func checkPrefilter(t *testing.T, g *Gitleaks, samples int) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	covered := 0
	for _, id := range g.ruleIDs() {
		rule := g.detector.Config.Rules[id]
		if rule.Regex == nil {
			continue
		}
		re, err := syntax.Parse(rule.Regex.String(), syntax.Perl)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		found := false
		for range samples {
			s := generate(r, re)
			for _, text := range []string{s, "value = \"" + s + "\"\n", "Some words around " + s + " and more."} {
				if len(g.detector.DetectString(text)) == 0 {
					continue
				}
				found = true
				if !g.pre.mayMatch(text) {
					t.Errorf("%s: gitleaks reports a finding in %q but the prefilter rules it out", id, text)
				}
			}
		}
		if found {
			covered++
		}
	}
	t.Logf("generated matches were reported for %d of %d rules", covered, len(g.ruleIDs()))
	if covered < len(g.ruleIDs())/2 {
		t.Errorf("only %d rules covered; the generator is broken", covered)
	}
}

// generate returns a random string that re matches (assertions aside).
func generate(r *rand.Rand, re *syntax.Regexp) string {
	var b strings.Builder
	var gen func(*syntax.Regexp)
	reps := func(lo, hi int) int {
		if hi < 0 || hi > lo+3 {
			hi = lo + 3
		}
		return lo + r.IntN(hi-lo+1)
	}
	gen = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			for _, c := range re.Rune {
				if re.Flags&syntax.FoldCase != 0 && r.IntN(2) == 0 {
					c = unicode.SimpleFold(c)
				}
				b.WriteRune(c)
			}
		case syntax.OpCharClass:
			b.WriteRune(classRune(r, re.Rune))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte(byte(' ' + r.IntN(95)))
		case syntax.OpCapture:
			gen(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				gen(s)
			}
		case syntax.OpAlternate:
			gen(re.Sub[r.IntN(len(re.Sub))])
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			lo, hi := 0, -1
			switch re.Op {
			case syntax.OpPlus:
				lo = 1
			case syntax.OpQuest:
				hi = 1
			case syntax.OpRepeat:
				lo, hi = re.Min, re.Max
			}
			for range reps(lo, hi) {
				gen(re.Sub[0])
			}
		}
	}
	gen(re)
	return b.String()
}

// classRune picks a rune of a class, mostly printable ASCII, now and then
// one of the non-ASCII runes that fold to ASCII letters.
func classRune(r *rand.Rand, ranges []rune) rune {
	var ascii, folds []rune
	for i := 0; i+1 < len(ranges); i += 2 {
		for c := ranges[i]; c <= ranges[i+1] && c < 0x7f; c++ {
			if c >= ' ' || c == '\n' || c == '\t' {
				ascii = append(ascii, c)
			}
		}
		for _, c := range []rune{0x17f, 0x212a} {
			if ranges[i] <= c && c <= ranges[i+1] {
				folds = append(folds, c)
			}
		}
	}
	switch {
	case len(folds) > 0 && r.IntN(50) == 0:
		return folds[r.IntN(len(folds))]
	case len(ascii) > 0:
		return ascii[r.IntN(len(ascii))]
	}
	i := 2 * r.IntN(len(ranges)/2)
	return ranges[i]
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		expr                string
		min, best, pre, suf int
		all                 bool
	}{
		{`abc`, 3, 3, 3, 3, true},
		{`ab c`, 4, 2, 2, 1, false},
		{`[a-z]{10,20}`, 10, 10, 10, 10, true},
		{`(?i)key\s*=\s*([a-z0-9]{16})`, 20, 16, 3, 16, false},
		{`x(?:ab|cdef)y`, 4, 4, 4, 4, true},
		{`x(?:ab|c d)y`, 4, 2, 2, 2, false},
		{`a?b`, 1, 1, 1, 1, true},
		{`a.b`, 3, 1, 1, 1, false},
		{`(?:ab )+`, 3, 2, 2, 0, false},
		{`(?:ab ){2,}`, 6, 2, 2, 0, false},
		{`(?: ab){2}`, 6, 2, 0, 2, false},
		{`\bghp_[0-9a-zA-Z]{36}\b`, 40, 40, 40, 40, true},
		{`[^\n]+`, 1, 0, 0, 0, false},
	}
	for _, tt := range tests {
		re, err := syntax.Parse(tt.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		s := analyze(re)
		if s.min != tt.min || s.best != tt.best || s.pre != tt.pre || s.suf != tt.suf || s.all != tt.all {
			t.Errorf("analyze(%q) = min %d best %d pre %d suf %d all %v, want %d %d %d %d %v",
				tt.expr, s.min, s.best, s.pre, s.suf, s.all, tt.min, tt.best, tt.pre, tt.suf, tt.all)
		}
	}
}

// TestPrefilterFoldedRunes: (?i) classes match U+212A (K) and U+017F (ſ),
// so a token run may contain them.
func TestPrefilterFoldedRunes(t *testing.T) {
	dir := t.TempDir()
	rules := "[[rules]]\nid = \"folded\"\nregex = '''(?i)(kk[a-z0-9]{14})'''\nentropy = 3\nkeywords = [\"=\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "rules.toml"), []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := NewGitleaks(config.Secrets{Rules: "rules.toml"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"x = \u212a\u212aab12cd34ef56gh", "x = kkab\u017f2cd34ef56gh78z"} {
		if len(g.detector.DetectString(text)) == 0 {
			t.Fatalf("gitleaks finds nothing in %q; the test is wrong", text)
		}
		if !g.pre.mayMatch(text) {
			t.Errorf("prefilter rules out %q", text)
		}
	}
}
