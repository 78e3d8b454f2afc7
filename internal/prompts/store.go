package prompts

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// defaultDebounce is how long Watch waits after the last change before
// reloading: an editor's save or a git checkout is many events.
const defaultDebounce = 100 * time.Millisecond

// Store holds the current Repo and replaces it when the files change.
// Readers call Repo for each request and keep the snapshot they got for
// the whole request, so a reload never changes a prompt halfway through.
// A reload that fails keeps the last good Repo.
type Store struct {
	// OnReload, if set, is called after every reload attempt with the
	// new Repo, or with nil and the error. Set it before calling Watch.
	OnReload func(*Repo, error)

	dir      string
	log      *slog.Logger
	debounce time.Duration
	repo     atomic.Pointer[Repo]
	// reload serializes reloads, so an older load never replaces a newer
	// one.
	reload sync.Mutex
}

// OpenStore loads dir; the first load must succeed. log may be nil.
func OpenStore(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := Load(dir)
	if err != nil {
		return nil, fmt.Errorf("open prompts: %w", err)
	}
	s := &Store{dir: dir, log: log, debounce: defaultDebounce}
	s.repo.Store(r)
	return s, nil
}

// Repo returns the current snapshot.
func (s *Store) Repo() *Repo { return s.repo.Load() }

// Reload loads the directory again. On success the new Repo replaces the
// old one; on failure the old one stays, each problem is logged with its
// file and line, and the *LoadError is returned.
func (s *Store) Reload() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	r, err := Load(s.dir)
	if err != nil {
		s.logProblems(err)
		if s.OnReload != nil {
			s.OnReload(nil, err)
		}
		return fmt.Errorf("reload prompts: %w", err)
	}
	s.repo.Store(r)
	s.log.Info("prompts reloaded", "dir", s.dir, "prompts", len(r.sorted))
	if s.OnReload != nil {
		s.OnReload(r, nil)
	}
	return nil
}

func (s *Store) logProblems(err error) {
	var le *LoadError
	if !errors.As(err, &le) {
		s.log.Error("prompts reload failed; keeping the last good prompts", "dir", s.dir, "err", err)
		return
	}
	s.log.Error("prompts reload failed; keeping the last good prompts", "dir", s.dir, "problems", len(le.Problems))
	for _, p := range le.Problems {
		s.log.Error("prompt problem", "file", p.File, "line", p.Line, "problem", p.Message)
	}
}
