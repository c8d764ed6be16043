package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/testenv"
)

// TestScanDebianTrackerLists imports the Debian security tracker's lists
// (vuln-list-debian layout) and scans the demo image, whose dpkg status has
// libc6 2.36-9+deb12u3 (source glibc) and libssl3 3.0.11-1~deb12u2 (source
// openssl) from the base image.
func TestScanDebianTrackerLists(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	lists := filepath.Join(testenv.VulnData(t), "debian", "security-tracker-annotations")
	out, errOut, code := e.run(t, "db", "import", lists)
	if code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "Debian") {
		t.Errorf("db import output does not name Debian:\n%s", out)
	}

	out, errOut, code = e.run(t, "scan", "--format", "json", "oci:"+layout+":app")
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			ID               string
			Aliases          []string
			Package          struct{ Name string }
			Ecosystem        string
			InstalledVersion string
			FixedVersions    []string
			FixPath          string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan JSON: %v\n%.500s", err, out)
	}
	type finding struct {
		ID, Package, Ecosystem, Installed, FixPath string
		Aliases, Fixed                             []string
	}
	var got []finding
	for _, f := range rep.Findings {
		if strings.HasPrefix(f.ID, "DEBIAN-") {
			got = append(got, finding{f.ID, f.Package.Name, f.Ecosystem, f.InstalledVersion, f.FixPath, f.Aliases, f.FixedVersions})
		}
	}
	// CVE-2024-0727: bookworm's openssl is fixed in 3.0.13-1~deb12u1, above
	// the installed 3.0.11-1~deb12u2. CVE-2023-4911 is not a finding: DSA-5514-1
	// fixed bookworm's glibc in exactly the installed 2.36-9+deb12u3 (the
	// CVE list alone says <unfixed>, which is sid's state). apt, curl,
	// openssh, expat and xz-utils are not installed.
	want := []finding{{
		ID: "DEBIAN-CVE-2024-0727", Package: "libssl3", Ecosystem: "Debian:12", Installed: "3.0.11-1~deb12u2",
		FixPath: "base", Aliases: []string{"CVE-2024-0727"}, Fixed: []string{"3.0.13-1~deb12u1"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Debian findings (-want +got):\n%s", diff)
	}
}
