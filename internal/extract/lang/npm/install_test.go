package npm

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/testenv"
)

// Known-vulnerable versions, so that the tree doubles as matcher input.
// make-dir 3.1.0 needs semver ^6 while semver 7.5.1 sits at the top, which
// forces a nested node_modules/make-dir/node_modules/semver.
var (
	installProd = []string{"semver@7.5.1", "lodash@4.17.20", "make-dir@3.1.0", "@babel/code-frame@7.10.4"}
	installDev  = []string{"tough-cookie@4.1.2"}
)

// npmTree returns a project directory into which npm installed installProd
// and installDev, cached under ~/.cache/drydock-test (shared with test/e2e,
// which asks for the same lists).
func npmTree(t *testing.T) string {
	t.Helper()
	return testenv.NPMTree(t, installProd, installDev)
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
