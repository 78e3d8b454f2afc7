package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// --seeds runs once per seed and prints a JSON line per run, then the
// summary line.
func TestBenchBrownoutSeeds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "brownout", "--seeds", "1,2", "--requests-per-phase", "20", "--rate", "240", "--json"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want two runs and a summary:\n%s", len(lines), stdout.String())
	}
	for i, want := range []int64{1, 2} {
		var r struct {
			Seed    int64            `json:"seed"`
			Results []map[string]any `json:"results"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil || r.Seed != want || len(r.Results) != 12 {
			t.Errorf("line %d: seed %d, %d results, err %v", i, r.Seed, len(r.Results), err)
		}
	}
	var s struct {
		Summary struct {
			Seeds []int64 `json:"seeds"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(lines[2]), &s); err != nil || len(s.Summary.Seeds) != 2 {
		t.Errorf("summary line %s: %v", lines[2], err)
	}
}

func TestBenchBrownoutSeedFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"bench", "brownout", "--seed", "2", "--seeds", "1,2"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "seed") {
		t.Fatalf("--seed with --seeds: %v", err)
	}
}
