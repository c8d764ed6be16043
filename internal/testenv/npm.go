package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CacheDir returns the directory where tests cache what is slow to make
// (npm trees, root filesystems): $XDG_CACHE_HOME/drydock-test, or
// ~/.cache/drydock-test. The scripts under scripts/ use the same one.
func CacheDir(t testing.TB) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("no cache directory: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "drydock-test")
}

// NPMTree returns a project directory into which npm really installed prod
// and (as dev dependencies) dev, with --ignore-scripts. It is cached under
// CacheDir by a hash of the two lists, so tests asking for the same lists
// share one install, and it is built in a temporary directory and renamed
// into place only when complete, so an interrupted run never leaves a half
// tree. Without npm or the registry the test stops through NeedPart.
func NPMTree(t testing.TB, prod, dev []string) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		NeedPart(t, "npm", "not installed (it builds a real node_modules tree; apt-get install npm): %v", err)
	}
	h := sha256.Sum256([]byte(strings.Join(prod, "\n") + "\n--dev\n" + strings.Join(dev, "\n")))
	parent := CacheDir(t)
	dir := filepath.Join(parent, "npm-"+hex.EncodeToString(h[:8]))
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, "npm-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"name":"drydock-npm-fixture","version":"1.0.0","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		append([]string{"install", "--no-audit", "--no-fund", "--ignore-scripts"}, prod...),
		append([]string{"install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-dev"}, dev...),
	} {
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			NeedPart(t, "npm registry", "npm %s failed (is the registry reachable?): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another test run may have finished the same tree first.
		if _, serr := os.Stat(filepath.Join(dir, "package-lock.json")); serr != nil {
			t.Fatalf("rename npm tree into the cache: %v", err)
		}
	}
	return dir
}
