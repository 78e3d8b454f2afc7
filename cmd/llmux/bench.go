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
	cmd.AddCommand(benchCodeIndexCmd(stdout, stderr))
	cmd.AddCommand(benchFaultsCmd(stdout, stderr))
	return cmd
}

// report is what every benchmark returns: a text table with its
// conditions, and the one JSON line other tooling reads.
type report interface {
	WriteText(io.Writer) error
	WriteJSON(io.Writer) error
}

// printReport prints a benchmark's report: the text (unless jsonOnly),
// then the JSON line.
func printReport(rep report, err error, jsonOnly bool, stdout io.Writer) error {
	if err != nil {
		return err
	}
	if !jsonOnly {
		if err := rep.WriteText(stdout); err != nil {
			return err
		}
	}
	return rep.WriteJSON(stdout)
}
