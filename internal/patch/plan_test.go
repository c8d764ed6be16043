package patch

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// checkGolden compares got with the golden file (rewritten with -update).
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got):\n%s", golden, d)
	}
}

var (
	libssl = inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64",
		SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status"}
	opensslBin = inventory.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64",
		SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status"}
	zlib = inventory.Package{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: inventory.TypeDeb, Arch: "amd64",
		SourceName: "zlib", SourceVersion: "1:1.2.13.dfsg-1", Path: "var/lib/dpkg/status"}
	lodash = inventory.Package{Name: "lodash", Version: "4.17.20", Type: inventory.TypeNPM, Path: "app/package-lock.json"}
)

func mkFinding(id string, p inventory.Package, rating string, fixed ...string) finding.Finding {
	eco := "Debian:12"
	installed := p.SourceVersion
	if p.Type == inventory.TypeNPM {
		eco, installed = "npm", p.Version
	}
	return finding.Finding{ID: id, Package: p, Ecosystem: eco, InstalledVersion: installed, FixedVersions: fixed, Severity: finding.Severity{Rating: rating}}
}

func debianReport() *report.ScanReport {
	return &report.ScanReport{
		Inventory: &inventory.Inventory{
			OS:       &inventory.OS{ID: "debian", VersionID: "12"},
			Source:   inventory.Source{Ref: "registry.example/app:1", Digest: "sha256:aaaa"},
			Packages: []inventory.Package{libssl, opensslBin, zlib, lodash},
		},
		Findings: []finding.Finding{
			mkFinding("CVE-2024-0001", libssl, finding.RatingHigh, "3.0.13-1~deb12u1"),
			mkFinding("CVE-2024-0001", opensslBin, finding.RatingHigh, "3.0.13-1~deb12u1"),
			// Two ranges: the fix above the installed version is the one.
			mkFinding("CVE-2024-0002", libssl, finding.RatingLow, "3.0.9-1", "3.0.14-1~deb12u1"),
			mkFinding("CVE-2024-0003", zlib, finding.RatingCritical),
			mkFinding("GHSA-xxxx", lodash, finding.RatingHigh, "4.17.21"),
		},
	}
}

func TestMake(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *report.ScanReport
		sel  Selection
		want *Plan
	}{
		{
			name: "all fixable findings",
			rep:  debianReport(),
			want: &Plan{Image: "registry.example/app:1", Digest: "sha256:aaaa", OS: "debian 12", Manager: ManagerApt, Mode: ModeFindings,
				Items: []Item{
					{Package: "libssl3", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2",
						Target: "3.0.14-1~deb12u1", Findings: []string{"CVE-2024-0001", "CVE-2024-0002"}, Severity: "HIGH"},
					{Package: "openssl", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2",
						Target: "3.0.13-1~deb12u1", Findings: []string{"CVE-2024-0001"}, Severity: "HIGH"},
				},
				Skipped: []Skipped{
					{ID: "GHSA-xxxx", Package: "lodash", Version: "4.17.20", Reason: "npm package: not an OS package, rebuild the application with a fixed version"},
					{ID: "CVE-2024-0003", Package: "zlib1g", Version: "1:1.2.13.dfsg-1", Reason: "no fixed version yet"},
				},
			},
		},
		{
			name: "high and above leaves out the low finding's higher target",
			rep:  debianReport(),
			sel:  Selection{MinSeverity: "high"},
			want: &Plan{Image: "registry.example/app:1", Digest: "sha256:aaaa", OS: "debian 12", Manager: ManagerApt, Mode: ModeFindings,
				Items: []Item{
					{Package: "libssl3", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2",
						Target: "3.0.13-1~deb12u1", Findings: []string{"CVE-2024-0001"}, Severity: "HIGH"},
					{Package: "openssl", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2",
						Target: "3.0.13-1~deb12u1", Findings: []string{"CVE-2024-0001"}, Severity: "HIGH"},
				},
				Skipped: []Skipped{
					{ID: "GHSA-xxxx", Package: "lodash", Version: "4.17.20", Reason: "npm package: not an OS package, rebuild the application with a fixed version"},
					{ID: "CVE-2024-0003", Package: "zlib1g", Version: "1:1.2.13.dfsg-1", Reason: "no fixed version yet"},
				},
			},
		},
		{
			name: "ids, case-insensitive, with one unknown",
			rep:  debianReport(),
			sel:  Selection{IDs: []string{"cve-2024-0002", "CVE-2099-9999"}},
			want: &Plan{Image: "registry.example/app:1", Digest: "sha256:aaaa", OS: "debian 12", Manager: ManagerApt, Mode: ModeFindings,
				Items: []Item{
					{Package: "libssl3", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2",
						Target: "3.0.14-1~deb12u1", Findings: []string{"CVE-2024-0002"}, Severity: "LOW"},
				},
				UnknownIDs: []string{"CVE-2099-9999"},
			},
		},
		{
			name: "id given as an alias",
			rep: func() *report.ScanReport {
				r := debianReport()
				r.Findings[3].Aliases = []string{"DSA-5555-1"}
				return r
			}(),
			sel: Selection{IDs: []string{"DSA-5555-1"}},
			want: &Plan{Image: "registry.example/app:1", Digest: "sha256:aaaa", OS: "debian 12", Manager: ManagerApt, Mode: ModeFindings, Items: []Item{},
				Skipped: []Skipped{{ID: "CVE-2024-0003", Package: "zlib1g", Version: "1:1.2.13.dfsg-1", Reason: "no fixed version yet"}}},
		},
		{
			name: "all updates lists every OS package once",
			rep:  debianReport(),
			sel:  Selection{AllUpdates: true},
			want: &Plan{Image: "registry.example/app:1", Digest: "sha256:aaaa", OS: "debian 12", Manager: ManagerApt, Mode: ModeAllUpdates,
				Items: []Item{
					{Package: "libssl3", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2"},
					{Package: "openssl", Arch: "amd64", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2"},
					{Package: "zlib1g", Arch: "amd64", Installed: "1:1.2.13.dfsg-1", Source: "zlib", SourceVersion: "1:1.2.13.dfsg-1"},
				},
			},
		},
		{
			name: "distroless: dpkg status.d",
			rep: &report.ScanReport{
				Inventory: &inventory.Inventory{OS: &inventory.OS{ID: "debian", VersionID: "12"}, Packages: []inventory.Package{
					{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status.d/libssl3"},
				}},
				Findings: []finding.Finding{mkFinding("CVE-2024-0001", inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb,
					SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status.d/libssl3"}, finding.RatingMedium, "3.0.13-1~deb12u1")},
			},
			want: &Plan{OS: "debian 12", Manager: ManagerDpkgStatusD, Mode: ModeFindings, Items: []Item{
				{Package: "libssl3", Installed: "3.0.11-1~deb12u2", Source: "openssl", SourceVersion: "3.0.11-1~deb12u2", Target: "3.0.13-1~deb12u1",
					Findings: []string{"CVE-2024-0001"}, Severity: "MEDIUM"},
			}},
		},
		{
			name: "alpine",
			rep: &report.ScanReport{Inventory: &inventory.Inventory{OS: &inventory.OS{ID: "alpine", VersionID: "3.20.3"}, Packages: []inventory.Package{
				{Name: "musl", Version: "1.2.5-r0", Type: inventory.TypeAPK, Path: "lib/apk/db/installed"}}}},
			want: &Plan{OS: "alpine 3.20.3", Manager: ManagerApk, Mode: ModeFindings, Items: []Item{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Make(tc.rep, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("plan (-want +got):\n%s", d)
			}
		})
	}
}

func TestMakeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		rep  *report.ScanReport
		sel  Selection
		want string
	}{
		{"no inventory", &report.ScanReport{}, Selection{}, "patch plan: the scan has no inventory"},
		{"bad severity", debianReport(), Selection{MinSeverity: "urgent"}, `severity "urgent": want one of critical, high, medium, low, none, unknown`},
		{"all updates with a filter", debianReport(), Selection{AllUpdates: true, IDs: []string{"CVE-1"}},
			"all-updates selects every package with an update: it cannot be combined with a severity or id filter"},
		{"no OS", &report.ScanReport{Inventory: &inventory.Inventory{Packages: []inventory.Package{lodash}}}, Selection{},
			"no operating system detected in the image (no os-release): only OS packages can be patched in place"},
		{"no package database", &report.ScanReport{Inventory: &inventory.Inventory{OS: &inventory.OS{ID: "debian"}, Packages: []inventory.Package{lodash}}}, Selection{},
			"debian image has no dpkg, apk or rpm package database: nothing to patch in place"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Make(tc.rep, tc.sel)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteGolden(t *testing.T) {
	p, err := Make(debianReport(), Selection{IDs: []string{"CVE-2024-0001", "CVE-2024-0003", "CVE-2099-1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, p, format); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "plan."+format), b.Bytes())
		})
	}
	if err := Write(&bytes.Buffer{}, p, "xml"); err == nil {
		t.Error("format xml: no error")
	}
}
