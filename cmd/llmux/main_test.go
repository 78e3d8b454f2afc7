package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"config", "check", "../../examples/quickstart.yaml"}, &out, &errOut); err != nil {
		t.Fatalf("quickstart: %v", err)
	}
	if !strings.Contains(out.String(), "ok (6 accounts, 8 deployments, 4 routes, 1 keys)") {
		t.Fatalf("output %q", out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("accounts:\n  - name: a\n    provider: nope\n    api_key: sk-SECRET-VALUE\n"), 0o600)
	err := run(context.Background(), []string{"config", "check", bad}, &out, &errOut)
	if err == nil {
		t.Fatal("a bad config passed the check")
	}
	if !strings.Contains(err.Error(), bad+":3: accounts[0].provider") || strings.Contains(err.Error(), "sk-SECRET-VALUE") {
		t.Fatalf("error %q: want file:line and no secret", err)
	}
}

// The quickstart contract: `serve --config examples/quickstart.yaml
// --listen 127.0.0.1:PORT` serves on PORT, accepts sk-llmux-demo, and has
// the routes chat, openai-chat, anthropic-chat and embed.
func TestServeQuickstart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--config", "../../examples/quickstart.yaml", "--listen", addr}, &bytes.Buffer{}, &logs)
	}()
	waitHealthy(t, "http://"+addr+"/healthz", done)

	for _, tc := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/chat/completions", `{"model":"openai-chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/messages", `{"model":"anthropic-chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`},
		{"/v1/embeddings", `{"model":"embed","input":"hi"}`},
	} {
		req, _ := http.NewRequest("POST", "http://"+addr+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer sk-llmux-demo")
		req.Header.Set("anthropic-version", "2023-06-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: status %d", tc.path, tc.body, resp.StatusCode)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

func waitHealthy(t *testing.T, url string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never became healthy")
		}
		time.Sleep(20 * time.Millisecond) // polling a starting server
	}
}

func TestRouteExplain(t *testing.T) {
	req := filepath.Join(t.TempDir(), "req.json")
	os.WriteFile(req, []byte(`{"model":"openai-chat","max_tokens":200000,"messages":[{"role":"user","content":"hi"}]}`), 0o600)
	var out bytes.Buffer
	err := run(context.Background(), []string{"route", "explain", "--config", "../../examples/quickstart.yaml", "--request", req}, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	// 200k output tokens fit no 128k window: every deployment is filtered
	// out, each with its reason.
	for _, want := range []string{`route "openai-chat"`, "openai-a/gpt-4o-mini", "window 128000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain output lacks %q:\n%s", want, out.String())
		}
	}
}
