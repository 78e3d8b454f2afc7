// Command llmux is the LLM gateway: serve, the provider simulator, config
// checks and benchmarks. Each subcommand is a function over (ctx, args,
// stdout, stderr), testable in-process; main only wires signals.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "llmux:", err)
		os.Exit(1)
	}
}

// run executes the command line args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:           "llmux",
		Short:         "An LLM gateway that multiplexes OpenAI, Azure OpenAI and Anthropic accounts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(serveCmd(stdout, stderr), simCmd(stdout, stderr), configCmd(stdout), benchCmd(stdout, stderr), routeCmd(stdout),
		promptsCmd(stdout), verifyCmd(stdout, stderr), askCmd(stdout, stderr))
	root.AddCommand(indexCmd(stdout, stderr), searchCmd(stdout, stderr))
	return root.ExecuteContext(ctx)
}
