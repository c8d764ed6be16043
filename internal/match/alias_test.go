package match

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/vulndb"
)

// aliasMemReader is a memReader that also finds records by id and alias,
// as the store's KnownAs does.
type aliasMemReader struct {
	*memReader
	all []*vulndb.Advisory
}

var _ AliasReader = aliasMemReader{}

func (r aliasMemReader) KnownAs(ctx context.Context, ids []string) ([]*vulndb.Advisory, error) {
	var out []*vulndb.Advisory
	for _, a := range r.all {
		keys := append(append([]string{a.ID}, a.Aliases...), a.Upstream...)
		for _, id := range ids {
			if slices.Contains(keys, id) {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

// vectorOf returns a record's first CVSS vector, read from the data so the
// expected severity is not written down by hand.
func vectorOf(t *testing.T, a *vulndb.Advisory) Severity {
	t.Helper()
	for _, s := range a.Severity {
		if s.Type == "CVSS_V3" {
			sev, err := ParseCVSS(s.Score)
			if err != nil {
				t.Fatal(err)
			}
			return sev
		}
	}
	t.Fatalf("%s carries no CVSS_V3 vector any more", a.ID)
	return Severity{}
}

// TestSeverityFromAlias: the PyPA records of wasmtime's Python binding
// carry no severity; the RustSec records of the same CVEs do. The findings
// take the RustSec rating, say so, and without an alias lookup stay
// UNKNOWN.
func TestSeverityFromAlias(t *testing.T) {
	pysec := fromZip(t, "PyPI", "PYSEC-2021-87", "PYSEC-2021-320")
	rustsec := fromZip(t, "crates.io", "RUSTSEC-2021-0067", "RUSTSEC-2021-0110")
	pkg := inventory.Package{Name: "wasmtime", Version: "0.26.0", Type: inventory.TypePyPI}
	inv := &inventory.Inventory{Packages: []inventory.Package{pkg}}
	all := append(slices.Clone(pysec), rustsec...)

	res, err := Match(context.Background(), aliasMemReader{newMemReader(all...), all}, inv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Severity{
		"PYSEC-2021-87":  vectorOf(t, rustsec[0]),
		"PYSEC-2021-320": vectorOf(t, rustsec[1]),
	}
	want["PYSEC-2021-87"] = withFrom(want["PYSEC-2021-87"], "RUSTSEC-2021-0067")
	want["PYSEC-2021-320"] = withFrom(want["PYSEC-2021-320"], "RUSTSEC-2021-0110")
	got := map[string]Severity{}
	for _, f := range res.Findings {
		got[f.ID] = f.Severity
		if f.SeveritySource != finding.OriginAlias {
			t.Errorf("%s: severitySource %q, want %q", f.ID, f.SeveritySource, finding.OriginAlias)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("severities (-want +got):\n%s", diff)
	}

	res, err = Match(context.Background(), newMemReader(all...), inv)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if f.Severity.Rating != RatingUnknown || f.SeveritySource != finding.OriginNone {
			t.Errorf("without alias lookups %s is %+v from %q, want UNKNOWN from none", f.ID, f.Severity, f.SeveritySource)
		}
	}
}

func withFrom(s Severity, from string) Severity {
	s.From = from
	return s
}

// TestSeverityOrder: the record's own CVSS or ecosystem rating first, then
// an alias's, then the distribution's rating.
func TestSeverityOrder(t *testing.T) {
	rng := []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "2.0"}}}}
	deb := func(id, urgency string, sev ...vulndb.Severity) *vulndb.Advisory {
		return &vulndb.Advisory{ID: id, Upstream: []string{"CVE-2099-1234"}, Severity: sev, Affected: []vulndb.Affected{{
			Package: vulndb.Package{Ecosystem: "Debian:12", Name: "libx"}, Ranges: rng,
			EcosystemSpecific: map[string]any{"urgency": urgency}}}}
	}
	ghsa := &vulndb.Advisory{ID: "GHSA-xxxx-xxxx-xxxx", Aliases: []string{"CVE-2099-1234"},
		Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		Affected: []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "npm", Name: "x"}}}}
	ghsaRated := &vulndb.Advisory{ID: "GHSA-yyyy-yyyy-yyyy", Aliases: []string{"CVE-2099-1234"},
		DatabaseSpecific: map[string]any{"severity": "LOW"},
		Affected:         []vulndb.Affected{{Package: vulndb.Package{Ecosystem: "npm", Name: "x"}}}}
	cvss30 := &vulndb.Advisory{ID: "CVE-2099-1234",
		Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: "CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N"}}}
	inv := &inventory.Inventory{OS: &inventory.OS{ID: "debian", VersionID: "12"},
		Packages: []inventory.Package{{Name: "libx", Version: "1.0", Type: inventory.TypeDeb}}}

	tests := []struct {
		name       string
		own        *vulndb.Advisory
		others     []*vulndb.Advisory
		wantRating string
		wantSource string
		wantFrom   string
	}{
		{"distribution only", deb("DEBIAN-CVE-2099-1234", "low"), nil, RatingLow, finding.OriginDistribution, ""},
		{"alias CVSS beats the distribution", deb("DEBIAN-CVE-2099-1234", "low"), []*vulndb.Advisory{ghsa}, RatingCritical, finding.OriginAlias, "GHSA-xxxx-xxxx-xxxx"},
		{"alias CVSS 3.1 beats alias ecosystem rating and CVSS 3.0", deb("DEBIAN-CVE-2099-1234", "not yet assigned"), []*vulndb.Advisory{ghsaRated, cvss30, ghsa}, RatingCritical, finding.OriginAlias, "GHSA-xxxx-xxxx-xxxx"},
		{"alias CVSS 3.0 beats an ecosystem rating", deb("DEBIAN-CVE-2099-1234", "not yet assigned"), []*vulndb.Advisory{ghsaRated, cvss30}, RatingLow, finding.OriginAlias, "CVE-2099-1234"},
		{"own CVSS is kept", deb("DEBIAN-CVE-2099-1234", "high", vulndb.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N"}), []*vulndb.Advisory{ghsa}, RatingLow, finding.OriginAdvisory, ""},
		{"nothing rates it", deb("DEBIAN-CVE-2099-1234", "not yet assigned"), nil, RatingUnknown, finding.OriginNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := append([]*vulndb.Advisory{tt.own}, tt.others...)
			res, err := Match(context.Background(), aliasMemReader{newMemReader(all...), all}, inv)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("%d findings, want 1: %+v", len(res.Findings), res.Findings)
			}
			f := res.Findings[0]
			if f.Severity.Rating != tt.wantRating || f.SeveritySource != tt.wantSource || f.Severity.From != tt.wantFrom {
				t.Errorf("severity %+v from %q, want %s from %q (%q)", f.Severity, f.SeveritySource, tt.wantRating, tt.wantSource, tt.wantFrom)
			}
		})
	}
}

func TestSummaryOf(t *testing.T) {
	long := "An issue was discovered in the thing that parses the other thing when the input is long and the moon is full and nobody is looking at the logs at all, really"
	tests := []struct {
		adv  vulndb.Advisory
		want string
	}{
		{vulndb.Advisory{Summary: " Prototype pollution ", Details: "ignored"}, "Prototype pollution"},
		{vulndb.Advisory{Details: "Requests before 2.20.0 sends the header.\nMore text. And more."}, "Requests before 2.20.0 sends the header."},
		{vulndb.Advisory{Details: long + " more."}, "An issue was discovered in the thing that parses the other thing when the input is long and the moon is full and nobody is looking at the logs at all, really…"},
		{vulndb.Advisory{}, ""},
	}
	for _, tt := range tests {
		if got := summaryOf(&tt.adv); got != tt.want {
			t.Errorf("summaryOf(%q) = %q, want %q", tt.adv.Details, got, tt.want)
		}
	}
}
