package guard

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// placeholderPrefix starts every placeholder.
const placeholderPrefix = "<<SECRET_"

// Vault maps the placeholders of one redacted request back to the secrets
// they replaced. It lives in memory for that one request and never prints
// a secret: String, Format (every verb, %+v included), GoString and
// LogValue print only the count. A nil *Vault is an empty vault: its
// methods return their input unchanged.
//
// A Vault is read-only after Redact returns and safe for concurrent use;
// each StreamRestorer is not.
type Vault struct {
	// The secrets sit one pointer further down: fmt dereferences a pointer
	// only at the top level, so even a Vault reached through an unexported
	// field or printed with a bad verb shows an address, not the secrets.
	s *vaultState
}

type vaultState struct {
	entries  []vaultEntry // by placeholder number
	rules    []string
	restorer *strings.Replacer // placeholder → value
	longest  int               // longest placeholder, in bytes
	sorted   []string          // the placeholders, sorted
}

type vaultEntry struct {
	placeholder string
	value       string
}

// newVault gives each finding a placeholder numbered in the order given,
// skipping any placeholder taken reports as already in the request (so
// restoring cannot change text the client sent).
func newVault(fs []Finding, taken func(placeholder string) bool) *Vault {
	v := &vaultState{}
	pairs := make([]string, 0, 2*len(fs))
	n := 0
	for _, f := range fs {
		var p string
		for {
			n++
			p = placeholderPrefix + strconv.Itoa(n) + ":" + placeholderRule(f.RuleID) + ">>"
			if taken == nil || !taken(p) {
				break
			}
		}
		v.entries = append(v.entries, vaultEntry{placeholder: p, value: f.Secret})
		v.longest = max(v.longest, len(p))
		pairs = append(pairs, p, f.Secret)
		if !slices.Contains(v.rules, f.RuleID) {
			v.rules = append(v.rules, f.RuleID)
		}
	}
	slices.Sort(v.rules)
	for _, e := range v.entries {
		v.sorted = append(v.sorted, e.placeholder)
	}
	slices.Sort(v.sorted)
	v.restorer = strings.NewReplacer(pairs...)
	return &Vault{s: v}
}

// placeholderRule keeps rule ids readable in placeholders while keeping
// placeholders free of '<', '>' and space, which the restorers rely on.
func placeholderRule(id string) string {
	id = strings.ToLower(id)
	b := []byte(id[:min(len(id), 64)])
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// Len returns the number of distinct secrets in the vault.
func (v *Vault) Len() int {
	if v == nil || v.s == nil {
		return 0
	}
	return len(v.s.entries)
}

// Rules returns the ids of the rules that found the secrets, sorted and
// unique.
func (v *Vault) Rules() []string {
	if v.Len() == 0 {
		return nil
	}
	return slices.Clone(v.s.rules)
}

// Restore replaces the placeholders in s by the secrets.
func (v *Vault) Restore(s string) string {
	if v.Len() == 0 || !strings.Contains(s, placeholderPrefix) {
		return s
	}
	return v.s.restorer.Replace(s)
}

// String returns "[N secrets redacted]".
func (v *Vault) String() string {
	if n := v.Len(); n != 1 {
		return "[" + strconv.Itoa(n) + " secrets redacted]"
	}
	return "[1 secret redacted]"
}

// GoString is String, for %#v.
func (v *Vault) GoString() string { return v.String() }

// Format prints String for every verb, so %v, %+v, %#v, %s, %q and %x
// never reach the fields. It has a value receiver so that a copied Vault
// prints the same way.
func (v Vault) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// LogValue logs the count only.
func (v *Vault) LogValue() slog.Value { return slog.StringValue(v.String()) }
