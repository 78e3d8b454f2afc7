package guard

import (
	"bytes"
	"encoding/json"
	"strings"
)

// RestoreJSON replaces the placeholders in the JSON document b by the
// secrets, JSON-escaped so the document stays valid. It finds
// placeholders however the strings spell them (raw, or escaped like Go's
// \u003c\u003cSECRET_1:...\u003e\u003e) and leaves every byte outside the
// strings that held one as it was. When a string is itself a JSON document
// (a tool call's arguments) that restoring plainly would break, the
// secrets go into its inner strings, escaped twice. If b is not valid JSON
// (a fragment), the raw and \u003c-escaped placeholders are replaced by the
// escaped secrets. b is returned as is when it holds no placeholder.
func (v *Vault) RestoreJSON(b []byte) []byte {
	if v.Len() == 0 || !bytes.Contains(b, []byte("SECRET_")) {
		return b
	}
	if out, ok := v.restoreTokens(b); ok {
		return out
	}
	return v.restoreRaw(b)
}

// restoreTokens re-encodes the strings of b that hold a placeholder and
// splices them in; false if b is not a valid JSON document.
func (v *Vault) restoreTokens(b []byte) ([]byte, bool) {
	var out []byte
	last := 0 // b[:last] is in out (or out is nil and nothing changed)
	err := eachString(b, func(s string, start, end int) {
		if !strings.Contains(s, placeholderPrefix) {
			return
		}
		r := v.restoreString(s)
		if r == s {
			return
		}
		out = append(out, b[last:start]...)
		out = appendJSONString(out, r)
		last = end
	})
	if err != nil {
		return nil, false
	}
	if out == nil {
		return b, true
	}
	return append(out, b[last:]...), true
}

// restoreString restores s, or, when s is a JSON document that plain
// restoring would turn invalid, restores inside its strings.
func (v *Vault) restoreString(s string) string {
	r := v.Restore(s)
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') || json.Valid([]byte(r)) || !json.Valid([]byte(s)) {
		return r
	}
	inner, ok := v.restoreTokens([]byte(s))
	if !ok {
		return r
	}
	return string(inner)
}

// restoreRaw replaces placeholders in their raw and \u003c-escaped forms.
func (v *Vault) restoreRaw(b []byte) []byte {
	pairs := make([]string, 0, 4*len(v.s.entries))
	for _, e := range v.s.entries {
		value := string(appendJSONString(nil, e.value))
		value = value[1 : len(value)-1]
		pairs = append(pairs, e.placeholder, value, htmlEscaped(e.placeholder), value)
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(b)))
}
