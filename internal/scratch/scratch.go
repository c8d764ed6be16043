// Package scratch makes drydock's per-run scratch directories (under the
// cache directory's tmp/) and removes those that runs killed before their
// own clean-up left behind. A run holds an exclusive lock on a file in its
// directory for as long as it lives; the kernel drops the lock when the
// process dies, however it dies, so a directory whose lock can be taken
// belongs to no live run.
package scratch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	prefix   = "run-"
	lockName = ".lock"
	// settle protects a directory a starting run has made but not yet
	// locked: unlocked directories younger than this are left alone.
	settle = time.Minute
	// DefaultMaxAge is how old a scratch directory without a lock file
	// (left by a run that died before taking it, or on a system without
	// file locks) must be before it is removed. No scan runs this long.
	DefaultMaxAge = 24 * time.Hour
)

// Dir is one run's scratch directory.
type Dir struct {
	Path string
	lock *os.File
}

// New removes stale scratch directories under base (see Clean) and makes a
// fresh one, locked for the life of this process or until Release.
func New(base string) (*Dir, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("create temp directory: %w", err)
	}
	// Clean-up failures cost disk space, not correctness.
	_, _ = Clean(base, DefaultMaxAge, time.Now())
	p, err := os.MkdirTemp(base, prefix)
	if err != nil {
		return nil, fmt.Errorf("create temp directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(p, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = lock(f, true)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(p)
		return nil, fmt.Errorf("lock temp directory: %w", err)
	}
	return &Dir{Path: p, lock: f}, nil
}

// Release removes the directory and drops its lock.
func (d *Dir) Release() {
	os.RemoveAll(d.Path)
	if d.lock != nil {
		d.lock.Close()
	}
}

// Clean removes the scratch directories under base that no live run holds:
// those whose lock file can be locked (and which are older than a minute,
// so a run that has just made its directory is not robbed of it), and
// those with no lock file older than maxAge. It returns how many it
// removed.
func Clean(base string, maxAge time.Duration, now time.Time) (int, error) {
	ents, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("clean temp directory %s: %w", base, err)
	}
	removed := 0
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(base, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		age := now.Sub(fi.ModTime())
		if stale(p, age, maxAge) {
			if os.RemoveAll(p) == nil {
				removed++
			}
		}
	}
	return removed, nil
}

func stale(dir string, age, maxAge time.Duration) bool {
	lp := filepath.Join(dir, lockName)
	fi, err := os.Lstat(lp)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) && age > maxAge
	}
	if !fi.Mode().IsRegular() {
		return age > maxAge
	}
	f, err := os.OpenFile(lp, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if age < settle {
		return false
	}
	if err := lock(f, false); err != nil {
		return false // held by a live run (or locks unsupported: keep it)
	}
	// Closing f drops the lock; the directory is removed right after, and
	// no run adopts an existing directory.
	return true
}
