//go:build !unix

package scratch

import (
	"errors"
	"os"
)

// Without flock a run's directory cannot be told from a dead run's: only
// directories without a lock file older than the maximum age are removed.
func lock(f *os.File, wait bool) error {
	if wait {
		return nil
	}
	return errors.New("file locks not supported")
}
