package patch

import (
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
