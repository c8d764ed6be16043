package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/registrytest"
	"github.com/drydock/drydock/internal/testenv"
)

func TestPatchFlagErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"patch", "img"}, "--tag is required (or --dry-run to only print the plan)"},
		{[]string{"patch", "img", "-t", "x", "--all-updates", "--ids", "CVE-1"}, "--all-updates upgrades every package with an update: it cannot be combined with --severity or --ids"},
		{[]string{"patch", "img", "--dry-run", "-f", "sarif"}, `--format "sarif": want table or json`},
		{[]string{"patch", "img", "--dry-run", "--severity", "urgent"}, `--severity: severity "urgent": want one of critical, high, medium, low, none, unknown`},
		{[]string{"patch", "img", "-t", "x", "--dry-run", "--key", "k", "--no-policy"}, "--key signs the pushed result: it cannot be combined with --dry-run"},
		{[]string{"patch", "img", "-t", "oci:out", "--key", "k", "--no-policy"}, "--key pushes a verdict next to the patched image: --tag must be a registry reference, not an OCI layout"},
		{[]string{"patch", "img", "-t", "x", "--key", "k"}, "--key: no decision to sign: give --policy FILE, --fail-on SEVERITY or --policy-result pass|fail, or --no-policy to record a verdict that never passes"},
		{[]string{"patch", "img", "-t", "x", "--key", "/nonexistent/k", "--fail-on", "high"}, "--key: open /nonexistent/k: no such file or directory"},
	} {
		_, stderr, code := e.run(t, tc.args...)
		if code != 2 || strings.TrimSpace(stderr) != "drydock: "+tc.want {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The demo image's findings are Python packages: the dry run plans no OS
// upgrade and says why each finding cannot be fixed in place.
func TestPatchDryRunDemo(t *testing.T) {
	e := newEnv(t)
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: %s", errOut)
	}
	out, errOut, code := e.run(t, "patch", "oci:"+lay+":app", "--dry-run", "-f", "json")
	if code != 0 {
		t.Fatalf("patch --dry-run: exit %d: %s", code, errOut)
	}
	var p patch.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("not a plan: %v\n%s", err, out)
	}
	if p.Manager != patch.ManagerApt || p.Mode != patch.ModeFindings || len(p.Items) != 0 || len(p.Skipped) == 0 {
		t.Fatalf("plan = %+v, want apt, findings, no items and skipped findings", p)
	}
	for _, s := range p.Skipped {
		if !strings.HasPrefix(s.Reason, "pypi package: not an OS package") {
			t.Errorf("skipped %+v: want the not-an-OS-package reason", s)
		}
	}
}

// A multi-platform index is not silently narrowed to one platform: an
// index in an OCI layout is not patched per platform (only one in a
// registry is): it is refused unless --platform picks one.
func TestPatchRefusesIndexWithoutPlatform(t *testing.T) {
	e := newEnv(t)
	base := registrytest.LayoutImage(t, demoLayout(t), "base")
	multi := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: base, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: base, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	dir := filepath.Join(t.TempDir(), "multi")
	mp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.AppendIndex(multi); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := e.run(t, "patch", "oci:"+dir, "--all-updates", "-t", "oci:"+filepath.Join(t.TempDir(), "out"))
	want := "drydock: oci:" + dir + " is a multi-platform index outside a registry: pass --platform os/arch to patch one platform (the result is then a single-platform image; an index in a registry is patched per platform)"
	if code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}
