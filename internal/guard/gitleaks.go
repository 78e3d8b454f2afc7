package guard

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/llmux/llmux/internal/config"
)

// minSecretLen is the shortest value redacted: replacing every occurrence
// of a shorter match (a custom rule gone wrong) would mangle the request.
const minSecretLen = 4

// Gitleaks is a Detector running gitleaks rules. It is safe for concurrent
// use: a gitleaks Detector only reads its configuration while scanning.
type Gitleaks struct {
	detector *detect.Detector
	pre      *prefilter
}

var _ Detector = (*Gitleaks)(nil)

// NewGitleaks loads the rules: gitleaks' defaults, or cfg.Rules, a gitleaks
// TOML file relative to baseDir ([extend] useDefault = true adds its rules
// to the defaults; rules, allowlists with targetRules, stopwords and
// disabledRules work as in gitleaks). Values matching a cfg.Allow regex
// and values containing a cfg.Stopwords word are never reported. A
// `gitleaks:allow` comment on the line of a match silences it. Loading
// takes tens of milliseconds: do it once, not per request.
func NewGitleaks(cfg config.Secrets, baseDir string) (*Gitleaks, error) {
	glcfg, err := gitleaksConfig(cfg, baseDir)
	if err != nil {
		return nil, fmt.Errorf("guard: secrets: %w", err)
	}
	d := detect.NewDetector(glcfg)
	// Decoded (base64, hex, percent) secrets are not substrings of the
	// text, so there would be nothing to replace.
	d.MaxDecodeDepth = 0
	return &Gitleaks{detector: d, pre: newPrefilter(glcfg)}, nil
}

// Detect returns the secrets in text, one Finding per distinct secret, in
// order of first occurrence. A long text is scanned in fragments cut at
// blank lines (see fragments).
func (g *Gitleaks) Detect(text string) []Finding {
	var found []located
	offset := 0
	for _, part := range fragments(text) {
		if g.pre.mayMatch(part) {
			found = append(found, g.scan(part, offset)...)
		}
		offset += len(part)
	}
	if len(found) == 0 {
		return nil
	}
	slices.SortStableFunc(found, func(a, b located) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(len(b.Secret), len(a.Secret)), cmp.Compare(a.RuleID, b.RuleID))
	})
	out := make([]Finding, 0, len(found))
	seen := map[string]bool{}
	for _, f := range found {
		if !seen[f.Secret] {
			seen[f.Secret] = true
			out = append(out, f.Finding)
		}
	}
	return out
}

// located is a finding with the offset of its first occurrence.
type located struct {
	Finding
	at int
}

// scan runs gitleaks on one fragment that starts at offset in the text. It
// drops secrets that are too short and those found only inside
// placeholders: a placeholder is never itself a secret.
func (g *Gitleaks) scan(part string, offset int) []located {
	var spans [][]int
	if strings.Contains(part, placeholderPrefix) {
		spans = placeholderPattern.FindAllStringIndex(part, -1)
	}
	var out []located
	for _, f := range g.detector.DetectString(part) {
		at := strings.Index(part, f.Secret)
		if len(f.Secret) < minSecretLen || at < 0 || (spans != nil && onlyInside(part, f.Secret, spans)) {
			continue
		}
		out = append(out, located{Finding{RuleID: f.RuleID, Secret: f.Secret}, offset + at})
	}
	return out
}

// placeholderPattern matches the placeholders a Vault inserts.
var placeholderPattern = regexp.MustCompile(`<<SECRET_[0-9]+:[a-z0-9._-]*>>`)

// onlyInside reports whether every occurrence of s in text lies within
// one of spans, which are sorted and disjoint.
func onlyInside(text, s string, spans [][]int) bool {
	for at := 0; ; {
		i := strings.Index(text[at:], s)
		if i < 0 {
			return true
		}
		start, end := at+i, at+i+len(s)
		k, _ := slices.BinarySearchFunc(spans, start, func(sp []int, t int) int { return cmp.Compare(sp[0], t) })
		// The span holding start begins at or before it.
		if k < len(spans) && spans[k][0] == start {
			k++
		}
		if k == 0 || end > spans[k-1][1] {
			return false
		}
		at = start + 1
	}
}

// ruleIDs returns the ids of the loaded rules, sorted.
func (g *Gitleaks) ruleIDs() []string {
	ids := make([]string, 0, len(g.detector.Config.Rules))
	for id := range g.detector.Config.Rules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
