package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchFaultsJSON runs `bench faults --json`: one JSON line, every
// cell as the matrix wants, none failed (so the exit status is 0).
func TestBenchFaultsJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "faults", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 1 || errOut.Len() != 0 {
		t.Fatalf("want one JSON line and no progress; got %d lines:\n%s\nstderr: %s", lines, out.String(), errOut.String())
	}
	var got struct {
		Bench      string         `json:"bench"`
		Cells      int            `json:"cells"`
		Outcomes   map[string]int `json:"outcomes"`
		Unexpected int            `json:"unexpected"`
		Results    []struct {
			Fault   string `json:"fault"`
			Outcome string `json:"outcome"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Bench != "faults" || got.Cells == 0 || len(got.Results) != got.Cells || got.Outcomes["fail"] != 0 || got.Unexpected != 0 {
		t.Errorf("bench %q, %d cells, %d results, outcomes %v, %d unexpected", got.Bench, got.Cells, len(got.Results), got.Outcomes, got.Unexpected)
	}
}

func TestBenchFaultsFlags(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "faults", "--concurrency", "0"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--concurrency 0") {
		t.Fatalf("--concurrency 0: err %v, want one naming the flag", err)
	}
}
