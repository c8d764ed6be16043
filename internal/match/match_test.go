package match

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/version"
	"github.com/drydock/drydock/internal/vulndb"
)

// brief is the part of a finding most cases check.
type brief struct {
	ID, Pkg, Installed string
	Aliases            []string
	Fixed              []string
	Rating, Source     string
	Score              float64
	FixPath            string
}

func briefs(fs []Finding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{
			ID: f.ID, Pkg: f.Package.Name, Installed: f.InstalledVersion, Aliases: f.Aliases,
			Fixed: f.FixedVersions, Rating: f.Severity.Rating, Source: f.Severity.Source,
			Score: f.Severity.Score, FixPath: string(f.FixPath),
		})
	}
	return out
}

func TestMatch(t *testing.T) {
	debian12 := &inventory.OS{ID: "debian", VersionID: "12"}
	tests := []struct {
		name    string
		advs    func(t *testing.T) []*vulndb.Advisory
		os      *inventory.OS
		pkgs    []inventory.Package
		want    []brief
		wantErr []string // substrings of the problems, in order
	}{
		{
			name: "go module below two fixes",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return fromZip(t, "Go", "GO-2020-0015", "GO-2021-0113", "GO-2022-1059", "GO-2026-5970")
			},
			pkgs: []inventory.Package{{Name: "golang.org/x/text", Version: "v0.3.5", Type: inventory.TypeGolang, Path: "app/server", Origin: inventory.OriginApp}},
			want: []brief{
				{ID: "GO-2021-0113", Pkg: "golang.org/x/text", Installed: "v0.3.5", Aliases: []string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"}, Fixed: []string{"0.3.7"}, Rating: RatingUnknown, FixPath: "app"},
				{ID: "GO-2022-1059", Pkg: "golang.org/x/text", Installed: "v0.3.5", Aliases: []string{"CVE-2022-32149", "GHSA-69ch-w2m2-3vjp"}, Fixed: []string{"0.3.8"}, Rating: RatingUnknown, FixPath: "app"},
				{ID: "GO-2026-5970", Pkg: "golang.org/x/text", Installed: "v0.3.5", Aliases: []string{"CVE-2026-56852"}, Fixed: []string{"0.39.0"}, Rating: RatingUnknown, FixPath: "app"},
			},
		},
		{
			name: "withdrawn record ignored",
			advs: func(t *testing.T) []*vulndb.Advisory { return fromZip(t, "Go", "GO-2022-0617") },
			pkgs: []inventory.Package{{Name: "k8s.io/kubernetes", Version: "v1.18.0", Type: inventory.TypeGolang}},
		},
		{
			name: "debian binary package matched by source name and version",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return []*vulndb.Advisory{
					fromParts(t, "debian/osv.dev-testdata/CVE-2016-1585.debian.json", "DEBIAN", "CVE-2016-1585"),
					fromParts(t, "debian/osv.dev-testdata/CVE-2017-6507.debian.json", "DEBIAN", "CVE-2017-6507"),
				}
			},
			os: debian12,
			pkgs: []inventory.Package{{
				Name: "libapparmor1", Version: "3.0.8-3+b1", SourceName: "apparmor", SourceVersion: "3.0.8-3",
				Type: inventory.TypeDeb, Layer: "sha256:base", Origin: inventory.OriginBase,
			}},
			// CVE-2017-6507 was fixed in 2.11.0-3, before bookworm's 3.0.8-3;
			// CVE-2016-1585 is open (no fix) and unimportant.
			want: []brief{{ID: "DEBIAN-CVE-2016-1585", Pkg: "libapparmor1", Installed: "3.0.8-3", Aliases: []string{"CVE-2016-1585"}, Rating: RatingLow, Source: SourceDebianUrgency, FixPath: "base"}},
		},
		{
			name: "debian DSA: fixed version equal to installed is not vulnerable",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return []*vulndb.Advisory{fromFile(t, "debian/osv.dev-testdata/DSA-3029-1.json")}
			},
			os: &inventory.OS{ID: "debian", VersionID: "7"},
			pkgs: []inventory.Package{
				{Name: "nginx-full", Version: "1.2.1-2.2+wheezy2", SourceName: "nginx", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status"},
				{Name: "nginx-common", Version: "1.2.1-2.2+wheezy3", SourceName: "nginx", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status"},
			},
			want: []brief{{ID: "DSA-3029-1", Pkg: "nginx-full", Installed: "1.2.1-2.2+wheezy2", Aliases: []string{"CVE-2014-3616"}, Fixed: []string{"1.2.1-2.2+wheezy3"}, Rating: RatingUnknown}},
		},
		{
			name: "alpine",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return []*vulndb.Advisory{fromFile(t, "alpine/osv.dev-testdata/CVE-2012-2812.json")}
			},
			os: &inventory.OS{ID: "alpine", VersionID: "3.11.5"},
			pkgs: []inventory.Package{
				{Name: "libexif", Version: "0.6.20-r0", Type: inventory.TypeAPK},
				{Name: "libexif-dev", Version: "0.6.21-r0", SourceName: "libexif", SourceVersion: "0.6.21-r0", Type: inventory.TypeAPK},
			},
			want: []brief{{ID: "CVE-2012-2812", Pkg: "libexif", Installed: "0.6.20-r0", Fixed: []string{"0.6.21-r0"}, Rating: RatingUnknown}},
		},
		{
			name: "almalinux rpm with epoch",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return fromZip(t, "AlmaLinux", "ALSA-2024:0310", "ALSA-2024:2447", "ALSA-2024:6783", "ALSA-2024:9333")
			},
			os: &inventory.OS{ID: "almalinux", VersionID: "9.4"},
			// Without the epoch, 3.0.7-27.el9 would sort below every
			// "1:..." fix and match all four.
			pkgs: []inventory.Package{{Name: "openssl", Epoch: 1, Version: "3.0.7-27.el9", Type: inventory.TypeRPM}},
			want: []brief{
				{ID: "ALSA-2024:6783", Pkg: "openssl", Installed: "1:3.0.7-27.el9", Aliases: []string{"CVE-2024-6119"}, Fixed: []string{"1:3.0.7-28.el9_4"}, Rating: RatingUnknown},
				{ID: "ALSA-2024:9333", Pkg: "openssl", Installed: "1:3.0.7-27.el9", Aliases: []string{"CVE-2024-2511", "CVE-2024-4603", "CVE-2024-4741", "CVE-2024-5535"}, Fixed: []string{"1:3.2.2-6.el9_5"}, Rating: RatingUnknown},
			},
		},
		{
			name: "ubuntu USN by source package",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return []*vulndb.Advisory{fromFile(t, "ubuntu/ubuntu-security-notices/osv/usn/USN-6859-1.json")}
			},
			os:   &inventory.OS{ID: "ubuntu", VersionID: "22.04"},
			pkgs: []inventory.Package{{Name: "openssh-server", Version: "1:8.9p1-3ubuntu0.6", SourceName: "openssh", Type: inventory.TypeDeb}},
			want: []brief{{ID: "USN-6859-1", Pkg: "openssh-server", Installed: "1:8.9p1-3ubuntu0.6", Aliases: []string{"CVE-2024-6387"}, Fixed: []string{"1:8.9p1-3ubuntu0.10"}, Rating: RatingUnknown}},
		},
		{
			name: "pypi versions list and last_affected",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return fromZip(t, "PyPI", "PYSEC-2024-1", "PYSEC-2022-42969")
			},
			pkgs: []inventory.Package{
				{Name: "gratient", Version: "0.5", Type: inventory.TypePyPI},   // only in the versions list
				{Name: "Gratient", Version: "0.6", Type: inventory.TypePyPI},   // not listed
				{Name: "py", Version: "1.11.0", Type: inventory.TypePyPI},      // equal to last_affected
				{Name: "py", Version: "1.11.1.dev0", Type: inventory.TypePyPI}, // past last_affected
			},
			want: []brief{
				{ID: "PYSEC-2022-42969", Pkg: "py", Installed: "1.11.0", Aliases: []string{"CVE-2022-42969", "GHSA-w596-4wvx-j9j6"}, Rating: RatingUnknown},
				{ID: "PYSEC-2024-1", Pkg: "gratient", Installed: "0.5", Aliases: aliasesOf(fromZip(t, "PyPI", "PYSEC-2024-1")[0]), Rating: RatingUnknown},
			},
		},
		{
			name: "GHSA and PYSEC of one CVE merge",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return append(fromZip(t, "PyPI", "PYSEC-2023-74"), fromFile(t, "testdata/GHSA-j8r2-6x86-q33q.json"))
			},
			pkgs: []inventory.Package{{Name: "requests", Version: "2.28.1", Type: inventory.TypePyPI}},
			want: []brief{{ID: "PYSEC-2023-74", Pkg: "requests", Installed: "2.28.1", Aliases: []string{"CVE-2023-32681", "GHSA-j8r2-6x86-q33q"}, Fixed: []string{"2.31.0"}, Rating: RatingMedium, Source: SourceCVSSv3, Score: 6.1}},
		},
		{
			name: "npm and maven GHSA with CVSS",
			advs: func(t *testing.T) []*vulndb.Advisory {
				return []*vulndb.Advisory{fromFile(t, "ghsa-sample/GHSA-c2qf-rxjj-qqgw.json"), fromFile(t, "ghsa-sample/GHSA-7g45-4rm6-3mm3.json")}
			},
			pkgs: []inventory.Package{
				{Name: "semver", Version: "7.5.1", Type: inventory.TypeNPM},
				{Name: "semver", Version: "6.3.1", Type: inventory.TypeNPM},
				{Name: "guava", Namespace: "com.google.guava", Version: "31.1-jre", Type: inventory.TypeMaven},
			},
			want: []brief{
				{ID: "GHSA-7g45-4rm6-3mm3", Pkg: "guava", Installed: "31.1-jre", Aliases: []string{"CVE-2023-2976"}, Fixed: []string{"32.0.0"}, Rating: RatingMedium, Source: SourceCVSSv3, Score: 5.5},
				{ID: "GHSA-c2qf-rxjj-qqgw", Pkg: "semver", Installed: "7.5.1", Aliases: []string{"CVE-2022-25883"}, Fixed: []string{"7.5.2"}, Rating: RatingMedium, Source: SourceCVSSv3, Score: 5.3},
			},
		},
		{
			name: "unmatchable packages become problems",
			advs: func(t *testing.T) []*vulndb.Advisory { return fromZip(t, "PyPI", "PYSEC-2023-74") },
			os:   &inventory.OS{ID: "linuxmint", VersionID: "21"},
			pkgs: []inventory.Package{
				{Name: "requests", Version: "not a version", Type: inventory.TypePyPI, Path: "usr/lib/python3/dist-packages/requests.dist-info/METADATA"},
				{Name: "bash", Version: "5.1-6", Type: inventory.TypeDeb},
				{Name: "thing", Version: "1", Type: "swift"},
				// The main module of a Go binary built outside version
				// control: nothing to match, and not a failure.
				{Name: "example.com/hello", Version: "", Type: inventory.TypeGolang, Path: "app/bin/hello"},
			},
			wantErr: []string{`version "not a version" does not parse in PyPI`, "no vulnerability ecosystem for linuxmint 21", "no vulnerability ecosystem"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{OS: tt.os, Packages: tt.pkgs}
			res, err := Match(context.Background(), newMemReader(tt.advs(t)...), inv)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, briefs(res.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if len(res.Problems) != len(tt.wantErr) {
				t.Fatalf("problems = %+v, want %d", res.Problems, len(tt.wantErr))
			}
			for i, p := range res.Problems {
				if p.Stage != ProblemStage || !strings.Contains(p.Message, tt.wantErr[i]) {
					t.Errorf("problem %d = %+v, want stage %q and %q", i, p, ProblemStage, tt.wantErr[i])
				}
			}
		})
	}
}

// TestMatchFinding checks one whole finding, field by field.
func TestMatchFinding(t *testing.T) {
	pkg := inventory.Package{Name: "golang.org/x/text", Version: "v0.3.5", Type: inventory.TypeGolang, Path: "app/server", Layer: "sha256:l2", LayerIndex: 2, Origin: inventory.OriginApp}
	res, err := Match(context.Background(), newMemReader(fromZip(t, "Go", "GO-2021-0113")...), &inventory.Inventory{Packages: []inventory.Package{pkg}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{{
		ID:               "GO-2021-0113",
		Aliases:          []string{"CVE-2021-38561", "GHSA-ppp9-7jff-5vj2"},
		Summary:          "Out-of-bounds read in golang.org/x/text/language",
		Package:          pkg,
		Ecosystem:        "Go",
		InstalledVersion: "v0.3.5",
		FixedVersions:    []string{"0.3.7"},
		Severity:         Severity{Rating: RatingUnknown},
		Layer:            "sha256:l2",
		FixPath:          "app",
		DataSource:       "GO-2021-0113",
		SeveritySource:   finding.OriginNone,
		URL:              "https://pkg.go.dev/vuln/GO-2021-0113",
	}}
	if diff := cmp.Diff(want, res.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestMatchStdlib runs the Go standard library through the whole Go export:
// go1.20.1 has many advisories, each fixed in a later release.
func TestMatchStdlib(t *testing.T) {
	var all []*vulndb.Advisory
	for _, a := range loadZip(t, "Go") {
		all = append(all, a)
	}
	inv := &inventory.Inventory{Packages: []inventory.Package{{Name: "stdlib", Version: "go1.20.1", Type: inventory.TypeGolang}}}
	res, err := Match(context.Background(), newMemReader(all...), inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) < 10 || len(res.Problems) != 0 {
		t.Fatalf("stdlib go1.20.1: %d findings, problems %v; want many findings and no problems", len(res.Findings), res.Problems)
	}
	for _, f := range res.Findings {
		if !strings.HasPrefix(f.ID, "GO-") || len(f.FixedVersions) == 0 {
			t.Errorf("finding %s fixed %v: want a GO- id and a fix", f.ID, f.FixedVersions)
		}
		for _, fix := range f.FixedVersions {
			if c, err := (version.Go{}).Compare(fix, "1.20.1"); err != nil || c <= 0 {
				t.Errorf("%s: fix %s is not after 1.20.1", f.ID, fix)
			}
		}
	}
}

// TestMatchReaderError checks that a failing Reader fails the match.
func TestMatchReaderError(t *testing.T) {
	inv := &inventory.Inventory{Packages: []inventory.Package{{Name: "x", Version: "1.0.0", Type: inventory.TypeNPM}}}
	_, err := Match(context.Background(), failReader{}, inv)
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want errBoom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Match(ctx, newMemReader(), inv); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

var errBoom = errors.New("boom")

type failReader struct{}

func (failReader) Affecting(context.Context, string, string) ([]*vulndb.Advisory, error) {
	return nil, errBoom
}
