package prompts

import (
	"fmt"
	"path"
	"strings"
)

// Selection scores, highest first. A variant scores the best of the rules
// it meets.
const (
	scoreExact   = 1.0 // a match entry without wildcards equals the model
	scoreGlob    = 0.8 // a match glob matches the model
	scoreFamily  = 0.5 // the variant's family is the model's provider family
	scoreDefault = 0.2 // the variant is named "default"
)

// defaultVariant is the name of the fallback variant.
const defaultVariant = "default"

// Select picks the variant for a model: an exact model id beats a glob,
// a glob beats the provider family, the family beats the variant named
// "default"; among equals the later file (by name) wins. model is the
// canonical model id ("gpt-4o-mini", "claude-haiku-4-5"); family is
// FamilyOpenAI or FamilyAnthropic. It returns nil when no variant
// matches. The string says why, for logs and headers, e.g. `variant
// "claude": glob "claude-*" matches claude-haiku-4-5`.
func (v *Version) Select(model, family string) (*Variant, string) {
	var (
		best      *Variant
		bestScore float64
		bestGlob  string
	)
	for _, vt := range v.Variants {
		if s, glob := vt.score(model, family); s >= bestScore && s > 0 {
			best, bestScore, bestGlob = vt, s, glob
		}
	}
	var why string
	switch bestScore {
	case 0:
		return nil, fmt.Sprintf("no variant of %s matches %s (family %q)", v.ref, model, family)
	case scoreExact:
		why = fmt.Sprintf("matches %s exactly", model)
	case scoreGlob:
		why = fmt.Sprintf("glob %q matches %s", bestGlob, model)
	case scoreFamily:
		why = "family " + family
	default:
		why = "default variant"
	}
	return best, fmt.Sprintf("variant %q: %s", best.Name, why)
}

// score rates how well vt fits a model; for a glob match it also returns
// the first glob that matched.
func (vt *Variant) score(model, family string) (score float64, glob string) {
	for _, m := range vt.Match {
		if !isGlob(m) {
			if m == model {
				return scoreExact, ""
			}
			continue
		}
		if glob == "" {
			if ok, _ := path.Match(m, model); ok {
				glob = m
			}
		}
	}
	switch {
	case glob != "":
		return scoreGlob, glob
	case vt.Family != "" && vt.Family == family:
		return scoreFamily, ""
	case vt.Name == defaultVariant:
		return scoreDefault, ""
	}
	return 0, ""
}

// isGlob reports whether a match entry is a pattern rather than a model
// id.
func isGlob(pattern string) bool {
	return strings.ContainsAny(pattern, `*?[\`)
}

// WrittenFor reports whether vt was written for the model: it names the
// model (exactly or by a glob) or its provider family, rather than only
// being the "default" variant. require_variant admits such variants only.
func (vt *Variant) WrittenFor(model, family string) bool {
	s, _ := vt.score(model, family)
	return s > scoreDefault
}
