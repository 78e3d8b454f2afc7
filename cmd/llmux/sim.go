package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/server"
	"github.com/llmux/llmux/internal/sim"
)

func simCmd(stdout, stderr io.Writer) *cobra.Command {
	var path, listen string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the provider simulator (OpenAI, Azure OpenAI and Anthropic APIs) from a config's simulator section",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.Context(), path, listen, stderr)
		},
	}
	cmd.Flags().StringVar(&path, "config", "examples/quickstart.yaml", "config file with a simulator section")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (overrides simulator.listen)")
	return cmd
}

func runSim(ctx context.Context, path, listen string, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if cfg.Simulator == nil {
		return fmt.Errorf("%s has no simulator section", path)
	}
	if listen == "" {
		listen = cfg.Simulator.Listen
	}
	sc, err := server.SimConfig(cfg.Simulator)
	if err != nil {
		return err
	}
	s, err := sim.New(sc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("simulator serving", "addr", ln.Addr().String(), "keys", len(sc.Keys))
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = hs.Shutdown(shutdown)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
