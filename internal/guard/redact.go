package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Finding is one secret a Detector found: the rule that matched and the
// secret's exact text.
type Finding struct {
	RuleID string
	Secret string
}

// Detector finds secrets in text. Detect must be safe for concurrent use
// and every Finding.Secret must be a substring of text.
type Detector interface {
	Detect(text string) []Finding
}

// Redactor replaces the secrets in chat requests by placeholders. It is
// safe for concurrent use if its Detector is.
type Redactor struct {
	detector Detector
}

// NewRedactor returns a Redactor using d.
func NewRedactor(d Detector) *Redactor {
	return &Redactor{detector: d}
}

// Redact replaces every secret in the string values of the JSON document
// body (a chat request of any shape: messages, content parts, tool
// results, system blocks; object keys are not scanned) by a placeholder
// <<SECRET_N:rule-id>>, numbered from 1 in order of first appearance
// (skipping a number whose placeholder the request already contains); one
// value gets one placeholder wherever it occurs. The replacement is done
// on the raw bytes, so unknown fields, number spellings and formatting
// pass through; only when a secret is spelled with escapes the raw bytes
// cannot be matched against is the document re-encoded (keys kept in
// order). When nothing is found, body itself and a nil Vault are returned.
// If body is not one JSON value, Redact returns body, nil and an error.
func (r *Redactor) Redact(body []byte) ([]byte, *Vault, error) {
	values, err := stringValues(body)
	if err != nil {
		return body, nil, fmt.Errorf("guard: redact: %w", err)
	}
	found := r.find(values)
	if len(found) == 0 {
		return body, nil, nil
	}
	v := newVault(found, placeholdersIn(body))
	if out, ok := v.replaceRaw(body); ok {
		return out, v, nil
	}
	out, err := v.replaceDecoded(body)
	if err != nil {
		return body, nil, fmt.Errorf("guard: redact: %w", err)
	}
	return out, v, nil
}

// find runs the detector on each value, one by one: a rule then runs only
// on the values holding its keywords, which is faster than one run over
// the joined values, and a multi-line secret (a PEM key) lies within one
// value anyway. It returns one finding per distinct secret in order of
// first appearance.
func (r *Redactor) find(values []string) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, s := range values {
		for _, f := range r.detector.Detect(s) {
			if f.Secret == "" || seen[f.Secret] {
				continue
			}
			seen[f.Secret] = true
			out = append(out, f)
		}
	}
	return out
}

// placeholdersIn returns a func reporting whether a placeholder already
// occurs in a string of body, or nil if no string of body has one.
func placeholdersIn(body []byte) func(string) bool {
	if !bytes.Contains(body, []byte("SECRET_")) {
		return nil
	}
	have := map[string]bool{}
	_ = eachString(body, func(s string, _, _ int) {
		if strings.Contains(s, placeholderPrefix) {
			for _, p := range placeholderPattern.FindAllString(s, -1) {
				have[p] = true
			}
		}
	})
	if len(have) == 0 {
		return nil
	}
	return func(p string) bool { return have[p] }
}

// replaceRaw replaces the secrets in the raw bytes of body, longest first
// so a secret inside another goes with the longer one, in each secret's
// JSON spellings with and without HTML escaping. It fails when the result
// is not valid JSON free of every secret: a secret spelled with other
// escapes (\u0041, \/), or a match that began inside an escape.
func (v *Vault) replaceRaw(body []byte) ([]byte, bool) {
	pairs := make([]string, 0, 4*len(v.s.entries))
	for _, e := range v.byLength() {
		plain := string(appendJSONString(nil, e.value))
		plain = plain[1 : len(plain)-1]
		pairs = append(pairs, plain, e.placeholder)
		if html := htmlEscapeJSON(plain); html != plain {
			pairs = append(pairs, html, e.placeholder)
		}
	}
	out := []byte(strings.NewReplacer(pairs...).Replace(string(body)))
	return out, v.clean(out)
}

// clean reports whether b is one JSON value and none of its strings holds
// a secret.
func (v *Vault) clean(b []byte) bool {
	pairs := make([]string, 0, 2*len(v.s.entries))
	for _, e := range v.s.entries {
		pairs = append(pairs, e.value, "")
	}
	drop := strings.NewReplacer(pairs...) // secrets are never empty
	ok := true
	err := eachString(b, func(s string, _, _ int) {
		ok = ok && len(drop.Replace(s)) == len(s)
	})
	return err == nil && ok
}

// replaceDecoded re-encodes body token by token (keys and numbers kept as
// written, whitespace dropped) with the secrets replaced in every string.
func (v *Vault) replaceDecoded(body []byte) ([]byte, error) {
	pairs := make([]string, 0, 2*len(v.s.entries))
	for _, e := range v.byLength() {
		pairs = append(pairs, e.value, e.placeholder)
	}
	rep := strings.NewReplacer(pairs...)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type level struct {
		object bool
		n      int
	}
	var stack []level
	out := make([]byte, 0, len(body))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			if len(stack) > 0 {
				stack[len(stack)-1].n++
			}
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				out = append(out, ':')
			case top.n > 0:
				out = append(out, ',')
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			out = append(out, byte(t))
			stack = append(stack, level{object: t == '{'})
			continue
		case string:
			out = appendJSONString(out, rep.Replace(t))
		case json.Number:
			out = append(out, t...)
		case bool:
			out = fmt.Appendf(out, "%t", t)
		case nil:
			out = append(out, "null"...)
		}
		if len(stack) > 0 {
			stack[len(stack)-1].n++
		}
	}
}

// byLength returns the entries longest value first.
func (v *Vault) byLength() []vaultEntry {
	es := slices.Clone(v.s.entries)
	slices.SortStableFunc(es, func(a, b vaultEntry) int { return len(b.value) - len(a.value) })
	return es
}
