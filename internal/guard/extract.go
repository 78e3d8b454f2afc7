package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Finding the JSON in a model's answer, for the json and required_fields
// checks.

// maxJSONStarts bounds how many '{' or '[' extractJSON tries as the start
// of the document, so a long text full of brackets stays cheap.
const maxJSONStarts = 16

// extractJSON decodes the JSON in text (numbers as json.Number): the whole
// text if it is JSON, else the first ```json fenced block, else the first
// complete {...} or [...] value starting at one of the first brackets.
func extractJSON(text string) (any, error) {
	v, firstErr := decodeAll(strings.TrimSpace(text))
	if firstErr == nil {
		return v, nil
	}
	if block, ok := fencedJSON(text); ok {
		if v, err := decodeAll(block); err == nil {
			return v, nil
		}
	}
	for i, n := 0, 0; n < maxJSONStarts; n++ {
		j := strings.IndexAny(text[i:], "{[")
		if j < 0 {
			break
		}
		i += j
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return v, nil
		}
		i++
	}
	return nil, fmt.Errorf("not JSON: %w", firstErr)
}

// decodeAll decodes s, which must be exactly one JSON value.
func decodeAll(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON value")
	}
	return v, nil
}

// fencedJSON returns the body of the first ```json block.
func fencedJSON(text string) (string, bool) {
	const fence = "```"
	i := 0
	for {
		j := strings.Index(text[i:], fence)
		if j < 0 {
			return "", false
		}
		i += j + len(fence)
		if len(text) >= i+4 && strings.EqualFold(text[i:i+4], "json") {
			break
		}
	}
	body := text[i+4:]
	if nl := strings.IndexByte(body, '\n'); nl >= 0 && strings.TrimSpace(body[:nl]) == "" {
		body = body[nl+1:]
	}
	end := strings.Index(body, "```")
	if end < 0 {
		return "", false
	}
	return strings.TrimSpace(body[:end]), true
}
