package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchLimitsOverload runs `bench limits --overload` briefly: flags
// left alone take the overload run's defaults (load 1.5, one replica),
// the ones given apply, and --json prints only its JSON line.
func TestBenchLimitsOverload(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"bench", "limits", "--overload", "--speedup", "60", "--phase", "30s", "--max-wait", "20s", "--queue-targets", "2s", "--json"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 1 || errOut.Len() != 0 {
		t.Fatalf("want one JSON line and no progress; got %d lines:\n%s\nstderr: %s", lines, out.String(), errOut.String())
	}
	var got struct {
		Results []struct {
			Replicas      int     `json:"replicas"`
			Load          float64 `json:"load"`
			MaxWaitMS     float64 `json:"max_wait_ms"`
			QueueTargetMS float64 `json:"queue_target_ms"`
			Served        int     `json:"served"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 1 {
		t.Fatalf("%d results, want 1: %s", len(got.Results), out.String())
	}
	r := got.Results[0]
	if r.Replicas != 1 || r.Load != 1.5 || r.MaxWaitMS != 20000 || r.QueueTargetMS != 2000 || r.Served == 0 {
		t.Errorf("result %+v; want replicas 1, load 1.5, max_wait 20s, queue_target 2s, some served", r)
	}
}
