package npm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Known-vulnerable versions, so that the tree doubles as matcher input.
// make-dir 3.1.0 needs semver ^6 while semver 7.5.1 sits at the top, which
// forces a nested node_modules/make-dir/node_modules/semver.
var (
	installProd = []string{"semver@7.5.1", "lodash@4.17.20", "make-dir@3.1.0", "@babel/code-frame@7.10.4"}
	installDev  = []string{"tough-cookie@4.1.2"}
)

// skipOrFail skips when a tool or the registry is missing, except in CI,
// where a skip would hide that the test never ran.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// npmTree returns a project directory into which npm installed installProd
// and installDev, cached under the user's cache directory by a hash of the
// package lists. It is built in a temporary directory and renamed into
// place only when complete, so an interrupted run never leaves a half tree.
func npmTree(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		skipOrFail(t, "npm is not installed (needed to build a real node_modules tree): %v", err)
	}
	h := sha256.Sum256([]byte(strings.Join(installProd, "\n") + "\n--dev\n" + strings.Join(installDev, "\n")))
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("no cache directory: %v", err)
		}
		cache = filepath.Join(home, ".cache")
	}
	parent := filepath.Join(cache, "drydock-test")
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
		append([]string{"install", "--no-audit", "--no-fund", "--ignore-scripts"}, installProd...),
		append([]string{"install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-dev"}, installDev...),
	} {
		cmd := exec.CommandContext(ctx, npm, args...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			skipOrFail(t, "npm %s failed (is the npm registry reachable?): %v\n%s", strings.Join(args, " "), err, out)
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

// lsNode is one node of "npm ls --all --json --long".
type lsNode struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Path         string            `json:"path"`
	Dev          bool              `json:"dev"`
	Dependencies map[string]lsNode `json:"dependencies"`
}

// npmLs asks npm which packages are installed where: an oracle independent
// of this package's parsing. It returns install path (relative to dir, as
// package.json paths) → name@version.
func npmLs(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("npm", "ls", "--all", "--json", "--long")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("npm ls: %v\n%s", err, out)
	}
	var root lsNode
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("decode npm ls output: %v", err)
	}
	got := map[string]string{}
	var walk func(n lsNode)
	walk = func(n lsNode) {
		for _, d := range n.Dependencies {
			if d.Path != "" && d.Version != "" {
				rel, err := filepath.Rel(dir, d.Path)
				if err != nil {
					t.Fatal(err)
				}
				got[filepath.ToSlash(rel)+"/package.json"] = d.Name + "@" + d.Version
			}
			walk(d)
		}
	}
	walk(root)
	return got
}

// TestInstalledTree walks a node_modules tree that npm really installed, as
// the layer walker would (every file offered to Required, each wanted one
// handed to Extract alone), and compares with npm's own view of the tree.
func TestInstalledTree(t *testing.T) {
	dir := npmTree(t)
	want := npmLs(t, dir)
	if len(want) < 20 {
		t.Fatalf("npm ls lists only %d packages; the tree is broken", len(want))
	}
	if _, ok := want["node_modules/make-dir/node_modules/semver/package.json"]; !ok {
		t.Fatalf("npm did not nest semver under make-dir; the test lost its nested case")
	}

	const root = "app"
	e := New()
	installed := map[string]string{}
	var lockPkgs []string
	lockDev := map[string]bool{}
	sawHidden := false
	err := filepath.WalkDir(dir, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, full)
		if err != nil {
			return err
		}
		p := path.Join(root, filepath.ToSlash(rel))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, "node_modules/.package-lock.json") {
			sawHidden = true
		}
		if !e.Required(p, fi) {
			return nil
		}
		b, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		pkgs, err := e.Extract(context.Background(), input(p, b))
		if err != nil {
			t.Errorf("Extract(%s): %v", p, err)
		}
		for _, pk := range pkgs {
			nv := FullName(pk) + "@" + pk.Version
			if IsLockfile(pk.Path) {
				lockPkgs = append(lockPkgs, nv)
				lockDev[nv] = pk.Dev
				continue
			}
			if pk.Path != p {
				t.Errorf("package %s has Path %q, want %q", nv, pk.Path, p)
			}
			installed[strings.TrimPrefix(p, root+"/")] = nv
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawHidden {
		t.Errorf("npm wrote no node_modules/.package-lock.json; the test lost its hidden-lockfile case")
	}
	if diff := cmp.Diff(want, installed); diff != "" {
		t.Errorf("installed packages differ from npm ls (-npm +extractor):\n%s", diff)
	}

	// The project's package-lock.json (version 3) names the same versions.
	var wantLock []string
	for _, nv := range want {
		wantLock = append(wantLock, nv)
	}
	sort.Strings(wantLock)
	sort.Strings(lockPkgs)
	if diff := cmp.Diff(wantLock, lockPkgs); diff != "" {
		t.Errorf("package-lock.json packages differ from npm ls (-npm +extractor):\n%s", diff)
	}
	if !lockDev["tough-cookie@4.1.2"] || lockDev["semver@7.5.1"] {
		t.Errorf("dev flags: tough-cookie %v (want true), semver %v (want false)", lockDev["tough-cookie@4.1.2"], lockDev["semver@7.5.1"])
	}
}
