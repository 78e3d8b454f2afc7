//go:build !unix

package codeindex

import (
	"fmt"
	"os"
	"path/filepath"
)

// fileLock on systems without flock is an exclusively created lock file;
// a crashed update leaves it behind and it must be removed by hand.
type fileLock struct{ path string }

func lockDir(dir string) (*fileLock, error) {
	p := filepath.Join(dir, "lock.pid")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("codeindex: %s is being updated by another process (remove %s if not): %w", dir, p, ErrLocked)
		}
		return nil, fmt.Errorf("codeindex: lock: %w", err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	f.Close()
	return &fileLock{p}, nil
}

func (l *fileLock) unlock() error { return os.Remove(l.path) }
