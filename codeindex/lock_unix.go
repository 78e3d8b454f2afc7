//go:build unix

package codeindex

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive advisory lock (flock) on <dir>/lock, held for
// the duration of one Update so that two processes never write at once.
type fileLock struct{ f *os.File }

func lockDir(dir string) (*fileLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("codeindex: lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("codeindex: %s is being updated by another process: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("codeindex: lock %s: %w", dir, err)
	}
	return &fileLock{f}, nil
}

func (l *fileLock) unlock() error {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	return l.f.Close()
}
