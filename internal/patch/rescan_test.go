package patch

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/report"
)

func TestCheckRescan(t *testing.T) {
	before := debianReport()
	plan, err := Make(before, Selection{MinSeverity: "high"})
	if err != nil {
		t.Fatal(err)
	}
	up := func(p inventory.Package, v string) inventory.Package { p.Version, p.SourceVersion = v, v; return p }
	newLib, newBin := up(libssl, "3.0.13-1~deb12u1"), up(opensslBin, "3.0.13-1~deb12u1")
	extra := inventory.Package{Name: "libfoo1", Version: "1.0-1", Type: inventory.TypeDeb, Arch: "amd64"}
	inv := func(ps ...inventory.Package) *inventory.Inventory {
		return &inventory.Inventory{OS: before.Inventory.OS, Packages: ps}
	}
	for _, tc := range []struct {
		name  string
		after *report.ScanReport
		want  Rescan
	}{
		{"fixed", &report.ScanReport{Inventory: inv(newLib, newBin, zlib, lodash), Findings: []finding.Finding{
			// Not targeted (no fix, or an application package): may stay.
			mkFinding("CVE-2024-0003", zlib, finding.RatingCritical),
			mkFinding("GHSA-xxxx", lodash, finding.RatingHigh, "4.17.21"),
		}}, Rescan{Remaining: []string{}, Added: []string{}, Findings: 2}},
		{"a finding stays", &report.ScanReport{Inventory: inv(newLib, opensslBin, zlib, lodash), Findings: []finding.Finding{
			mkFinding("CVE-2024-0001", opensslBin, finding.RatingHigh, "3.0.13-1~deb12u1"),
		}}, Rescan{Remaining: []string{"CVE-2024-0001 openssl 3.0.11-1~deb12u2"}, Added: []string{}, Findings: 1}},
		{"a package appears", &report.ScanReport{Inventory: inv(newLib, newBin, zlib, lodash, extra)},
			Rescan{Remaining: []string{}, Added: []string{"libfoo1 1.0-1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckRescan(plan, before, tc.after)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Errorf("rescan (-want +got):\n%s", d)
			}
			if got.OK() != (got.Err() == nil) || got.OK() != (tc.name == "fixed") {
				t.Errorf("OK %v, Err %v", got.OK(), got.Err())
			}
		})
	}
	if _, err := CheckRescan(plan, before, &report.ScanReport{}); err == nil {
		t.Error("a rescan without an inventory passed")
	}
}

func TestWriteIndexOutcomeGolden(t *testing.T) {
	plan, err := Make(debianReport(), Selection{MinSeverity: "high"})
	if err != nil {
		t.Fatal(err)
	}
	empty, err := Make(debianReport(), Selection{IDs: []string{"CVE-2024-0003"}})
	if err != nil {
		t.Fatal(err)
	}
	o := &IndexOutcome{
		Image:    "registry.example/app@sha256:bbbb",
		Original: "registry.example/app@sha256:aaaa",
		Platforms: []PlatformOutcome{
			{Platform: "linux/amd64", Plan: plan, Outcome: &Outcome{
				Image: "registry.example/app@sha256:cccc", Original: "registry.example/app@sha256:dddd", LayerSize: 1234, Plan: plan,
				Upgrades: []Upgrade{{Package: "libssl3", Arch: "amd64", From: "3.0.11-1~deb12u2", To: "3.0.13-1~deb12u1"}},
				Rescan:   &Rescan{Remaining: []string{}, Added: []string{}, Findings: 2},
				Verdicts: []Verdict{{Subject: "registry.example/app@sha256:cccc", Result: "pass", Ref: "registry.example/app@sha256:eeee"}},
			}},
			{Platform: "linux/arm64/v8", Plan: empty},
		},
	}
	for _, format := range []string{"table", "json"} {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteIndexOutcome(&b, o, format); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "index-outcome."+format), b.Bytes())
		})
	}
	if err := WriteIndexOutcome(&bytes.Buffer{}, o, "sarif"); err == nil {
		t.Error("format sarif accepted")
	}
}
