package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestPromptsCommands(t *testing.T) {
	const cfg = "../../examples/quickstart.yaml"
	vars := filepath.Join(t.TempDir(), "vars.json")
	os.WriteFile(vars, []byte(`{"code":"a < b && c","language":"go"}`), 0o600)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"list", []string{"prompts", "list", "--config", cfg}, []string{"explain-code", "production=2", "claude default gpt35 gpt4"}},
		{"show a frozen version by label", []string{"prompts", "show", "explain-code@previous", "--config", cfg}, []string{"explain-code@1", "variant default"}},
		{"render picks the variant and says why", []string{"prompts", "render", "explain-code", "--config", cfg, "--model", "gpt-4o-mini", "--vars", vars},
			[]string{"explain-code@2#gpt35", `glob "gpt-4o-mini*"`, "a < b && c", `"max_tokens":700`}},
		{"render for claude", []string{"prompts", "render", "explain-code", "--config", cfg, "--model", "claude-haiku-4-5", "--vars", vars},
			[]string{"explain-code@2#claude", "<scope>", `<code language="go">`}},
		{"lint the examples against the quickstart's models", []string{"prompts", "lint", "--config", cfg}, []string{"ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPromptsCommandErrors(t *testing.T) {
	vars := filepath.Join(t.TempDir(), "vars.json")
	os.WriteFile(vars, []byte(`{"code":"x"}`), 0o600)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no repository", []string{"prompts", "list"}, "--dir"},
		{"unknown prompt", []string{"prompts", "show", "nope", "--dir", "../../examples/prompts"}, "nope"},
		{"missing variable", []string{"prompts", "render", "explain-code", "--dir", "../../examples/prompts", "--model", "gpt-4o", "--vars", vars}, "language"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (output %s); want one naming %q", err, out, tt.want)
			}
		})
	}
}

// freeze snapshots the current version; a label can then keep serving it
// after the folder moves on.
func TestPromptsFreeze(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("cp", "-r", "../../examples/prompts/.", dir).Run(); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "prompts", "freeze", "write-test", "--dir", dir)
	if err != nil || !strings.Contains(out, "froze write-test@1") {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".versions", "write-test", "1", "prompt.yaml")); err != nil {
		t.Fatal(err)
	}
}

// verify runs the tool locally and hands its output and exit code to the
// prompt as variables.
func TestVerifyPrint(t *testing.T) {
	code := filepath.Join(t.TempDir(), "main.go")
	os.WriteFile(code, []byte("package main\nfunc main() { undefined() }\n"), 0o600)
	out, err := runCmd(t, "verify", "explain-error", "--dir", "../../examples/prompts", "--print",
		"--var", "code=@"+code, "--", "sh", "-c", "echo './main.go:2:15: undefined: undefined'; exit 1")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	start := strings.Index(out, "{")
	var vars map[string]any
	if err := json.NewDecoder(strings.NewReader(out[start:])).Decode(&vars); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	if !strings.Contains(vars["compiler_output"].(string), "undefined: undefined") || vars["exit_code"] != 1.0 ||
		!strings.Contains(vars["code"].(string), "func main") {
		t.Errorf("vars = %v", vars)
	}
}

// verify sends the tool's real output through the gateway's prompt
// endpoint and prints the answer with the variant that served it.
func TestVerifySends(t *testing.T) {
	url := startQuickstart(t)
	out, err := runCmd(t, "verify", "explain-error", "--config", "../../examples/quickstart.yaml", "--url", url,
		"--key-env", "LLMUX_TEST_KEY", "--route", "openai-chat", "--var", "code=package main",
		"--", "sh", "-c", "echo './main.go:1:1: expected declaration'; exit 1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "[explain-error@1#gpt35 via ") || !strings.Contains(out, "exited 1") {
		t.Errorf("output:\n%s", out)
	}
}
