package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/drydock/drydock/internal/testenv"
)

// shared holds what is built at most once per test binary run and removed
// when it ends: the drydock binary.
var shared struct {
	dir     string
	binOnce sync.Once
	bin     string
	binErr  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// drydockOnce returns a drydock binary built once for the whole package run.
func drydockOnce(t testing.TB) string {
	t.Helper()
	shared.binOnce.Do(func() {
		root := testenv.ModuleRoot(t)
		dir, err := os.MkdirTemp("", "drydock-e2e-")
		if err != nil {
			shared.binErr = err
			return
		}
		shared.dir = dir
		bin := filepath.Join(dir, "drydock")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/drydock")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			shared.binErr = &buildError{err: err, out: out}
			return
		}
		shared.bin = bin
	})
	if shared.binErr != nil {
		t.Fatalf("go build ./cmd/drydock: %v", shared.binErr)
	}
	return shared.bin
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }
