package guard

import (
	"math"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"

	glconfig "github.com/zricethezav/gitleaks/v8/config"
)

// The prefilter proves, for most text that holds no secret, that gitleaks
// cannot report anything, so the detector (milliseconds per few KB) is
// skipped.
//
// gitleaks runs a rule only when one of its keywords occurs in the
// lowercased text, but English prose contains "key", "token", "sk" and
// "ey" all the time. So besides the keywords the prefilter derives from
// each rule's regex a lower bound on the token run any match must contain,
// where a token run is a maximal run of token characters (letters, digits
// and _-+/=.~). For the part of the match gitleaks reports as the secret,
// when it consists of token characters only, it also derives the minimum
// number of distinct characters the rule's entropy threshold implies
// (entropy ≤ log2 of the distinct count) and the characters the secret must
// contain to escape an allowlist of the form ^[class]+$ (the generic rule
// drops letters-only secrets that way). A text passes when some rule has
// both a keyword in it and a token run meeting the rule's bounds.
//
// The bounds are computed from the regex syntax, so they hold for custom
// rules too. One corner is not covered: gitleaks re-matches the rule on
// the matched text to extract the capture group, and if that second match
// fails (a word boundary at the very start that depended on the character
// before) it reports the whole match. The tests run the default rules on
// generated matches to check the bounds hold in practice.

// runNeed is what one token run of the text must have for a rule's secret
// to lie in it.
type runNeed struct {
	length   int       // runes
	distinct int       // distinct codes
	must     []codeSet // the run shares a code with each set
}

func (n runNeed) metBy(r tokenRun) bool {
	if r.length < n.length || r.codes.count() < n.distinct {
		return false
	}
	for _, m := range n.must {
		if !r.codes.meets(m) {
			return false
		}
	}
	return true
}

// ruleNeed is what a text must contain for one rule to report a finding.
type ruleNeed struct {
	keywords []string // lowercase; the rule runs only if one occurs; none: always
	minRun   int      // some token run has at least this many runes
	secret   []runNeed
	// anySecret: secret is no constraint (the secret may contain other
	// characters, so it need not lie in one token run).
	anySecret bool
}

// prefilter is immutable after newPrefilter and safe for concurrent use.
type prefilter struct {
	rules []ruleNeed
	keep  int // shortest run a secret need can use; shorter runs are not kept
}

// newPrefilter derives the needs of every rule that can report a finding
// in text without a file path.
func newPrefilter(cfg glconfig.Config) *prefilter {
	p := &prefilter{keep: maxBound}
	ids := make([]string, 0, len(cfg.Rules))
	for id := range cfg.Rules {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rule := cfg.Rules[id]
		need, ok := ruleNeeds(rule, cfg.Allowlists)
		if !ok {
			continue
		}
		p.rules = append(p.rules, need)
		for _, n := range need.secret {
			p.keep = min(p.keep, n.length)
		}
	}
	return p
}

// ruleNeeds returns the needs of one rule, or false if the rule can never
// report a finding here.
func ruleNeeds(rule glconfig.Rule, global []*glconfig.Allowlist) (ruleNeed, bool) {
	if rule.Regex == nil || rule.SkipReport {
		return ruleNeed{}, false // path-only rules, and parts of composite rules
	}
	if rule.Path != nil && !rule.Path.MatchString("") {
		return ruleNeed{}, false // needs a file path we never have
	}
	need := ruleNeed{anySecret: true}
	for _, k := range rule.Keywords {
		need.keywords = append(need.keywords, strings.ToLower(k))
	}
	re, err := syntax.Parse(rule.Regex.String(), syntax.Perl)
	if err != nil {
		return need, true // cannot analyze: keywords only
	}
	need.minRun = analyze(re).best
	cands := secretNodes(re, rule.SecretGroup)
	if cands == nil {
		return need, true
	}
	excl := exclusions(append(slices.Clone(rule.Allowlists), global...))
	distinct := distinctFor(rule.Entropy)
	var needs []runNeed
	for _, c := range cands {
		s := analyze(c)
		if !s.all {
			return need, true // the secret may span runs: no bound
		}
		n := runNeed{length: max(s.min, 1), distinct: distinct}
		possible := distinct <= s.set.count()
		for _, x := range excl {
			m := s.set.andNot(x)
			possible = possible && !m.empty()
			n.must = append(n.must, m)
		}
		if possible {
			needs = append(needs, n)
		}
	}
	if len(needs) == 0 {
		return ruleNeed{}, false // every secret would be allowlisted or too uniform
	}
	need.secret, need.anySecret = needs, false
	return need, true
}

// secretNodes returns the nodes one of which matches what gitleaks reports
// as the secret: the secretGroup, else the first non-empty capture group,
// else the whole match. nil means the group does not exist.
func secretNodes(re *syntax.Regexp, group int) []*syntax.Regexp {
	if group > 0 {
		if c := capture(re, group); c != nil {
			return []*syntax.Regexp{c}
		}
		return nil
	}
	if re.MaxCap() == 0 {
		return []*syntax.Regexp{re}
	}
	if always(re, 1) && analyze(capture(re, 1)).min > 0 {
		return []*syntax.Regexp{capture(re, 1)} // group 1 is never empty
	}
	nodes := []*syntax.Regexp{re}
	for i := 1; i <= re.MaxCap(); i++ {
		if c := capture(re, i); c != nil {
			nodes = append(nodes, c)
		}
	}
	return nodes
}

func capture(re *syntax.Regexp, n int) *syntax.Regexp {
	if re.Op == syntax.OpCapture && re.Cap == n {
		return re.Sub[0]
	}
	for _, sub := range re.Sub {
		if c := capture(sub, n); c != nil {
			return c
		}
	}
	return nil
}

// always reports whether capture group n takes part in every match.
func always(re *syntax.Regexp, n int) bool {
	switch re.Op {
	case syntax.OpCapture:
		return re.Cap == n || always(re.Sub[0], n)
	case syntax.OpConcat:
		return slices.ContainsFunc(re.Sub, func(s *syntax.Regexp) bool { return always(s, n) })
	case syntax.OpPlus:
		return always(re.Sub[0], n)
	case syntax.OpRepeat:
		return re.Min > 0 && always(re.Sub[0], n)
	}
	return false
}

// exclusions returns, for each allowlist regex of the form ^[class]+$ that
// applies to the secret, the class: a reported secret has a character
// outside each of them.
func exclusions(lists []*glconfig.Allowlist) []codeSet {
	var out []codeSet
	for _, a := range lists {
		if a == nil || a.RegexTarget != "" {
			continue
		}
		if a.MatchCondition == glconfig.AllowlistMatchAnd &&
			(len(a.Commits) > 0 || len(a.Paths) > 0 || len(a.StopWords) > 0) {
			continue
		}
		for _, r := range a.Regexes {
			if x, ok := wholeClass(r.String()); ok {
				out = append(out, x)
			}
		}
	}
	return out
}

// distinctFor returns how many distinct characters a secret needs for its
// Shannon entropy to exceed e: entropy ≤ log2(distinct) once there are at
// least 3, so distinct ≥ 2^e. Thresholds below 1.1 give no bound.
func distinctFor(e float64) int {
	if e < 1.1 {
		return 0
	}
	return int(math.Ceil(math.Exp2(e) - 1e-9))
}

// tokenRun is one maximal run of token characters in a text.
type tokenRun struct {
	length int
	codes  codeSet
}

// mayMatch reports whether some rule could report a finding in text.
// false is a proof that none can.
func (p *prefilter) mayMatch(text string) bool {
	var buf [64]tokenRun
	runs, longest := p.runs(text, buf[:0])
	var lower string
	for i := range p.rules {
		need := &p.rules[i]
		if need.minRun > longest || !need.secretIn(runs) {
			continue
		}
		if len(need.keywords) == 0 {
			return true
		}
		if lower == "" {
			lower = strings.ToLower(text)
		}
		for _, k := range need.keywords {
			if strings.Contains(lower, k) {
				return true
			}
		}
	}
	return false
}

func (n *ruleNeed) secretIn(runs []tokenRun) bool {
	if n.anySecret {
		return true
	}
	for _, r := range runs {
		for _, s := range n.secret {
			if s.metBy(r) {
				return true
			}
		}
	}
	return false
}

// runs appends the token runs of text at least p.keep runes long to dst
// and returns them with the length of the longest run.
func (p *prefilter) runs(text string, dst []tokenRun) ([]tokenRun, int) {
	var cur tokenRun
	longest := 0
	end := func() {
		longest = max(longest, cur.length)
		if cur.length >= p.keep && cur.length > 0 {
			dst = append(dst, cur)
		}
		cur = tokenRun{}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < utf8.RuneSelf {
			if isTokenByte(c) {
				cur.length++
				cur.codes.add(c)
			} else {
				end()
			}
			continue
		}
		switch {
		case strings.HasPrefix(text[i:], "\u017f"):
			cur.length++
			cur.codes.add(codeLongS)
			i++
		case strings.HasPrefix(text[i:], "\u212a"):
			cur.length++
			cur.codes.add(codeKelvin)
			i += 2
		default:
			end()
		}
	}
	end()
	return dst, longest
}
