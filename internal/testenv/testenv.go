// Package testenv locates the real test data that lives outside the
// repository (../shared/vulndata) and other parts tests need. Only tests
// import it.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// VulnDataEnv names the environment variable that points at the shared
// vulnerability data; it defaults to ../shared/vulndata beside the checkout.
const VulnDataEnv = "DRYDOCK_VULNDATA"

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the test's working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// VulnData returns the shared vulnerability data directory. The test fails
// (not skips) when it is missing: CI always has it, and a silent skip would
// hide that the fixtures were never read.
func VulnData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(VulnDataEnv)
	if dir == "" {
		dir = filepath.Join(ModuleRoot(t), "..", "shared", "vulndata")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("vulnerability data not found at %s (set %s): %v", dir, VulnDataEnv, err)
	}
	return dir
}

// Fixture returns the path of a file under vulndata/fixtures.
func Fixture(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{VulnData(t), "fixtures"}, parts...)...)
}
