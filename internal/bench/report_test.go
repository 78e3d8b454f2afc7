package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// renderReport returns what a benchmark command prints: the text, then
// the JSON line.
func renderReport(t *testing.T, rep interface {
	WriteText(io.Writer) error
	WriteJSON(io.Writer) error
}) string {
	t.Helper()
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// resultsLine checks that text ends with exactly one JSON line, of the
// contract's shape {"results":[...]} and nothing else, and returns the
// results.
func resultsLine(t *testing.T, text string) []map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var jsonLines []string
	for _, l := range lines {
		if strings.HasPrefix(l, "{") {
			jsonLines = append(jsonLines, l)
		}
	}
	if len(jsonLines) != 1 || jsonLines[0] != lines[len(lines)-1] {
		t.Fatalf("want exactly one JSON line, last; got %d:\n%s", len(jsonLines), text)
	}
	var got map[string][]map[string]any
	if err := json.Unmarshal([]byte(jsonLines[0]), &got); err != nil {
		t.Fatalf("JSON line does not parse as {\"results\":[...]}: %v\n%s", err, jsonLines[0])
	}
	if len(got) != 1 || got["results"] == nil {
		t.Fatalf("JSON line has keys other than results: %s", jsonLines[0])
	}
	return got["results"]
}
