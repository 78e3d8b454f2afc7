package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/server"
)

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var path, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (and the simulator, if the config has a simulator section)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), path, listen, stderr)
		},
	}
	cmd.Flags().StringVar(&path, "config", "examples/quickstart.yaml", "config file")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (overrides the config's listen)")
	return cmd
}

func serve(ctx context.Context, path, listen string, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	err = srv.Wait(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log.Info("shutting down")
	if cerr := srv.Close(shutdown); err == nil {
		err = cerr
	}
	return err
}
