package suppress

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
)

// appDigest is the image the testdata VEX documents speak about.
const appDigest = "sha256:9a8f3c1e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Findings shaped like the matcher's, with package URLs as the inventory
// writes them.
var (
	fLibc = finding.Finding{ID: "CVE-2023-4911", Aliases: []string{"DSA-5514-1"}, FixedVersions: []string{"2.36-9+deb12u3"},
		Package: inventory.Package{Name: "libc6", Version: "2.36-9+deb12u1", Type: "deb", Namespace: "debian",
			PURL: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12"}}
	fLibcBin = finding.Finding{ID: "CVE-2023-4911", Aliases: []string{"DSA-5514-1"}, FixedVersions: []string{"2.36-9+deb12u3"},
		Package: inventory.Package{Name: "libc-bin", Version: "2.36-9+deb12u1", Type: "deb", Namespace: "debian",
			PURL: "pkg:deb/debian/libc-bin@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12"}}
	fSSH = finding.Finding{ID: "CVE-2024-6387", Aliases: []string{"DSA-5724-1"}, FixedVersions: []string{"1:9.2p1-2+deb12u3"},
		Package: inventory.Package{Name: "openssh-server", Version: "1:9.2p1-2+deb12u2", Type: "deb", Namespace: "debian",
			PURL: "pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u2?arch=amd64&distro=debian-12"}}
	fOpenSSL = finding.Finding{ID: "CVE-2024-5535", // no fix known
		Package: inventory.Package{Name: "openssl", Version: "3.0.13-1~deb12u1", Type: "deb", Namespace: "debian",
			PURL: "pkg:deb/debian/openssl@3.0.13-1~deb12u1?arch=amd64&distro=debian-12"}}
	fLodash = finding.Finding{ID: "GHSA-jf85-cpcp-j695", Aliases: []string{"CVE-2019-10744"}, FixedVersions: []string{"4.17.12"},
		Package: inventory.Package{Name: "lodash", Version: "4.17.11", Type: "npm", PURL: "pkg:npm/lodash@4.17.11"}}
	fBabel = finding.Finding{ID: "GHSA-67hx-6x53-jw92", Aliases: []string{"CVE-2023-45133"}, FixedVersions: []string{"7.23.2"},
		Package: inventory.Package{Name: "traverse", Namespace: "@babel", Version: "7.23.1", Type: "npm", PURL: "pkg:npm/%40babel/traverse@7.23.1"}}
	fText = finding.Finding{ID: "GHSA-69ch-w2m2-3vjp", Aliases: []string{"CVE-2022-32149", "GO-2022-1059"}, FixedVersions: []string{"0.3.8"},
		Package: inventory.Package{Name: "golang.org/x/text", Version: "v0.3.7", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.7"}}
	fNet = finding.Finding{ID: "GHSA-4374-p667-p6c8", Aliases: []string{"CVE-2023-39325", "GO-2023-2102"}, FixedVersions: []string{"0.17.0"},
		Package: inventory.Package{Name: "golang.org/x/net", Version: "v0.15.0", Type: "golang", PURL: "pkg:golang/golang.org/x/net@v0.15.0"}}
	fSetuptools = finding.Finding{ID: "PYSEC-2022-43012", Aliases: []string{"CVE-2022-40897", "GHSA-r9hx-vwmv-q579"}, FixedVersions: []string{"65.5.1"},
		Package: inventory.Package{Name: "setuptools", Version: "65.5.0", Type: "pypi", PURL: "pkg:pypi/setuptools@65.5.0"}}
	fLog4j = finding.Finding{ID: "GHSA-jfh8-c2jp-5v3q", Aliases: []string{"CVE-2021-44228"}, FixedVersions: []string{"2.15.0"},
		Package: inventory.Package{Name: "log4j-core", Namespace: "org.apache.logging.log4j", Version: "2.14.1", Type: "maven",
			PURL: "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}}
	// fNoPURL has no package URL, as an inventory read without
	// AssignPURLs would have; one is built from its fields.
	fNoPURL = finding.Finding{ID: "GHSA-xvch-5gv4-984h", Aliases: []string{"CVE-2021-23337"}, FixedVersions: []string{"4.17.21"},
		Package: inventory.Package{Name: "lodash", Version: "4.17.20", Type: "npm"}}
)

// outcome is Result reduced to what the cases assert: IDs of kept
// findings, "ID package source: reason" of suppressed ones, and the
// indexes of expired entries.
type outcome struct {
	Kept       []string
	Suppressed []string
	Expired    []int
}

func summarize(r Result) outcome {
	o := outcome{}
	for _, f := range r.Kept {
		o.Kept = append(o.Kept, f.ID+" "+f.Package.Name)
	}
	for _, s := range r.Suppressed {
		o.Suppressed = append(o.Suppressed, s.Finding.ID+" "+s.Finding.Package.Name+" "+s.Source+": "+s.Reason)
	}
	for _, e := range r.Expired {
		o.Expired = append(o.Expired, e.Index)
	}
	return o
}

func mustIgnore(t *testing.T, y string) *IgnoreFile {
	t.Helper()
	ig, err := ParseIgnoreFile([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return ig
}

func mustVEX(t *testing.T, paths ...string) []*VEXDocument {
	t.Helper()
	docs, err := LoadVEX(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestApply(t *testing.T) {
	imageOpts := Options{Now: now, ImageDigest: appDigest, ImageName: "ghcr.io/example/app"}
	tests := []struct {
		name     string
		findings []finding.Finding
		ignore   string
		vex      []string
		opts     Options
		want     outcome
	}{
		{
			name:     "nothing to apply keeps everything",
			findings: []finding.Finding{fLibc, fOpenSSL},
			opts:     Options{Now: now},
			want:     outcome{Kept: []string{"CVE-2023-4911 libc6", "CVE-2024-5535 openssl"}},
		},
		{
			name:     "ignore-unfixed",
			findings: []finding.Finding{fLibc, fOpenSSL, fLodash},
			opts:     Options{Now: now, IgnoreUnfixed: true},
			want: outcome{Kept: []string{"CVE-2023-4911 libc6", "GHSA-jf85-cpcp-j695 lodash"},
				Suppressed: []string{"CVE-2024-5535 openssl ignore-unfixed: no fixed version is known"}},
		},
		{
			name:     "id by primary ID, case-insensitive",
			findings: []finding.Finding{fLibc, fSSH},
			ignore:   "ignore:\n  - id: cve-2024-6387\n    reason: sshd not started\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"CVE-2023-4911 libc6"},
				Suppressed: []string{"CVE-2024-6387 openssh-server ignorefile: sshd not started"}},
		},
		{
			name:     "id by alias",
			findings: []finding.Finding{fText, fNet, fLodash},
			ignore:   "ignore:\n  - id: CVE-2022-32149\n    reason: not called\n  - id: GO-2023-2102\n    reason: no HTTP/2 server\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"GHSA-jf85-cpcp-j695 lodash"},
				Suppressed: []string{"GHSA-69ch-w2m2-3vjp golang.org/x/text ignorefile: not called", "GHSA-4374-p667-p6c8 golang.org/x/net ignorefile: no HTTP/2 server"}},
		},
		{
			name:     "package glob on purl",
			findings: []finding.Finding{fLodash, fNoPURL, fBabel, fText},
			ignore:   "ignore:\n  - package: 'pkg:npm/lodash@*'\n    reason: build only\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"GHSA-67hx-6x53-jw92 traverse", "GHSA-69ch-w2m2-3vjp golang.org/x/text"},
				Suppressed: []string{"GHSA-jf85-cpcp-j695 lodash ignorefile: build only", "GHSA-xvch-5gv4-984h lodash ignorefile: build only"}},
		},
		{
			name:     "purl glob without qualifiers or version",
			findings: []finding.Finding{fLibc, fLibcBin, fSSH},
			ignore:   "ignore:\n  - package: 'pkg:deb/debian/libc*'\n    reason: r\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"CVE-2024-6387 openssh-server"},
				Suppressed: []string{"CVE-2023-4911 libc6 ignorefile: r", "CVE-2023-4911 libc-bin ignorefile: r"}},
		},
		{
			name:     "purl glob with decoded scope and version",
			findings: []finding.Finding{fBabel, fLodash, fLibc},
			ignore:   "ignore:\n  - package: 'pkg:npm/@babel/*'\n    reason: r1\n  - package: 'pkg:deb/debian/libc6@2.36-9+*'\n    reason: r2\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"GHSA-jf85-cpcp-j695 lodash"},
				Suppressed: []string{"GHSA-67hx-6x53-jw92 traverse ignorefile: r1", "CVE-2023-4911 libc6 ignorefile: r2"}},
		},
		{
			name:     "'*' stops at '/', '**' spans segments",
			findings: []finding.Finding{fBabel, fLodash, fText},
			ignore:   "ignore:\n  - package: 'pkg:npm/*'\n    reason: r1\n  - package: 'golang.org/**'\n    reason: r2\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"GHSA-67hx-6x53-jw92 traverse"},
				Suppressed: []string{"GHSA-jf85-cpcp-j695 lodash ignorefile: r1", "GHSA-69ch-w2m2-3vjp golang.org/x/text ignorefile: r2"}},
		},
		{
			name:     "package glob on name and namespace/name",
			findings: []finding.Finding{fOpenSSL, fSSH, fText, fNet, fBabel},
			ignore:   "ignore:\n  - package: 'openss*'\n    reason: r1\n  - package: 'golang.org/x/*'\n    reason: r2\n  - package: '@babel/traverse'\n    reason: r3\n",
			opts:     Options{Now: now},
			want: outcome{Suppressed: []string{
				"CVE-2024-5535 openssl ignorefile: r1", "CVE-2024-6387 openssh-server ignorefile: r1",
				"GHSA-69ch-w2m2-3vjp golang.org/x/text ignorefile: r2", "GHSA-4374-p667-p6c8 golang.org/x/net ignorefile: r2",
				"GHSA-67hx-6x53-jw92 traverse ignorefile: r3"}},
		},
		{
			name:     "id and package both must match",
			findings: []finding.Finding{fText, fNet},
			ignore:   "ignore:\n  - id: CVE-2023-39325\n    package: golang.org/x/text\n    reason: wrong package\n  - id: GHSA-69ch-w2m2-3vjp\n    package: golang.org/x/text\n    reason: right\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"GHSA-4374-p667-p6c8 golang.org/x/net"},
				Suppressed: []string{"GHSA-69ch-w2m2-3vjp golang.org/x/text ignorefile: right"}},
		},
		{
			name:     "expired entry stops applying and is reported",
			findings: []finding.Finding{fLibc, fSSH},
			ignore:   "ignore:\n  - id: CVE-2023-4911\n    reason: old waiver\n    expires: 2026-02-28\n  - id: CVE-2024-6387\n    reason: current\n    expires: 2026-03-01\n  - id: CVE-2000-0001\n    reason: gone\n    expires: 2020-01-01\n",
			opts:     Options{Now: now},
			want: outcome{Kept: []string{"CVE-2023-4911 libc6"},
				Suppressed: []string{"CVE-2024-6387 openssh-server ignorefile: current"}, Expired: []int{0, 2}},
		},
		{
			name:     "entry before its expiry applies",
			findings: []finding.Finding{fLibc},
			ignore:   "ignore:\n  - id: CVE-2023-4911\n    reason: r\n    expires: 2026-03-01T12:00:01Z\n",
			opts:     Options{Now: now},
			want:     outcome{Suppressed: []string{"CVE-2023-4911 libc6 ignorefile: r"}},
		},
		{
			name:     "VEX not_affected with image product and subcomponent",
			findings: []finding.Finding{fLibc, fLibcBin},
			vex:      []string{"testdata/vex-image.json"},
			opts:     imageOpts,
			want: outcome{Kept: []string{"CVE-2023-4911 libc-bin"}, // not the listed subcomponent
				Suppressed: []string{"CVE-2023-4911 libc6 vex: not_affected: vulnerable_code_not_in_execute_path: no setuid binaries in the image"}},
		},
		{
			name:     "VEX fixed with registry/repo@digest product and no subcomponents",
			findings: []finding.Finding{fSSH},
			vex:      []string{"testdata/vex-image.json"},
			opts:     imageOpts,
			want:     outcome{Suppressed: []string{"CVE-2024-6387 openssh-server vex: fixed"}},
		},
		{
			name:     "VEX for another image digest does not apply",
			findings: []finding.Finding{fLibc, fSSH},
			vex:      []string{"testdata/vex-image.json", "testdata/vex-other-image.json"},
			opts:     Options{Now: now, ImageDigest: "sha256:1111111111111111111111111111111111111111111111111111111111111111", ImageName: "ghcr.io/example/app"},
			want:     outcome{Kept: []string{"CVE-2023-4911 libc6", "CVE-2024-6387 openssh-server"}},
		},
		{
			name:     "VEX about the image without a digest to compare does not apply",
			findings: []finding.Finding{fLibc, fSSH},
			vex:      []string{"testdata/vex-image.json"},
			opts:     Options{Now: now},
			want:     outcome{Kept: []string{"CVE-2023-4911 libc6", "CVE-2024-6387 openssh-server"}},
		},
		{
			name:     "VEX affected does not suppress",
			findings: []finding.Finding{fLog4j},
			vex:      []string{"testdata/vex-image.json"},
			opts:     imageOpts,
			want:     outcome{Kept: []string{"GHSA-jfh8-c2jp-5v3q log4j-core"}},
		},
		{
			name:     "VEX product that is the package purl, matched by alias",
			findings: []finding.Finding{fSetuptools},
			vex:      []string{"testdata/vex-image.json"},
			opts:     Options{Now: now}, // needs no image facts
			want:     outcome{Suppressed: []string{"PYSEC-2022-43012 setuptools vex: not_affected: vulnerable_code_cannot_be_controlled_by_adversary"}},
		},
		{
			name:     "later VEX statement wins across documents",
			findings: []finding.Finding{fLibc, fSSH},
			vex:      []string{"testdata/vex-image.json", "testdata/vex-later.json"},
			opts:     imageOpts,
			// libc6: the later document says affected (via the alias).
			// ssh: the later document's statement carries an older
			// timestamp of its own, so the earlier fixed still stands.
			want: outcome{Kept: []string{"CVE-2023-4911 libc6"},
				Suppressed: []string{"CVE-2024-6387 openssh-server vex: fixed"}},
		},
		{
			name:     "later VEX statement wins regardless of document order",
			findings: []finding.Finding{fLibc, fSSH},
			vex:      []string{"testdata/vex-later.json", "testdata/vex-image.json"},
			opts:     imageOpts,
			want: outcome{Kept: []string{"CVE-2023-4911 libc6"},
				Suppressed: []string{"CVE-2024-6387 openssh-server vex: fixed"}},
		},
		{
			name:     "VEX is credited before the ignore file, the ignore file before unfixed",
			findings: []finding.Finding{fSSH, fOpenSSL},
			ignore:   "ignore:\n  - package: 'openss*'\n    reason: r\n",
			vex:      []string{"testdata/vex-image.json"},
			opts:     Options{Now: now, ImageDigest: appDigest, IgnoreUnfixed: true},
			want:     outcome{Suppressed: []string{"CVE-2024-6387 openssh-server vex: fixed", "CVE-2024-5535 openssl ignorefile: r"}},
		},
		{
			name:     "VEX affected does not stop the ignore file",
			findings: []finding.Finding{fLog4j},
			ignore:   "ignore:\n  - id: CVE-2021-44228\n    reason: JNDI lookups disabled\n",
			vex:      []string{"testdata/vex-image.json"},
			opts:     imageOpts,
			want:     outcome{Suppressed: []string{"GHSA-jfh8-c2jp-5v3q log4j-core ignorefile: JNDI lookups disabled"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ig *IgnoreFile
			if tt.ignore != "" {
				ig = mustIgnore(t, tt.ignore)
			}
			var docs []*VEXDocument
			if len(tt.vex) > 0 {
				docs = mustVEX(t, tt.vex...)
			}
			got := summarize(Apply(tt.findings, ig, docs, tt.opts))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Apply mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApplyResult checks whole Result values: the suppression's Ref, the
// expired Entry as parsed, and that findings pass through unchanged.
func TestApplyResult(t *testing.T) {
	ig := mustIgnore(t, "ignore:\n  - id: CVE-2019-10744\n    reason: build only\n  - id: CVE-1999-0001\n    reason: old\n    expires: 2020-01-01\n")
	ig.Path = ".drydock-ignore.yaml"
	docs := mustVEX(t, "testdata/vex-image.json")
	got := Apply([]finding.Finding{fLodash, fSSH, fNet}, ig, docs, Options{Now: now, ImageDigest: appDigest})
	want := Result{
		Kept: []finding.Finding{fNet},
		Suppressed: []Suppression{
			{Finding: fLodash, Source: SourceIgnoreFile, Reason: "build only", Ref: ".drydock-ignore.yaml entry 0 (line 2)"},
			{Finding: fSSH, Source: SourceVEX, Reason: "fixed", Ref: "testdata/vex-image.json statement 1"},
		},
		Expired: []Entry{{Index: 1, Line: 4, ID: "CVE-1999-0001", Reason: "old", Expires: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}},
	}
	if diff := cmp.Diff(want, got, ignoreEntry); diff != "" {
		t.Errorf("Apply mismatch (-want +got):\n%s", diff)
	}

	empty := Apply(nil, nil, nil, Options{})
	if diff := cmp.Diff(Result{Kept: []finding.Finding{}, Suppressed: []Suppression{}, Expired: []Entry{}}, empty); diff != "" {
		t.Errorf("Apply(nil) mismatch (-want +got):\n%s", diff)
	}
}

func TestApplyZeroNowIsWallClock(t *testing.T) {
	ig := mustIgnore(t, "ignore:\n  - id: CVE-2023-4911\n    reason: r\n    expires: 2000-01-01\n  - id: CVE-2024-6387\n    reason: r\n    expires: 9999-12-31\n")
	got := summarize(Apply([]finding.Finding{fLibc, fSSH}, ig, nil, Options{}))
	want := outcome{Kept: []string{"CVE-2023-4911 libc6"}, Suppressed: []string{"CVE-2024-6387 openssh-server ignorefile: r"}, Expired: []int{0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply mismatch (-want +got):\n%s", diff)
	}
}

// TestVEXImageProducts covers the ways a product can name the image.
func TestVEXImageProducts(t *testing.T) {
	hexd := appDigest[len("sha256:"):]
	tests := []struct {
		name, product string
		opts          Options
		want          bool
	}{
		{"plain digest", `{"@id": "` + appDigest + `"}`, Options{ImageDigest: appDigest}, true},
		{"plain digest, upper case", `{"@id": "SHA256:` + hexd + `"}`, Options{ImageDigest: appDigest}, true},
		{"repo@digest", `{"@id": "registry.example.com:5000/team/app@` + appDigest + `"}`, Options{ImageDigest: appDigest}, true},
		{"oci purl in identifiers", `{"identifiers": {"purl": "pkg:oci/app@sha256%3A` + hexd + `?arch=amd64"}}`, Options{ImageDigest: appDigest}, true},
		{"sha-256 hash", `{"hashes": {"sha-256": "` + hexd + `"}}`, Options{ImageDigest: appDigest}, true},
		{"sha-512 hash of the same hex", `{"hashes": {"sha-512": "` + hexd + `"}}`, Options{ImageDigest: appDigest}, false},
		{"other digest", `{"@id": "sha256:` + hexd[:63] + `0"}`, Options{ImageDigest: appDigest}, false},
		{"oci purl of another digest", `{"@id": "pkg:oci/app@sha256%3A` + hexd[:63] + `0"}`, Options{ImageDigest: appDigest}, false},
		{"versionless oci purl, same repository", `{"@id": "pkg:oci/app?repository_url=ghcr.io/example/app"}`, Options{ImageName: "ghcr.io/example/app"}, true},
		{"versionless oci purl, Docker Hub spellings", `{"@id": "pkg:oci/alpine?repository_url=index.docker.io/library/alpine"}`, Options{ImageName: "alpine"}, true},
		{"versionless oci purl, other repository", `{"@id": "pkg:oci/app?repository_url=ghcr.io/other/app"}`, Options{ImageName: "ghcr.io/example/app"}, false},
		{"versionless oci purl without repository_url", `{"@id": "pkg:oci/app"}`, Options{ImageName: "ghcr.io/example/app"}, false},
		{"repository name alone", `{"@id": "ghcr.io/example/app"}`, Options{ImageName: "ghcr.io/example/app", ImageDigest: appDigest}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2025-01-01T00:00:00Z", "version": 1,
				"statements": [{"vulnerability": {"name": "CVE-2024-6387"}, "products": [` + tt.product + `], "status": "fixed"}]}`
			d, err := ParseVEX([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			tt.opts.Now = now
			r := Apply([]finding.Finding{fSSH}, nil, []*VEXDocument{d}, tt.opts)
			if got := len(r.Suppressed) == 1; got != tt.want {
				t.Errorf("suppressed = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVEXTimestamps: last_updated supersedes timestamp, statements inherit
// the document's time, and at equal times the later statement wins.
func TestVEXTimestamps(t *testing.T) {
	const head = `{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "x", "author": "a", "timestamp": "2025-01-10T00:00:00Z", "version": 1, "statements": [`
	prod := `"products": [{"@id": "pkg:deb/debian/openssh-server"}]`
	notAff := `{"vulnerability": {"name": "CVE-2024-6387"}, ` + prod + `, "status": "not_affected", "justification": "component_not_present"`
	aff := `{"vulnerability": {"name": "CVE-2024-6387"}, ` + prod + `, "status": "affected", "action_statement": "upgrade"`
	tests := []struct {
		name, stmts string
		want        bool
	}{
		{"later timestamp wins", notAff + `, "timestamp": "2025-01-02T00:00:00Z"}, ` + aff + `, "timestamp": "2025-01-01T00:00:00Z"}`, true},
		{"later timestamp wins, other way", notAff + `, "timestamp": "2025-01-01T00:00:00Z"}, ` + aff + `, "timestamp": "2025-01-02T00:00:00Z"}`, false},
		{"last_updated supersedes", notAff + `, "timestamp": "2025-01-01T00:00:00Z", "last_updated": "2025-01-05T00:00:00Z"}, ` + aff + `, "timestamp": "2025-01-02T00:00:00Z"}`, true},
		{"inherits the document time", notAff + `}, ` + aff + `, "timestamp": "2025-01-02T00:00:00Z"}`, true},
		{"equal times: the later statement", aff + `}, ` + notAff + `}`, true},
		{"equal times: the later statement, other way", notAff + `}, ` + aff + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseVEX([]byte(head + tt.stmts + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			r := Apply([]finding.Finding{fSSH}, nil, []*VEXDocument{d}, Options{Now: now})
			if got := len(r.Suppressed) == 1; got != tt.want {
				t.Errorf("suppressed = %v, want %v", got, tt.want)
			}
		})
	}
}
