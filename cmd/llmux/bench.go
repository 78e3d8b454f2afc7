package main

import (
	"io"

	"github.com/spf13/cobra"
)

func benchCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print their conditions and results"}
	cmd.AddCommand(benchOverheadCmd(stdout))
	cmd.AddCommand(benchLimitsCmd(stdout, stderr))
	cmd.AddCommand(benchBrownoutCmd(stdout, stderr))
	return cmd
}
