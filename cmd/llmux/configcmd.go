package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/config"
)

func configCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with config files"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Report every problem in a config file with file:line; exit non-zero if any",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok (%d accounts, %d deployments, %d routes, %d keys)\n",
				args[0], len(cfg.Accounts), len(cfg.Deployments), len(cfg.Routes), len(cfg.Keys))
			return nil
		},
	})
	return cmd
}
