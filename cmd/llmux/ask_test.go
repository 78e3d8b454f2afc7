package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmux/llmux/codeindex"
	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/server"
)

// ask retrieves from a local index, sends through the gateway (the
// quickstart's code-question prompt) and prints the sources; a question
// nothing in the index matches is not sent at all.
func TestAsk(t *testing.T) {
	repo := t.TempDir()
	files := map[string]string{
		"widgets/registry.go": "package widgets\n\n// Register adds a widget to the registry under its name.\nfunc Register(name string, w Widget) {\n\tregistry[name] = w\n}\n",
		"widgets/widget.go":   "package widgets\n\n// Widget is something drawable.\ntype Widget interface{ Draw() }\n\nvar registry = map[string]Widget{}\n",
		"config/secret.go":    "package config\n\nconst awsKey = \"AKIA" + "Z7XQ4HN2LK5MTR6W\" // registry credentials\n",
	}
	for name, content := range files {
		p := filepath.Join(repo, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	ctx := context.Background()
	ix, err := codeindex.Open(ctx, repo, codeindex.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Update(ctx); err != nil {
		t.Fatal(err)
	}
	ix.Close()

	url := startQuickstart(t)
	common := []string{"--root", repo, "--url", url, "--key-env", "LLMUX_TEST_KEY", "--route", "openai-chat"}

	out, err := runCmd(t, append([]string{"ask", "how do I register a widget in the registry?"}, common...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "Sources:") || !strings.Contains(out, "widgets/registry.go:") {
		t.Errorf("output lacks the sources:\n%s", out)
	}
	if strings.Contains(out, "secret.go") && !strings.Contains(out, "redacted 1 secrets") {
		t.Errorf("a snippet with a secret was sent unredacted:\n%s", out)
	}

	out, err = runCmd(t, append([]string{"ask", "quantum chromodynamics lattice"}, common...)...)
	if err != nil || !strings.Contains(out, "not asked to guess") {
		t.Errorf("unrelated question: %v\n%s", err, out)
	}

	out, err = runCmd(t, append([]string{"ask", "registry", "--prompt", ""}, common...)...)
	if err != nil || !strings.Contains(out, "Sources:") {
		t.Errorf("built-in prompt: %v\n%s", err, out)
	}
}

// startQuickstart runs llmux on the quickstart config (simulator latency
// off) for the test and sets LLMUX_TEST_KEY to its client key.
func startQuickstart(t *testing.T) string {
	t.Helper()
	cfg, err := config.Load("../../examples/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	cfg.Listen, cfg.Simulator.TimeScale = "127.0.0.1:0", &zero
	srv, err := server.Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	t.Setenv("LLMUX_TEST_KEY", "sk-llmux-demo")
	return "http://" + srv.Addr
}
