package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/llmux/llmux/internal/config"
	"github.com/llmux/llmux/internal/gateway"
	"github.com/llmux/llmux/internal/guard"
	"github.com/llmux/llmux/internal/prompts"
)

// baseDir is the directory relative paths in cfg are resolved against:
// the config file's.
func baseDir(cfg *config.Config) string {
	if cfg.Path == "" {
		return "."
	}
	return filepath.Dir(cfg.Path)
}

func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// promptsAndGuards sets the gateway's prompt repository (watched for
// changes until the server closes), compiled guardrails and secret
// redactor from the config.
func (s *Server) promptsAndGuards(cfg *config.Config, log *slog.Logger, opts *gateway.Options) error {
	base := baseDir(cfg)
	if p := cfg.Prompts; p != nil {
		dir := resolve(base, p.Dir)
		store, err := prompts.OpenStore(dir, log)
		if err != nil {
			return fmt.Errorf("server: prompts: %w", err)
		}
		opts.Prompts = store
		if p.Watch == nil || *p.Watch {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			s.stopWatch = func() { cancel(); <-done }
			go func() {
				defer close(done)
				if err := store.Watch(ctx); err != nil {
					log.Warn("prompt repository not watched; restart to pick up changes", "dir", dir, "err", err)
				}
			}()
		}
		log.Info("prompt repository loaded", "dir", dir, "prompts", len(store.Repo().Prompts()))
	}
	if len(cfg.Guardrails) > 0 {
		set, err := guard.Compile(cfg.Guardrails, base)
		if err != nil {
			return fmt.Errorf("server: guardrails: %w", err)
		}
		opts.Guardrails = set
	}
	if redacts(cfg) {
		det, err := guard.NewGitleaks(cfg.Secrets, base)
		if err != nil {
			return fmt.Errorf("server: secrets: %w", err)
		}
		opts.Redactor = guard.NewRedactor(det)
	}
	return nil
}

// redacts reports whether some route redacts secrets (the default).
func redacts(cfg *config.Config) bool {
	for _, r := range cfg.Routes {
		if r.RedactSecrets == nil || *r.RedactSecrets {
			return true
		}
	}
	return false
}
