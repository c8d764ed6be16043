// Package outfile writes the files a user names with --output (reports,
// SBOMs, keys) so that a failed run never leaves a half-written file and
// a path that is not a plain file is never replaced.
//
// A regular file, or a path that does not exist yet, is written to a
// temporary file in the same directory and renamed over the path. Anything
// else a user can name — /dev/null and other devices, a FIFO, /dev/stdout
// or /proc/self/fd/N, a socket — is opened and written in place: renaming
// a temporary file over /dev/null, as root, replaces the device with a
// regular file and breaks every program on the machine that reads it. A
// symlink to a regular file updates the file it points to, atomically, and
// stays a symlink.
package outfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write writes what write produces to path (see the package comment).
// mode is the permission of a newly created file; a file written through
// a rename gets exactly mode, and its temporary file is created 0600, so a
// private key is never readable by others, even briefly.
func Write(path string, mode fs.FileMode, write func(io.Writer) error) error {
	if err := writeFile(path, mode, write); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeFile(path string, mode fs.FileMode, write func(io.Writer) error) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return atomic(path, mode, write)
	case err != nil:
		return err
	case fi.Mode().IsRegular():
		return atomic(path, mode, write)
	case fi.IsDir():
		return errors.New("is a directory; name a file")
	case fi.Mode()&fs.ModeSymlink != 0 && !special(path):
		if target, err := filepath.EvalSymlinks(path); err == nil {
			if tfi, err := os.Lstat(target); err == nil && tfi.Mode().IsRegular() {
				return atomic(target, mode, write)
			}
		}
	}
	return direct(path, mode, write)
}

// special reports paths under /dev and /proc, whose symlinks (/dev/stdout,
// /dev/fd/N, /proc/self/fd/N) name open descriptors: resolving and
// replacing the file one points to would leave the descriptor writing to
// the replaced file.
func special(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return true
	}
	return strings.HasPrefix(abs, "/dev/") || strings.HasPrefix(abs, "/proc/")
}

// atomic writes a temporary file beside path and renames it into place.
func atomic(path string, mode fs.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	return nil
}

// direct writes into the existing node: a device, a FIFO, a descriptor.
// Under /dev and /proc it appends: /dev/stdout reopens whatever the shell
// opened, which `>` has already truncated and `>>` must not lose.
func direct(path string, mode fs.FileMode, write func(io.Writer) error) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if special(path) {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return err
	}
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
