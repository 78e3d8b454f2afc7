package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
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

// TestBenchLimitsRedisLoss runs `bench limits --redis-loss` briefly with
// --seeds: flags left alone take the Redis-loss run's defaults (3
// replicas, load 1.5), the ones given apply, and --json prints one line
// with a result per seed.
func TestBenchLimitsRedisLoss(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH and CI=true: install the redis-server package")
		}
		t.Skip("redis-server is not on PATH; install the redis-server package to run this test")
	}
	var out, errOut bytes.Buffer
	args := []string{"bench", "limits", "--redis-loss", "--seeds", "1,2", "--speedup", "60", "--phase", "1m",
		"--kill-at", "15s", "--down-for", "15s", "--json"}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != 1 {
		t.Fatalf("want one JSON line; got %d lines:\n%s", lines, out.String())
	}
	var got struct {
		Bench   string `json:"bench"`
		Results []struct {
			Seed          int64   `json:"seed"`
			Replicas      int     `json:"replicas"`
			Load          float64 `json:"load"`
			KilledAtMS    float64 `json:"killed_at_ms"`
			RestartedAtMS float64 `json:"restarted_at_ms"`
			Periods       []struct {
				ToMS float64 `json:"to_ms"`
			} `json:"periods"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Bench != "limits-redis-loss" || len(got.Results) != 2 {
		t.Fatalf("bench %q, %d results; want limits-redis-loss, one per seed: %s", got.Bench, len(got.Results), out.String())
	}
	for i, r := range got.Results {
		// The last period ends with the arrivals, 1m in (or with a late
		// restart on a slow machine, some seconds after).
		if r.Seed != int64(i+1) || r.Replicas != 3 || r.Load != 1.5 || r.KilledAtMS < 15_000 || r.RestartedAtMS < 30_000 ||
			len(r.Periods) != 4 || r.Periods[3].ToMS < 60_000 || r.Periods[3].ToMS > 90_000 {
			t.Errorf("result %d: %+v; want seed %d, 3 replicas, load 1.5, killed at 15s, restarted at 30s, 4 periods to 1m", i, r, i+1)
		}
	}
}

// TestBenchLimitsFlagsRejected checks the flags that do not go together;
// each is refused before anything starts.
func TestBenchLimitsFlagsRejected(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"seed and seeds", []string{"--redis-loss", "--seed", "2", "--seeds", "1,2"}, "seed"},
		{"overload and redis-loss", []string{"--redis-loss", "--overload"}, "overload"},
		{"seeds without redis-loss", []string{"--seeds", "1,2"}, "--seeds needs --redis-loss"},
		{"kill-at without redis-loss", []string{"--kill-at", "1m"}, "--kill-at needs --redis-loss"},
		{"down-for without redis-loss", []string{"--down-for", "1m"}, "--down-for needs --redis-loss"},
		{"one replica", []string{"--redis-loss", "--replicas", "1"}, "at least 2"},
		{"back after the phase", []string{"--redis-loss", "--phase", "5m"}, "must be back"},
		{"bad seeds", []string{"--redis-loss", "--seeds", "1,x"}, "seeds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"bench", "limits"}, c.args...), &out, &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
