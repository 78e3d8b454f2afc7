package guard

import "strings"

// Fragments. gitleaks itself scans a file in fragments of about 100 KB
// cut at blank lines ("safe boundaries"); Gitleaks.Detect does the same
// with much smaller fragments. That is several times faster on source
// code: a rule's regex runs only on the fragments that hold one of its
// keywords, and the prefilter skips most fragments outright. Cutting only
// at blank lines keeps every line whole, so gitleaks:allow and gitleaks'
// per-line de-duplication work as before, and never inside a
// -----BEGIN ... -----END block, whose encrypted PEM and PGP forms contain
// blank lines. A match spanning another blank line (a key, a blank line,
// then its value) is lost, as it is in gitleaks at its fragment
// boundaries.

// fragmentTarget is the size after which a fragment ends at the next
// blank line.
const fragmentTarget = 512

// fragments splits text into pieces of about fragmentTarget bytes or more.
func fragments(text string) []string {
	var out []string
	for len(text) > fragmentTarget {
		cut := safeCut(text, fragmentTarget)
		if cut < 0 {
			break
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return append(out, text)
}

// safeCut returns the offset just past the first blank line (two newlines
// with only spaces, tabs or \r between them) that starts at or after from
// and outside an armored block, or -1.
func safeCut(text string, from int) int {
	for i := from; i < len(text); {
		j := strings.IndexByte(text[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		k := i
		for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r') {
			k++
		}
		if k < len(text) && text[k] == '\n' && !inArmor(text[:i]) {
			return k + 1
		}
	}
	return -1
}

// armorMax bounds how far back an unclosed -----BEGIN still holds a cut
// (the largest PEM and PGP key blocks are well under it), so code that
// merely mentions the marker cannot stop the cutting for good.
const armorMax = 16 << 10

// inArmor reports whether text ends inside a -----BEGIN ... -----END block
// that began at most armorMax bytes before.
func inArmor(text string) bool {
	text = text[max(0, len(text)-armorMax):]
	return strings.LastIndex(text, "-----BEGIN") > strings.LastIndex(text, "-----END")
}
