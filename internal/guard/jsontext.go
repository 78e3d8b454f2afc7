package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// JSON helpers shared by redaction and restoring: both read a document
// token by token and touch only its strings.

var errNotOneValue = errors.New("not exactly one JSON value")

// stringValues returns the string values of the JSON document body, keys
// left out.
func stringValues(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type level struct {
		object bool
		n      int // tokens read at this level: keys are the even ones
	}
	var stack []level
	var out []string
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		key := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].n%2 == 0
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, level{object: t == '{'})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			if !key {
				out = append(out, t)
			}
		}
		if len(stack) == 0 {
			values++
		} else {
			stack[len(stack)-1].n++
		}
	}
	if values != 1 || len(stack) > 0 {
		return nil, errNotOneValue
	}
	return out, nil
}

// eachString calls fn for every string token of the JSON document b (keys
// included) with its decoded value and its byte range in b, quotes
// included. It returns an error if b is not exactly one JSON value.
func eachString(b []byte, fn func(s string, start, end int)) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	depth, values := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			end := int(dec.InputOffset())
			fn(t, stringStart(b, end), end)
		}
		if depth == 0 {
			values++
		}
	}
	if values != 1 || depth != 0 {
		return errNotOneValue
	}
	return nil
}

// stringStart returns the offset of the opening quote of the string token
// that ends (closing quote included) at end: the nearest quote before the
// closing one that is not escaped, i.e. not preceded by an odd number of
// backslashes.
func stringStart(b []byte, end int) int {
	for i := end - 2; i >= 0; i-- {
		if b[i] != '"' {
			continue
		}
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i
		}
	}
	return 0
}

// appendJSONString appends s as a JSON string without HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// htmlEscaped spells p the way encoding/json does by default.
func htmlEscaped(p string) string {
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(p)
}

// htmlEscapeJSON turns a JSON string body encoded without HTML escaping
// into the form encoding/json produces by default.
func htmlEscapeJSON(s string) string {
	if !strings.ContainsAny(s, "<>&") {
		return s
	}
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(s)
}
