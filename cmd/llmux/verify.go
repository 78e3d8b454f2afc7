package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// maxToolOutput bounds the tool output passed to the model.
const maxToolOutput = 64 << 10

// verifyOptions are the flags of llmux verify.
type verifyOptions struct {
	prompts  promptFlags
	url      string
	keyEnv   string
	route    string
	vars     []string
	varsFile string
	print    bool
	command  []string
}

func verifyCmd(stdout, stderr io.Writer) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify PROMPT[@label] [-- COMMAND ARGS...]",
		Short: "Run a prompt's verify step (a compiler, linter or test) locally and send its real output through the gateway",
		Long: `verify runs the deterministic tool a prompt declares (its verify.command,
or the command after --) on this machine, in the current directory, and
passes its output and exit code to the prompt as variables (verify.variable,
default tool_output, and exit_code), so the model explains what the tool
said instead of guessing. The code never leaves except as the prompt's
variables, through the gateway, which redacts secrets.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.command = args[1:]
			return runVerify(cmd.Context(), args[0], &o, stdout, stderr)
		},
	}
	o.prompts.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the llmux gateway")
	fl.StringVar(&o.keyEnv, "key-env", "LLMUX_API_KEY", "environment variable holding the gateway key")
	fl.StringVar(&o.route, "route", "chat", "the route (model) to send the prompt to")
	fl.StringArrayVar(&o.vars, "var", nil, "a variable, name=value or name=@file (repeatable)")
	fl.StringVar(&o.varsFile, "vars", "", "JSON file with more variables")
	fl.BoolVar(&o.print, "print", false, "print the variables as JSON instead of sending the prompt")
	return cmd
}

func runVerify(ctx context.Context, ref string, o *verifyOptions, stdout, stderr io.Writer) error {
	repo, _, err := o.prompts.load()
	if err != nil {
		return err
	}
	v, err := repo.Resolve(ref)
	if err != nil {
		return err
	}
	vars, err := readVars(o.varsFile)
	if err != nil {
		return err
	}
	if err := parseVars(o.vars, vars); err != nil {
		return err
	}
	command, variable, timeout := o.command, "tool_output", 60*time.Second
	if v.Verify != nil {
		if len(command) == 0 {
			command = v.Verify.Command
		}
		if v.Verify.Variable != "" {
			variable = v.Verify.Variable
		}
		if v.Verify.Timeout > 0 {
			timeout = v.Verify.Timeout
		}
	}
	if len(command) == 0 {
		return fmt.Errorf("%s declares no verify command; give one after --", v.Ref())
	}
	out, code, err := runTool(ctx, command, timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "verify: %s exited %d (%d bytes of output)\n", strings.Join(command, " "), code, len(out))
	vars[variable], vars["exit_code"] = out, code
	if err := v.Validate(vars); err != nil {
		return fmt.Errorf("%s: %w", v.Ref(), err)
	}
	if o.print {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vars)
	}
	return sendPrompt(ctx, o, ref, vars, stdout)
}

// parseVars adds name=value and name=@file arguments to vars.
func parseVars(args []string, vars map[string]any) error {
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return fmt.Errorf("--var %q: want name=value or name=@file", a)
		}
		if path, isFile := strings.CutPrefix(value, "@"); isFile {
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("--var %s: %w", name, err)
			}
			value = string(data)
		}
		vars[name] = value
	}
	return nil
}

// runTool runs the verify command with a timeout and returns its combined
// output (bounded) and exit code. A command that cannot start is an error;
// one that fails is not: its failure is what the model explains.
func runTool(ctx context.Context, command []string, timeout time.Duration) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	text := out.String()
	if len(text) > maxToolOutput {
		text = text[:maxToolOutput] + "\n[output truncated]"
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return text + fmt.Sprintf("\n[killed after %s]", timeout), -1, nil
	case errors.As(err, &exit):
		return text, exit.ExitCode(), nil
	case err != nil:
		return "", 0, fmt.Errorf("run %s: %w", command[0], err)
	}
	return text, 0, nil
}

// sendPrompt sends the prompt through the gateway's prompt endpoint and
// prints the answer and the variant that served it.
func sendPrompt(ctx context.Context, o *verifyOptions, ref string, vars map[string]any, stdout io.Writer) error {
	body, err := json.Marshal(map[string]any{"model": o.route, "variables": vars})
	if err != nil {
		return err
	}
	answer, h, err := postChat(ctx, gatewayTarget{o.url, o.keyEnv}, "/v1/prompts/"+ref+"/completions", body)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n\n[%s via %s]\n", answer, h.Get("x-llmux-prompt"), h.Get("x-llmux-deployment"))
	return nil
}
