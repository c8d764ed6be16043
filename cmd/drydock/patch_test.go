package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/patch"
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
