package prompts

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const brokenVariant = "messages:\n  - role: robot\n    content: x\n"

func TestStoreReload(t *testing.T) {
	dir := copyGood(t)
	var logs bytes.Buffer
	s, err := OpenStore(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var calls []error
	s.OnReload = func(r *Repo, err error) {
		if (r == nil) == (err == nil) {
			t.Errorf("OnReload(%v, %v): want exactly one of them", r, err)
		}
		calls = append(calls, err)
	}
	old := s.Repo()
	variant := filepath.Join(dir, "summarize", "default.prompt")

	writeFile(t, variant, brokenVariant)
	err = s.Reload()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Reload of a broken file = %v, want a *LoadError", err)
	}
	if s.Repo() != old {
		t.Error("a failed reload replaced the Repo")
	}
	if want := "file=" + variant + " line=2"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}

	writeFile(t, variant, "messages:\n  - role: user\n    content: 'new {{text}}'\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.Repo() == old {
		t.Fatal("a good reload kept the old Repo")
	}
	if got := renderSummarize(t, s.Repo()); got != "new t" {
		t.Errorf("after reload: %q", got)
	}
	if got := renderSummarize(t, old); !strings.HasPrefix(got, "Summarize for") {
		t.Errorf("the old snapshot changed: %q", got)
	}
	if len(calls) != 2 || calls[0] == nil || calls[1] != nil {
		t.Errorf("OnReload calls = %v, want [error, nil]", calls)
	}
}

func TestOpenStoreFails(t *testing.T) {
	_, err := OpenStore(filepath.Join("testdata", "bad", "cycle"), nil)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Errorf("OpenStore = %v, want a *LoadError", err)
	}
}

// TestStoreWatch changes files under a watched store and waits (with a
// deadline) for the reloads.
func TestStoreWatch(t *testing.T) {
	dir := copyGood(t)
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.debounce = 10 * time.Millisecond
	type result struct {
		r   *Repo
		err error
	}
	reloads := make(chan result, 100)
	s.OnReload = func(r *Repo, err error) { reloads <- result{r, err} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx) }()

	// waitFor waits for a reload for which ok is true.
	waitFor := func(what string, ok func(result) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case res := <-reloads:
				if ok(res) {
					return
				}
			case <-deadline:
				t.Fatalf("no reload with %s", what)
			}
		}
	}
	waitFor("the initial reload", func(res result) bool { return res.err == nil })

	variant := filepath.Join(dir, "summarize", "default.prompt")
	writeFile(t, variant, "messages:\n  - role: user\n    content: 'edited {{text}}'\n")
	waitFor("the edit", func(res result) bool { return res.r != nil && renderSummarize(t, res.r) == "edited t" })

	// A new prompt folder, then a change inside it: new folders are
	// watched too.
	writeFile(t, filepath.Join(dir, "fresh", "prompt.yaml"), "name: fresh\nversion: 1\n")
	writeFile(t, filepath.Join(dir, "fresh", "default.prompt"), "messages:\n  - role: user\n    content: one\n")
	waitFor("the new prompt", func(res result) bool { return res.r != nil && len(res.r.Prompts()) == 3 })
	writeFile(t, filepath.Join(dir, "fresh", "default.prompt"), "messages:\n  - role: user\n    content: two\n")
	waitFor("the change in the new folder", func(res result) bool {
		if res.r == nil {
			return false
		}
		v, err := res.r.Resolve("fresh")
		if err != nil {
			return false
		}
		msgs, err := v.Variants[0].Render(nil, "m", "")
		return err == nil && msgs[0].Content == "two"
	})

	good := s.Repo()
	writeFile(t, variant, brokenVariant)
	waitFor("the broken file", func(res result) bool { return res.err != nil })
	if s.Repo() != good {
		t.Error("a failed reload replaced the Repo")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func renderSummarize(t *testing.T, r *Repo) string {
	t.Helper()
	v, err := r.Resolve("summarize")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := v.Variants[0].Render(map[string]any{"text": "t", "audience": "a"}, "m", "")
	if err != nil {
		t.Fatal(err)
	}
	return msgs[0].Content
}
