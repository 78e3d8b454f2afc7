package guard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmux/llmux/internal/config"
)

// defaultCommandTimeout bounds a command check whose Timeout is 0.
const defaultCommandTimeout = 5 * time.Second

// commandWaitDelay bounds how long a command that was killed, or that
// exited while a child still holds its output open, may keep the check
// waiting.
const commandWaitDelay = 250 * time.Millisecond

// commandOutputLimit bounds the output kept from a command.
const commandOutputLimit = 4096

// commandCheck runs argv with the text on stdin; exit status 0 passes.
type commandCheck struct {
	name    string // the guardrail's name, in LLMUX_GUARDRAIL
	argv    []string
	timeout time.Duration
}

func compileCommand(g config.Guardrail, baseDir string) (checker, []string) {
	c := &commandCheck{name: g.Name, argv: append([]string(nil), g.Command...), timeout: g.Timeout}
	var ps []string
	switch {
	case len(g.Command) == 0 || g.Command[0] == "":
		ps = append(ps, "command needs a program")
	case strings.ContainsRune(g.Command[0], '/') && !filepath.IsAbs(g.Command[0]):
		c.argv[0] = filepath.Join(baseDir, g.Command[0])
	}
	if c.timeout < 0 {
		ps = append(ps, fmt.Sprintf("timeout: must not be negative, got %s", g.Timeout))
	}
	if c.timeout == 0 {
		c.timeout = defaultCommandTimeout
	}
	return c, ps
}

func (c *commandCheck) check(ctx context.Context, text string) string {
	if err := ctx.Err(); err != nil {
		return "command canceled: " + err.Error()
	}
	runCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, c.argv[0], c.argv[1:]...)
	cmd.Stdin = strings.NewReader(text)
	out := &limitedBuffer{limit: commandOutputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = c.env()
	cmd.WaitDelay = commandWaitDelay
	ownProcessGroup(cmd)

	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		killProcessGroup(cmd) // the command exited; its children linger
	}
	switch {
	case cmd.ProcessState != nil && cmd.ProcessState.Success():
		return ""
	case ctx.Err() != nil:
		return "command canceled: " + ctx.Err().Error()
	case runCtx.Err() != nil:
		return "command timed out after " + c.timeout.String()
	case cmd.ProcessState == nil:
		return "command failed to start: " + err.Error()
	case cmd.ProcessState.ExitCode() < 0:
		return "command ended by " + cmd.ProcessState.String() + output(out)
	}
	return fmt.Sprintf("command exited with status %d%s", cmd.ProcessState.ExitCode(), output(out))
}

// env is the command's environment: LLMUX_GUARDRAIL and a few variables
// inherited from the gateway, only these, so provider keys in the
// gateway's environment do not reach it.
func (c *commandCheck) env() []string {
	env := []string{"LLMUX_GUARDRAIL=" + c.name}
	for _, k := range [...]string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// output formats the start of a command's output for a Reason.
func output(b *limitedBuffer) string {
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	return ": " + quote(s)
}

// limitedBuffer keeps the first limit bytes written and discards the rest,
// so a chatty command neither fills memory nor blocks on a full pipe.
type limitedBuffer struct {
	buf   []byte
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}
