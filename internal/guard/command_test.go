package guard

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/internal/config"
)

func needShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the command tests use sh")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestCommandCheck(t *testing.T) {
	needShell(t)
	tests := []struct {
		name    string
		command []string
		timeout time.Duration
		text    string
		reason  string // exact, or a prefix ending in "…"
	}{
		{"exit 0 passes", []string{"sh", "-c", "grep -q answer"}, 0, "the answer is 42", ""},
		{"exit 1 fails with output", []string{"sh", "-c", "echo 'lint: bad style' >&2; exit 1"}, 0, "x", `command exited with status 1: "lint: bad style"`},
		{"reads stdin", []string{"sh", "-c", `test "$(cat)" = "exact text"`}, 0, "exact text", ""},
		{"output is cut", []string{"sh", "-c", "yes 0123456789 | head -c 100000; exit 2"}, 0, "", `command exited with status 2: "0123456789\n`},
		{"missing binary", []string{"llmux-no-such-binary-x"}, 0, "", `command failed to start: exec: "llmux-no-such-binary-x": executable file not found in $PATH`},
		{"killed by a signal", []string{"sh", "-c", "kill -9 $$"}, 0, "", "command ended by signal: killed"},
		{"sees its name, not the gateway's env", []string{"sh", "-c", `test "$LLMUX_GUARDRAIL" = cmd && test -z "$LLMUX_TEST_SECRET"`}, 0, "", ""},
	}
	t.Setenv("LLMUX_TEST_SECRET", "must-not-leak")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRule(t, config.Guardrail{Name: "cmd", Type: "command", Command: tt.command, Timeout: tt.timeout})
			got := r.Check(context.Background(), tt.text)
			if tt.reason == "" {
				if !got.Passed {
					t.Errorf("Check = %+v, want a pass", got)
				}
				return
			}
			if got.Passed || !strings.HasPrefix(got.Reason, tt.reason) {
				t.Errorf("Check = %+v, want reason %q", got, tt.reason)
			}
			if len(got.Reason) > 300 {
				t.Errorf("reason is %d bytes", len(got.Reason))
			}
		})
	}
}

func TestCommandTimeout(t *testing.T) {
	needShell(t)
	tests := []struct {
		name    string
		command []string
	}{
		{"hangs", []string{"sleep", "30"}},
		// The shell's child keeps stdout open after the shell is killed:
		// the process group kill and WaitDelay must still end the check.
		{"child holds output open", []string{"sh", "-c", "sleep 30 | cat; echo never"}},
		{"ignores SIGTERM", []string{"sh", "-c", "trap '' TERM; sleep 30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRule(t, config.Guardrail{Name: "slow", Type: "command", Command: tt.command, Timeout: 200 * time.Millisecond})
			start := time.Now()
			got := r.Check(context.Background(), "text")
			took := time.Since(start)
			if got.Passed || got.Reason != "command timed out after 200ms" {
				t.Errorf("Check = %+v, want a timeout failure", got)
			}
			if bound := 200*time.Millisecond + commandWaitDelay + 2*time.Second; took > bound {
				t.Errorf("Check took %v, want under %v", took, bound)
			}
		})
	}
}

func TestCommandCanceled(t *testing.T) {
	needShell(t)
	r := mustRule(t, config.Guardrail{Name: "slow", Type: "command", Command: []string{"sleep", "30"}})
	// The caller's context ends first: the check reports that, not its
	// own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := r.Check(ctx, "")
	if got.Passed || got.Reason != "command canceled: context deadline exceeded" || time.Since(start) > 3*time.Second {
		t.Errorf("Check = %+v after %v, want a prompt cancellation", got, time.Since(start))
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if got := r.Check(done, ""); got.Reason != "command canceled: context canceled" {
		t.Errorf("Check on a done context = %+v", got)
	}
}

// TestCommandStrayChild: a command that exits 0 but leaves a child (in its
// own session, out of reach of the group kill) holding its output open
// passes once WaitDelay closes the pipe, instead of waiting for the child.
func TestCommandStrayChild(t *testing.T) {
	needShell(t)
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	r := mustRule(t, config.Guardrail{Name: "stray", Type: "command", Command: []string{"sh", "-c", "setsid sleep 3 & exit 0"}})
	start := time.Now()
	if got := r.Check(context.Background(), ""); !got.Passed {
		t.Errorf("Check = %+v, want a pass", got)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Check took %v, want about %v", took, commandWaitDelay)
	}
}

func TestCommandRelativeToConfig(t *testing.T) {
	needShell(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ngrep -q ok\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	set, err := Compile([]config.Guardrail{{Name: "s", Type: "command", Command: []string{"./check.sh"}}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := set.Select([]string{"s"})
	if got := rules[0].Check(context.Background(), "all ok"); !got.Passed {
		t.Errorf("Check = %+v, want the script beside the config to run", got)
	}
}
