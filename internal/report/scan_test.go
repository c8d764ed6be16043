package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/owenrumney/go-sarif/v2/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
)

// cvss scores a real advisory's vector with the matcher's own parser, so
// that the fixture carries the scores drydock would compute.
func cvss(t testing.TB, vector string) finding.Severity {
	t.Helper()
	s, err := finding.ParseCVSS(vector)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixtureScanReport is the fixture image with vulnerable packages. IDs,
// aliases, versions, fixes and vectors are those of the real OSV records
// (../../../shared/vulndata: Go, crates.io and PyPI exports, the GHSA
// samples, the Debian security tracker for bookworm).
func fixtureScanReport(t testing.TB) *ScanReport {
	t.Helper()
	inv := fixtureInventory()
	deb := func(name, version, src string) inventory.Package {
		return inventory.Package{
			Name: name, Version: version, Type: inventory.TypeDeb, Arch: "amd64", SourceName: src, SourceVersion: version,
			Namespace: "debian", Path: "var/lib/dpkg/status", Layer: layerBase, LayerIndex: 0, Origin: inventory.OriginBase,
		}
	}
	app := func(typ, ns, name, version, path string) inventory.Package {
		return inventory.Package{
			Name: name, Namespace: ns, Version: version, Type: typ,
			Path: path, Layer: layerApp, LayerIndex: 1, Origin: inventory.OriginApp,
		}
	}
	inv.Packages = []inventory.Package{
		deb("openssh-server", "1:9.2p1-2+deb12u2", "openssh"),
		deb("libssl3", "3.0.11-1~deb12u2", "openssl"),
		deb("apt", "2.6.1", "apt"),
		deb("libexpat1", "2.5.0-1", "expat"),
		deb("libc6", "2.36-9+deb12u1", "glibc"),
		app(inventory.TypeGolang, "", "golang.org/x/text", "v0.3.5", "app/bin/server"),
		app(inventory.TypeCargo, "", "smallvec", "0.6.2", "app/bin/indexer"),
		app(inventory.TypeNPM, "", "tough-cookie", "4.0.0", "app/node_modules/tough-cookie/package.json"),
		app(inventory.TypeNPM, "", "semver", "7.5.1", "app/node_modules/semver/package.json"),
		app(inventory.TypeMaven, "com.google.guava", "guava", "31.1-jre", "app/lib/guava-31.1-jre.jar"),
		app(inventory.TypePyPI, "", "requests", "2.28.1", "app/venv/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA"),
	}
	inventory.AssignPURLs(inv)
	pkg := func(name string) inventory.Package {
		for _, p := range inv.Packages {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("fixture has no package %s", name)
		return inventory.Package{}
	}
	mkFinding := func(id string, aliases []string, summary, pkgName, eco string, fixed []string, sev finding.Severity) finding.Finding {
		p := pkg(pkgName)
		ver := p.Version
		if p.SourceVersion != "" {
			ver = p.SourceVersion
		}
		return finding.Finding{
			ID: id, Aliases: aliases, Summary: summary, Package: p, Ecosystem: eco, InstalledVersion: ver,
			FixedVersions: fixed, Severity: sev, Layer: p.Layer, FixPath: string(p.Origin), DataSource: id,
		}
	}
	// The record of the same CVE rated it, not the distribution's.
	fromAlias := func(s finding.Severity, id string) finding.Severity {
		s.From = id
		return s
	}
	debianRating := func(r string) finding.Severity {
		return finding.Severity{Rating: r, Source: finding.SourceDebianUrgency}
	}

	// Given in no particular order: formatters sort.
	findings := []finding.Finding{
		mkFinding("GO-2021-0113", []string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"}, "Out-of-bounds read in golang.org/x/text/language",
			"golang.org/x/text", "Go", []string{"0.3.7"}, finding.Severity{Rating: finding.RatingUnknown}),
		mkFinding("DEBIAN-CVE-2024-0727", []string{"CVE-2024-0727"}, "", "libssl3", "Debian:12",
			[]string{"3.0.13-1~deb12u1"}, debianRating(finding.RatingLow)),
		mkFinding("RUSTSEC-2018-0003", []string{"CVE-2018-20991", "GHSA-rxr4-x558-x7hw"}, "Possible double free during unwinding in SmallVec::insert_many",
			"smallvec", "crates.io", []string{"0.6.3"}, cvss(t, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")),
		mkFinding("GHSA-72xf-g2v4-qvf3", []string{"CVE-2023-26136"}, "tough-cookie Prototype Pollution vulnerability",
			"tough-cookie", "npm", []string{"4.1.3"}, cvss(t, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N")),
		mkFinding("DEBIAN-CVE-2024-6387", []string{"CVE-2024-6387"}, "", "openssh-server", "Debian:12",
			[]string{"1:9.2p1-2+deb12u3"}, fromAlias(cvss(t, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"), "CVE-2024-6387")),
		mkFinding("GHSA-7g45-4rm6-3mm3", []string{"CVE-2023-2976"}, "Guava vulnerable to insecure use of temporary directory",
			"guava", "Maven", []string{"32.0.0"}, cvss(t, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")),
		mkFinding("DEBIAN-CVE-2011-3374", []string{"CVE-2011-3374"}, "", "apt", "Debian:12",
			nil, debianRating(finding.RatingLow)),
		mkFinding("PYSEC-2023-74", []string{"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"}, "Unintended leak of Proxy-Authorization header in requests",
			"requests", "PyPI", []string{"2.31.0"}, cvss(t, "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N")),
	}
	return &ScanReport{
		Inventory: inv,
		Findings:  findings,
		Suppressed: []Suppressed{
			{
				Finding: mkFinding("DEBIAN-CVE-2023-52425", []string{"CVE-2023-52425"}, "", "libexpat1", "Debian:12",
					[]string{"2.5.0-1+deb12u2"}, debianRating(finding.RatingMedium)),
				Reason: "expat only parses our own configuration files", Source: SuppressedIgnoreFile,
				Statement: ".drydockignore: DEBIAN-CVE-2023-52425",
			},
			{
				Finding: mkFinding("DEBIAN-CVE-2023-4911", []string{"CVE-2023-4911"}, "", "libc6", "Debian:12",
					[]string{"2.36-9+deb12u3"}, cvss(t, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H")),
				Reason: "vulnerable_code_cannot_be_controlled_by_adversary", Source: SuppressedVEX,
				Statement: "vex/app.openvex.json: the image has no setuid binaries",
			},
		},
		Expired: []ExpiredIgnore{{
			ID: "GHSA-c2qf-rxjj-qqgw", Package: "semver", Reason: "waiting for the upstream bump",
			// As package suppress stores a date-only "2025-02-28": the end
			// of that day.
			Expires: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		}},
		DB: DBInfo{
			Path:      "/var/cache/drydock/vulndb.sqlite",
			UpdatedAt: time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC),
			Sources:   []string{"Debian", "Go", "Maven", "PyPI", "crates.io", "npm"},
			Age:       fixedClock().Sub(time.Date(2025, 3, 5, 2, 0, 0, 0, time.UTC)),
			Stale:     true,
		},
		Problems: append(slices.Clone(inv.Problems), inventory.Problem{
			Stage: "match", Layer: layerApp, Path: "app/lib/legacy.jar",
			Message: `maven package legacy: version "1.0 final" does not parse in Maven: invalid version`,
		}),
	}
}

func renderScan(t testing.TB, format string, opts Options, r *ScanReport) []byte {
	t.Helper()
	f, err := Scan(format, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Format(&buf, r); err != nil {
		t.Fatalf("Format(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestScanGolden(t *testing.T) {
	color := testOptions
	color.Color = true
	tests := []struct {
		format, golden string
		opts           Options
	}{
		{"table", "scan-table.golden", testOptions},
		{"table", "scan-table-color.golden", color},
		{"table", "scan-table-details.golden", Options{ToolName: testOptions.ToolName, ToolVersion: testOptions.ToolVersion, Now: testOptions.Now, Details: true}},
		{"json", "scan-json.golden", testOptions},
		{"sarif", "scan-sarif.golden", testOptions},
		{"cyclonedx", "scan-cyclonedx.golden", testOptions},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := renderScan(t, tt.format, tt.opts, fixtureScanReport(t))
			path := filepath.Join("testdata", "golden", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s output differs from %s (-want +got):\n%s", tt.format, path, diff)
			}
		})
	}
}

func TestScanRegistry(t *testing.T) {
	if diff := cmp.Diff([]string{"cyclonedx", "json", "sarif", "table"}, ScanFormats()); diff != "" {
		t.Errorf("ScanFormats() (-want +got):\n%s", diff)
	}
	_, err := Scan("spdx", Options{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Scan(spdx) error = %v, want ErrUnknownFormat", err)
	}
}

// Reports are diffed, uploaded and stored: the same inputs must give the
// same bytes, whatever order the findings came in.
func TestScanDeterministic(t *testing.T) {
	for _, format := range ScanFormats() {
		a := renderScan(t, format, testOptions, fixtureScanReport(t))
		r := fixtureScanReport(t)
		slices.Reverse(r.Findings)
		b := renderScan(t, format, testOptions, r)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: output depends on the order of the findings", format)
		}
	}
}

func TestScanFormatDoesNotModifyReport(t *testing.T) {
	for _, format := range ScanFormats() {
		r := fixtureScanReport(t)
		r.Inventory.Packages[0].PURL = ""
		want := fixtureScanReport(t)
		want.Inventory.Packages[0].PURL = ""
		renderScan(t, format, testOptions, r)
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("%s modified the report (-want +got):\n%s", format, diff)
		}
	}
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestScanTableColorKeepsAlignment(t *testing.T) {
	plain := renderScan(t, "table", testOptions, fixtureScanReport(t))
	opts := testOptions
	opts.Color = true
	colored := renderScan(t, "table", opts, fixtureScanReport(t))
	if bytes.Equal(plain, colored) {
		t.Fatal("Color had no effect")
	}
	if diff := cmp.Diff(string(plain), string(ansiEscape.ReplaceAll(colored, nil))); diff != "" {
		t.Errorf("colored table without escapes differs from plain table (-plain +stripped):\n%s", diff)
	}
}

func TestScanTable(t *testing.T) {
	tests := []struct {
		name string
		r    *ScanReport
		want string
	}{
		{
			name: "clean rootfs, nothing known about the database",
			r:    &ScanReport{Inventory: &inventory.Inventory{Source: inventory.Source{Kind: "rootfs", Ref: "/srv/root"}}},
			want: "Image:    /srv/root\n\nNo vulnerabilities found.\n",
		},
		{
			name: "nil inventory, stale database, problems only",
			r: &ScanReport{
				DB:       DBInfo{Age: 50 * time.Hour, Stale: true},
				Problems: []inventory.Problem{{Stage: "layer", Layer: layerApp, Message: "unexpected EOF"}},
			},
			want: "DB:       2d2h old\n" +
				"WARNING:  the vulnerability database is stale (2d2h old); advisories published since are missing\n\n" +
				"No vulnerabilities found.\n\nProblems:\n  layer layer a3f09c81b2d4: unexpected EOF\n",
		},
		{
			name: "one finding without layer, fix path or aliases; unknown suppression source",
			r: &ScanReport{
				Findings: []finding.Finding{{
					ID: "GHSA-c2qf-rxjj-qqgw", Package: inventory.Package{Name: "semver", Version: "7.5.1", Type: inventory.TypeNPM},
					FixedVersions: []string{"7.5.2"}, Severity: finding.Severity{Rating: "BOGUS"},
				}},
				Suppressed: []Suppressed{{Source: "policy"}, {Source: SuppressedIgnoreUnfixed}},
			},
			want: "1 vulnerability (CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, UNKNOWN 1), 1 fixable\n\n" +
				"UNKNOWN (1)\n" +
				"ID                   ALIASES  PACKAGE  INSTALLED  FIXED  FIX PATH  LAYER\n" +
				"GHSA-c2qf-rxjj-qqgw  -        semver   7.5.1      7.5.2  -         -\n\n" +
				"Suppressed: 2 findings (ignore-unfixed 1, policy 1)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(renderScan(t, "table", testOptions, tt.r))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAliasText(t *testing.T) {
	tests := []struct {
		aliases []string
		want    string
	}{
		{nil, "-"},
		{[]string{"CVE-2024-0727"}, "CVE-2024-0727"},
		{[]string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"}, "CVE-2021-38561 +1"},
		{[]string{"CVE-2023-1", "CVE-2023-2"}, "CVE-2023-1, CVE-2023-2"},
		{[]string{"CVE-2023-1", "CVE-2023-2", "CVE-2023-3", "DSA-5724-1"}, "CVE-2023-1, CVE-2023-2 +2"},
		{[]string{"GHSA-ppp9-7jff-5vj2"}, "GHSA-ppp9-7jff-5vj2"},
		{[]string{"GHSA-ppp9-7jff-5vj2", "PYSEC-2021-1"}, "GHSA-ppp9-7jff-5vj2 +1"},
	}
	for _, tt := range tests {
		if got := aliasText(finding.Finding{Aliases: tt.aliases}); got != tt.want {
			t.Errorf("aliasText(%q) = %q, want %q", tt.aliases, got, tt.want)
		}
	}
}

func TestSourceOf(t *testing.T) {
	tests := []struct {
		id   string
		want advisorySource
	}{
		{"CVE-2024-6387", advisorySource{"NVD", "https://nvd.nist.gov/vuln/detail/CVE-2024-6387"}},
		{"GHSA-72xf-g2v4-qvf3", advisorySource{"GitHub", "https://github.com/advisories/GHSA-72xf-g2v4-qvf3"}},
		{"GO-2021-0113", advisorySource{"Go", "https://pkg.go.dev/vuln/GO-2021-0113"}},
		{"PYSEC-2023-74", advisorySource{"PyPA", "https://osv.dev/vulnerability/PYSEC-2023-74"}},
		{"RUSTSEC-2018-0003", advisorySource{"RustSec", "https://rustsec.org/advisories/RUSTSEC-2018-0003.html"}},
		{"DEBIAN-CVE-2024-0727", advisorySource{"Debian", "https://osv.dev/vulnerability/DEBIAN-CVE-2024-0727"}},
		{"DSA-5724-1", advisorySource{"Debian", "https://osv.dev/vulnerability/DSA-5724-1"}},
		{"USN-6859-1", advisorySource{"Ubuntu", "https://ubuntu.com/security/notices/USN-6859-1"}},
		{"ALSA-2024:1234", advisorySource{"AlmaLinux", "https://osv.dev/vulnerability/ALSA-2024:1234"}},
		{"OSV-2020-111", advisorySource{"OSV", "https://osv.dev/vulnerability/OSV-2020-111"}},
		{"weird/id", advisorySource{"OSV", "https://osv.dev/vulnerability/weird%2Fid"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, sourceOf(tt.id)); diff != "" {
			t.Errorf("sourceOf(%q) (-want +got):\n%s", tt.id, diff)
		}
	}
}

func TestSARIFSeverity(t *testing.T) {
	tests := []struct {
		sev        finding.Severity
		level, sec string
	}{
		{finding.Severity{Rating: finding.RatingCritical, Score: 9.8}, "error", "9.8"},
		{finding.Severity{Rating: finding.RatingHigh, Score: 8.1}, "error", "8.1"},
		{finding.Severity{Rating: finding.RatingHigh, Source: finding.SourceDebianUrgency}, "error", "8.0"},
		{finding.Severity{Rating: finding.RatingMedium, Score: 4.0}, "warning", "4.0"},
		{finding.Severity{Rating: finding.RatingLow, Source: finding.SourceGHSA}, "note", "2.0"},
		{finding.Severity{Rating: finding.RatingNone}, "note", "0.0"},
		{finding.Severity{Rating: finding.RatingUnknown}, "warning", ""},
		{finding.Severity{}, "warning", ""},
	}
	for _, tt := range tests {
		if got := sarifLevel(tt.sev.Rating); got != tt.level {
			t.Errorf("sarifLevel(%+v) = %q, want %q", tt.sev, got, tt.level)
		}
		if got := securitySeverity(tt.sev); got != tt.sec {
			t.Errorf("securitySeverity(%+v) = %q, want %q", tt.sev, got, tt.sec)
		}
	}
}

func TestArtifactURI(t *testing.T) {
	tests := map[string]string{
		"var/lib/dpkg/status":                         "var/lib/dpkg/status",
		"/usr/lib/os-release":                         "usr/lib/os-release",
		"app/node_modules/@angular/core/package.json": "app/node_modules/@angular/core/package.json",
		"opt/my app/lib 100%.jar":                     "opt/my%20app/lib%20100%25.jar",
		"c:weird/file":                                "./c:weird/file",
		"":                                            ".",
	}
	for in, want := range tests {
		if got := artifactURI(in); got != want {
			t.Errorf("artifactURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// scanReports are the fixture plus reports at the edges.
func scanReports(t testing.TB) map[string]*ScanReport {
	awkward := fixtureScanReport(t)
	odd := awkward.Findings[0]
	odd.ID = "CVE-2025-0001"
	odd.Aliases = nil
	odd.Summary = "Summary with <html> & \"quotes\" | pipes *stars*\nand a newline"
	odd.Package.Path = "opt/my app/lib 100%.jar"
	odd.FixedVersions = nil
	odd.Severity = finding.Severity{Rating: finding.RatingNone}
	nopath := awkward.Findings[1]
	nopath.ID = "GHSA-xxxx-yyyy-zzzz"
	nopath.Package.Path = ""
	nopath.Package.PURL = "" // not in the inventory under this key: affects falls back to nothing
	nopath.Package.Name = "ghost"
	awkward.Findings = append(awkward.Findings, odd, nopath)

	rootfs := fixtureScanReport(t)
	rootfs.Inventory.Source = inventory.Source{Kind: "rootfs", Ref: "/srv/rootfs"}
	rootfs.Inventory.OS = nil
	rootfs.DB = DBInfo{}

	return map[string]*ScanReport{
		"fixture": fixtureScanReport(t),
		"empty":   {Inventory: &inventory.Inventory{Source: inventory.Source{Kind: "registry", Ref: "example/empty@sha256:00", Digest: "sha256:" + strings.Repeat("0", 64)}}},
		"nil":     {},
		"rootfs":  rootfs,
		"awkward": awkward,
	}
}

func sarifSchema(t testing.TB) *jsonschema.Schema {
	return compileSchema(t, sarifSchemaURI, map[string]string{sarifSchemaURI: "sarif-schema-2.1.0.json"})
}

func TestSARIFSchema(t *testing.T) {
	schema := sarifSchema(t)
	for name, r := range scanReports(t) {
		t.Run(name, func(t *testing.T) {
			out := renderScan(t, "sarif", testOptions, r)
			if err := validate(t, schema, out); err != nil {
				t.Errorf("SARIF output does not validate against sarif-schema-2.1.0.json:\n%v\n%s", err, out)
			}
			log, err := sarif.FromBytes(out)
			if err != nil {
				t.Fatalf("go-sarif cannot read the output: %v", err)
			}
			if len(log.Runs) != 1 {
				t.Fatalf("%d runs, want 1", len(log.Runs))
			}
			run := log.Runs[0]
			if got := run.Tool.Driver.Name; got != "drydock" {
				t.Errorf("driver name %q", got)
			}
			if run.Tool.Driver.InformationURI == nil || run.Tool.Driver.Version == nil {
				t.Error("driver lacks informationUri or version")
			}
			rules := run.Tool.Driver.Rules
			ids := map[string]bool{}
			for _, rule := range rules {
				if ids[rule.ID] {
					t.Errorf("duplicate rule %s", rule.ID)
				}
				ids[rule.ID] = true
				if rule.ShortDescription == nil || rule.ShortDescription.Text == nil || *rule.ShortDescription.Text == "" {
					t.Errorf("rule %s: no shortDescription", rule.ID)
				}
				if rule.Help == nil || rule.Help.Text == nil {
					t.Errorf("rule %s: no help text", rule.ID)
				}
				tags, _ := rule.Properties["tags"].([]any)
				if len(tags) != 3 || tags[0] != "security" || tags[1] != "vulnerability" {
					t.Errorf("rule %s: tags %v", rule.ID, rule.Properties["tags"])
				}
			}
			if len(run.Results) != len(r.Findings) {
				t.Errorf("%d results for %d findings", len(run.Results), len(r.Findings))
			}
			// GitHub's own checks beyond the schema: every result names a
			// rule that exists at its index, and has a physical location.
			for i, res := range run.Results {
				if res.RuleID == nil || res.RuleIndex == nil || int(*res.RuleIndex) >= len(rules) || rules[*res.RuleIndex].ID != *res.RuleID {
					t.Errorf("result %d: ruleId/ruleIndex do not point at its rule", i)
				}
				if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil ||
					res.Locations[0].PhysicalLocation.ArtifactLocation == nil || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == nil ||
					res.Locations[0].PhysicalLocation.Region == nil {
					t.Errorf("result %d: no physical location with a region", i)
				}
			}
		})
	}
}

func TestSARIFFixture(t *testing.T) {
	log, err := sarif.FromBytes(renderScan(t, "sarif", testOptions, fixtureScanReport(t)))
	if err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	type brief struct {
		Rule, Level, URI, SecSev string
	}
	var got []brief
	sev := map[string]string{}
	for _, rule := range run.Tool.Driver.Rules {
		s, _ := rule.Properties["security-severity"].(string)
		sev[rule.ID] = s
	}
	for _, res := range run.Results {
		got = append(got, brief{*res.RuleID, *res.Level, *res.Locations[0].PhysicalLocation.ArtifactLocation.URI, sev[*res.RuleID]})
	}
	want := []brief{
		{"RUSTSEC-2018-0003", "error", "app/bin/indexer", "9.8"},
		{"DEBIAN-CVE-2024-6387", "error", "var/lib/dpkg/status", "8.1"},
		{"GHSA-72xf-g2v4-qvf3", "warning", "app/node_modules/tough-cookie/package.json", "6.5"},
		{"PYSEC-2023-74", "warning", "app/venv/lib/python3.11/site-packages/requests-2.28.1.dist-info/METADATA", "6.1"},
		{"GHSA-7g45-4rm6-3mm3", "warning", "app/lib/guava-31.1-jre.jar", "5.5"},
		{"DEBIAN-CVE-2011-3374", "note", "var/lib/dpkg/status", "2.0"},
		{"DEBIAN-CVE-2024-0727", "note", "var/lib/dpkg/status", "2.0"},
		{"GO-2021-0113", "warning", "app/bin/server", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	inv := run.Invocations[0]
	if len(inv.ToolExecutionNotifications) != 2 || len(inv.ToolConfigurationNotifications) != 2 {
		t.Errorf("want 2 problem and 2 configuration notifications (stale DB, expired ignore), got %d and %d",
			len(inv.ToolExecutionNotifications), len(inv.ToolConfigurationNotifications))
	}
	if n, _ := run.Properties["suppressed"].(float64); n != 2 {
		t.Errorf("run property suppressed = %v, want 2", run.Properties["suppressed"])
	}
}

func TestScanCycloneDXSchema(t *testing.T) {
	schema := cycloneDXSchema(t)
	for name, r := range scanReports(t) {
		t.Run(name, func(t *testing.T) {
			out := renderScan(t, "cyclonedx", testOptions, r)
			if err := validate(t, schema, out); err != nil {
				t.Errorf("CycloneDX scan output does not validate against bom-1.6.schema.json:\n%v\n%s", err, out)
			}
			var bom cdx.BOM
			if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
				t.Fatalf("decode: %v", err)
			}
			refs := map[string]bool{}
			for _, c := range deref(bom.Components) {
				refs[c.BOMRef] = true
			}
			ids := map[string]bool{}
			for _, f := range r.Findings {
				ids[f.ID] = true
			}
			if got := len(deref(bom.Vulnerabilities)); got != len(ids) {
				t.Errorf("%d vulnerabilities for %d advisory ids", got, len(ids))
			}
			for _, v := range deref(bom.Vulnerabilities) {
				for _, a := range deref(v.Affects) {
					if !refs[a.Ref] {
						t.Errorf("%s affects unknown bom-ref %q", v.ID, a.Ref)
					}
				}
			}
		})
	}
}

func TestScanCycloneDXVulnerability(t *testing.T) {
	out := renderScan(t, "cyclonedx", testOptions, fixtureScanReport(t))
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(out), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	var got *cdx.Vulnerability
	for _, v := range deref(bom.Vulnerabilities) {
		if v.ID == "GO-2021-0113" {
			got = &v
		}
	}
	if got == nil {
		t.Fatal("no GO-2021-0113")
	}
	want := cdx.Vulnerability{
		ID:          "GO-2021-0113",
		Source:      &cdx.Source{Name: "Go", URL: "https://pkg.go.dev/vuln/GO-2021-0113"},
		Description: "Out-of-bounds read in golang.org/x/text/language",
		References: &[]cdx.VulnerabilityReference{
			{ID: "CVE-2021-38561", Source: &cdx.Source{Name: "NVD", URL: "https://nvd.nist.gov/vuln/detail/CVE-2021-38561"}},
			{ID: "GHSA-ppp9-7jff-5vj2", Source: &cdx.Source{Name: "GitHub", URL: "https://github.com/advisories/GHSA-ppp9-7jff-5vj2"}},
		},
		Ratings:        &[]cdx.VulnerabilityRating{{Severity: cdx.SeverityUnknown, Method: cdx.ScoringMethodOther}},
		Recommendation: "Upgrade golang.org/x/text to 0.3.7",
		Advisories:     &[]cdx.Advisory{{Title: "GO-2021-0113", URL: "https://pkg.go.dev/vuln/GO-2021-0113"}},
		Affects: &[]cdx.Affects{{Ref: "pkg:golang/golang.org%2Fx%2Ftext@v0.3.5", Range: &[]cdx.AffectedVersions{
			{Version: "v0.3.5", Status: cdx.VulnerabilityStatusAffected},
		}}},
		Properties: &[]cdx.Property{{Name: "drydock:fix-path", Value: "app"}},
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCycloneDXRating(t *testing.T) {
	score := func(f float64) *float64 { return &f }
	tests := []struct {
		in   finding.Severity
		want cdx.VulnerabilityRating
	}{
		{finding.Severity{Rating: "HIGH", Score: 8.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", Source: finding.SourceCVSSv3},
			cdx.VulnerabilityRating{Score: score(8.1), Severity: cdx.SeverityHigh, Method: cdx.ScoringMethodCVSSv31, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		{finding.Severity{Rating: "CRITICAL", Score: 9.8, Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Source: finding.SourceCVSSv3},
			cdx.VulnerabilityRating{Score: score(9.8), Severity: cdx.SeverityCritical, Method: cdx.ScoringMethodCVSSv3, Vector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		{finding.Severity{Rating: "MEDIUM", Score: 5.3, Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N", Source: finding.SourceCVSSv4},
			cdx.VulnerabilityRating{Score: score(5.3), Severity: cdx.SeverityMedium, Method: cdx.ScoringMethodCVSSv4, Vector: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:L/SC:N/SI:N/SA:N"}},
		{finding.Severity{Rating: "LOW", Source: finding.SourceDebianUrgency},
			cdx.VulnerabilityRating{Severity: cdx.SeverityLow, Method: cdx.ScoringMethodOther, Justification: "rated by debian-urgency"}},
		{finding.Severity{Rating: "UNKNOWN"}, cdx.VulnerabilityRating{Severity: cdx.SeverityUnknown, Method: cdx.ScoringMethodOther}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, cdxRating(tt.in)); diff != "" {
			t.Errorf("cdxRating(%+v) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestScanJSON(t *testing.T) {
	r := fixtureScanReport(t)
	var doc struct {
		SchemaVersion  int                 `json:"schemaVersion"`
		Source         inventory.Source    `json:"source"`
		OS             *inventory.OS       `json:"os"`
		Findings       []finding.Finding   `json:"findings"`
		Suppressed     []Suppressed        `json:"suppressed"`
		ExpiredIgnores []ExpiredIgnore     `json:"expiredIgnores"`
		DB             map[string]any      `json:"db"`
		Problems       []inventory.Problem `json:"problems"`
		Summary        scanSummary         `json:"summary"`
	}
	if err := json.Unmarshal(renderScan(t, "json", testOptions, r), &doc); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedFindings(r.Findings), doc.Findings); diff != "" {
		t.Errorf("findings did not round-trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(r.Suppressed, doc.Suppressed); diff != "" {
		t.Errorf("suppressed did not round-trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(r.Expired, doc.ExpiredIgnores); diff != "" {
		t.Errorf("expired ignores did not round-trip (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(r.Problems, doc.Problems); diff != "" {
		t.Errorf("problems did not round-trip (-want +got):\n%s", diff)
	}
	wantSummary := scanSummary{
		BySeverity: map[string]int{"CRITICAL": 1, "HIGH": 1, "MEDIUM": 3, "LOW": 2, "NONE": 0, "UNKNOWN": 1},
		Fixable:    7, Total: 8,
	}
	if diff := cmp.Diff(wantSummary, doc.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if doc.DB["ageSeconds"] != float64(r.DB.Age/time.Second) || doc.DB["stale"] != true || doc.DB["updatedAt"] != "2025-03-05T02:00:00Z" {
		t.Errorf("db = %v", doc.DB)
	}

	// A clean scan has empty lists, not nulls, and every rating counted.
	empty := string(renderScan(t, "json", testOptions, &ScanReport{}))
	for _, key := range []string{`"findings": []`, `"suppressed": []`, `"expiredIgnores": []`, `"problems": []`, `"sources": []`, `"UNKNOWN": 0`} {
		if !strings.Contains(empty, key) {
			t.Errorf("empty report lacks %s:\n%s", key, empty)
		}
	}
}

// The validators must be able to fail, or the schema tests prove nothing.
func TestScanSchemasRejectInvalid(t *testing.T) {
	mutate := func(doc []byte, f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	sarifOut := renderScan(t, "sarif", testOptions, fixtureScanReport(t))
	cdxOut := renderScan(t, "cyclonedx", testOptions, fixtureScanReport(t))
	result := func(m map[string]any) map[string]any {
		return m["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name   string
		schema *jsonschema.Schema
		doc    []byte
	}{
		{"sarif level fatal", sarifSchema(t), mutate(sarifOut, func(m map[string]any) { result(m)["level"] = "fatal" })},
		{"sarif result without message", sarifSchema(t), mutate(sarifOut, func(m map[string]any) { delete(result(m), "message") })},
		{"sarif region startLine 0", sarifSchema(t), mutate(sarifOut, func(m map[string]any) {
			loc := result(m)["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
			loc["region"] = map[string]any{"startLine": 0}
		})},
		{"sarif version 2.0", sarifSchema(t), mutate(sarifOut, func(m map[string]any) { m["version"] = "2.0.0" })},
		{"cyclonedx rating severity", cycloneDXSchema(t), mutate(cdxOut, func(m map[string]any) {
			v := m["vulnerabilities"].([]any)[0].(map[string]any)
			v["ratings"].([]any)[0].(map[string]any)["severity"] = "CRITICAL"
		})},
		{"cyclonedx affects without ref", cycloneDXSchema(t), mutate(cdxOut, func(m map[string]any) {
			v := m["vulnerabilities"].([]any)[0].(map[string]any)
			delete(v["affects"].([]any)[0].(map[string]any), "ref")
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validate(t, tt.schema, tt.doc); err == nil {
				t.Error("invalid document validated")
			}
		})
	}
}

func TestExpiredText(t *testing.T) {
	tests := []struct {
		in   ExpiredIgnore
		want string
	}{
		{ExpiredIgnore{ID: "CVE-2024-0727"}, "CVE-2024-0727"},
		{ExpiredIgnore{ID: "GHSA-c2qf-rxjj-qqgw", Package: "semver", Reason: "bump pending", Expires: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
			"GHSA-c2qf-rxjj-qqgw (semver) expired at the end of 2025-02-28: bump pending"},
		{ExpiredIgnore{ID: "CVE-2024-0727", Expires: time.Date(2025, 3, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))},
			"CVE-2024-0727 expired 2025-03-01 11:30 UTC"},
	}
	for _, tt := range tests {
		if got := expiredText(tt.in); got != tt.want {
			t.Errorf("expiredText(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDBAge(t *testing.T) {
	tests := map[time.Duration]string{
		-time.Hour:                        "0m",
		0:                                 "0m",
		59 * time.Second:                  "0m",
		40 * time.Minute:                  "40m",
		5*time.Hour + 12*time.Minute:      "5h12m",
		9*24*time.Hour + 7*time.Hour + 26: "9d7h",
	}
	for in, want := range tests {
		if got := dbAge(in); got != want {
			t.Errorf("dbAge(%v) = %q, want %q", in, got, want)
		}
	}
}

// benchScanReport spreads 2,000 findings over the packages of the SBOM
// benchmark inventory, with every severity, some unfixed and a few shared
// advisory ids, the shape of a large unpatched image.
func benchScanReport(t testing.TB, n int) *ScanReport {
	inv := benchInventory(n / 2)
	ratings := []finding.Severity{
		{Rating: finding.RatingCritical, Score: 9.8, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Source: finding.SourceCVSSv3},
		{Rating: finding.RatingHigh, Score: 7.5, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Source: finding.SourceCVSSv3},
		{Rating: finding.RatingMedium, Source: finding.SourceDebianUrgency},
		{Rating: finding.RatingLow, Source: finding.SourceGHSA},
		{Rating: finding.RatingUnknown},
	}
	r := &ScanReport{Inventory: inv, DB: DBInfo{UpdatedAt: fixedClock().Add(-time.Hour), Age: time.Hour}}
	for i := range n {
		p := inv.Packages[i%len(inv.Packages)]
		f := finding.Finding{
			ID:               fmt.Sprintf("GHSA-%04d-bench", i%1500),
			Aliases:          []string{fmt.Sprintf("CVE-2024-%05d", i%1500)},
			Summary:          fmt.Sprintf("Benchmark vulnerability %d in %s", i, p.Name),
			Package:          p,
			InstalledVersion: p.Version,
			Severity:         ratings[i%len(ratings)],
			Layer:            p.Layer,
			FixPath:          string(p.Origin),
		}
		if i%3 != 0 {
			f.FixedVersions = []string{"99.0.0"}
		}
		r.Findings = append(r.Findings, f)
	}
	return r
}

func BenchmarkScanFormat(b *testing.B) {
	r := benchScanReport(b, 2000)
	for _, format := range ScanFormats() {
		b.Run(format, func(b *testing.B) {
			f, err := Scan(format, testOptions)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.Format(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestDBTextIsOneShortLine(t *testing.T) {
	var srcs []string
	for _, e := range []string{"AlmaLinux", "Debian", "Go", "Maven", "PyPI", "crates.io", "npm", "RubyGems", "NuGet"} {
		srcs = append(srcs, e+": /home/ci/mirror/osv/"+e+"/all.zip")
	}
	got := dbText(DBInfo{Sources: srcs, Age: 50 * time.Hour})
	want := "2d2h old; AlmaLinux, Debian, Go, Maven, PyPI, crates.io, … (9 ecosystems)"
	if got != want {
		t.Errorf("dbText = %q, want %q", got, want)
	}
}
