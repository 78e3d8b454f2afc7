package prompts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the store when files under its directory change, until
// ctx is done; it then returns nil. It watches every folder, including
// .versions and _partials, and folders created later. Changes are
// debounced (~100ms after the last one). Once the watches are in place it
// reloads once, so a change made between OpenStore and Watch is not
// missed. Reload errors are logged and do not stop it.
func (s *Store) Watch(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch prompts: %w", err)
	}
	defer w.Close()
	if err := addTree(w, s.dir); err != nil {
		return fmt.Errorf("watch prompts: %w", err)
	}
	s.Reload() //nolint:errcheck // logged by Reload
	timer := time.NewTimer(s.debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("watch prompts: watcher closed")
			}
			if ev.Has(fsnotify.Create) {
				s.watchNew(w, ev.Name)
			}
			timer.Reset(s.debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("watch prompts: watcher closed")
			}
			s.log.Warn("prompts watch error", "dir", s.dir, "err", err)
			timer.Reset(s.debounce)
		case <-timer.C:
			s.Reload() //nolint:errcheck // logged by Reload
		}
	}
}

// watchNew adds a newly created folder, and any folders already inside
// it, to the watch.
func (s *Store) watchNew(w *fsnotify.Watcher, path string) {
	info, err := os.Stat(path)
	if err != nil || !info.IsDir() {
		return
	}
	if err := addTree(w, path); err != nil {
		s.log.Warn("prompts watch: cannot watch new folder", "dir", path, "err", err)
	}
}

// addTree watches root and every folder under it.
func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil // removed while walking
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		return w.Add(path)
	})
}
