package match

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/vulndb"
)

func TestParseCVSS(t *testing.T) {
	tests := []struct {
		vector string
		want   Severity
	}{
		// Scores from the FIRST calculators.
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Severity{Score: 9.8, Rating: RatingCritical, Source: SourceCVSSv3}},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Severity{Score: 10.0, Rating: RatingCritical, Source: SourceCVSSv3}},
		{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", Severity{Score: 5.5, Rating: RatingMedium, Source: SourceCVSSv3}},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", Severity{Score: 6.1, Rating: RatingMedium, Source: SourceCVSSv3}},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", Severity{Score: 5.3, Rating: RatingMedium, Source: SourceCVSSv3}},
		{"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", Severity{Score: 1.6, Rating: RatingLow, Source: SourceCVSSv3}},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", Severity{Score: 0, Rating: RatingNone, Source: SourceCVSSv3}},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", Severity{Score: 9.3, Rating: RatingCritical, Source: SourceCVSSv4}},
		{"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", Severity{Score: 6.8, Rating: RatingMedium, Source: SourceCVSSv4}},
	}
	for _, tt := range tests {
		tt.want.Vector = tt.vector
		got, err := ParseCVSS(tt.vector)
		if err != nil {
			t.Errorf("ParseCVSS(%q): %v", tt.vector, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseCVSS(%q) (-want +got):\n%s", tt.vector, diff)
		}
	}
	for _, bad := range []string{"", "AV:N/AC:L", "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "CVSS:3.1/AV:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N"} {
		if _, err := ParseCVSS(bad); !errors.Is(err, ErrInvalidVector) {
			t.Errorf("ParseCVSS(%q) error = %v, want ErrInvalidVector", bad, err)
		}
	}
}

// FuzzParseCVSS checks the vector parser never panics and only returns
// scores in range with a matching rating.
func FuzzParseCVSS(f *testing.F) {
	f.Add("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
	f.Add("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N/E:P")
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
	f.Add("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseCVSS(v)
		if err != nil {
			if !errors.Is(err, ErrInvalidVector) {
				t.Fatalf("error %v does not wrap ErrInvalidVector", err)
			}
			return
		}
		if s.Score < 0 || s.Score > 10 || s.Rating != Rate(s.Score) {
			t.Fatalf("ParseCVSS(%q) = %+v", v, s)
		}
	})
}

func TestSeverityOf(t *testing.T) {
	tests := []struct {
		name string
		adv  *vulndb.Advisory
		want Severity
	}{
		{
			name: "ubuntu priority",
			adv: &vulndb.Advisory{ID: "UBUNTU-CVE-2025-38094", Severity: []vulndb.Severity{{Type: "Ubuntu", Score: "medium"}},
				Affected: []vulndb.Affected{{}}},
			want: Severity{Rating: RatingMedium, Source: SourceUbuntuPriority},
		},
		{
			name: "ghsa rating when no vector",
			adv:  &vulndb.Advisory{ID: "GHSA-x", DatabaseSpecific: map[string]any{"severity": "MODERATE"}, Affected: []vulndb.Affected{{}}},
			want: Severity{Rating: RatingMedium, Source: SourceGHSA},
		},
		{
			name: "debian urgency",
			adv:  &vulndb.Advisory{ID: "DEBIAN-CVE-x", Affected: []vulndb.Affected{{EcosystemSpecific: map[string]any{"urgency": "high**"}}}},
			want: Severity{Rating: RatingHigh, Source: SourceDebianUrgency},
		},
		{
			name: "v4 beats v3 beats vendor",
			adv: &vulndb.Advisory{ID: "GHSA-y", DatabaseSpecific: map[string]any{"severity": "CRITICAL"},
				Severity: []vulndb.Severity{
					{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
					{Type: "CVSS_V4", Score: "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"},
				}, Affected: []vulndb.Affected{{}}},
			want: Severity{Score: 6.8, Rating: RatingMedium, Vector: "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", Source: SourceCVSSv4},
		},
		{
			name: "none",
			adv:  &vulndb.Advisory{ID: "GO-1", Affected: []vulndb.Affected{{}}},
			want: Severity{Rating: RatingUnknown},
		},
	}
	for _, tt := range tests {
		got, _ := severityOf(tt.adv, &tt.adv.Affected[0])
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestEcosystem(t *testing.T) {
	tests := []struct {
		os     *inventory.OS
		typ    string
		want   string
		wantOK bool
	}{
		{&inventory.OS{ID: "debian", VersionID: "12"}, inventory.TypeDeb, "Debian:12", true},
		{&inventory.OS{ID: "debian", VersionID: "11.9"}, inventory.TypeDeb, "Debian:11", true},
		{&inventory.OS{ID: "debian"}, inventory.TypeDeb, "", false}, // sid
		{&inventory.OS{ID: "ubuntu", VersionID: "22.04"}, inventory.TypeDeb, "Ubuntu:22.04:LTS", true},
		{&inventory.OS{ID: "ubuntu", VersionID: "24.04"}, inventory.TypeDeb, "Ubuntu:24.04:LTS", true},
		{&inventory.OS{ID: "ubuntu", VersionID: "23.10"}, inventory.TypeDeb, "Ubuntu:23.10", true},
		{&inventory.OS{ID: "ubuntu", VersionID: "23.04"}, inventory.TypeDeb, "Ubuntu:23.04", true},
		{&inventory.OS{ID: "alpine", VersionID: "3.20.3"}, inventory.TypeAPK, "Alpine:v3.20", true},
		{&inventory.OS{ID: "wolfi", VersionID: "20230201"}, inventory.TypeAPK, "Wolfi", true},
		{&inventory.OS{ID: "chainguard"}, inventory.TypeAPK, "Chainguard", true},
		{&inventory.OS{ID: "almalinux", VersionID: "9.4"}, inventory.TypeRPM, "AlmaLinux:9", true},
		{&inventory.OS{ID: "rocky", VersionID: "9.3"}, inventory.TypeRPM, "Rocky Linux:9", true},
		{&inventory.OS{ID: "rhel", VersionID: "9.4"}, inventory.TypeRPM, "Red Hat:enterprise_linux:9", true},
		{&inventory.OS{ID: "opensuse-leap", VersionID: "15.5"}, inventory.TypeRPM, "openSUSE:Leap 15.5", true},
		{&inventory.OS{ID: "sles", VersionID: "15.5"}, inventory.TypeRPM, "SUSE:Linux Enterprise Server 15 SP5", true},
		{&inventory.OS{ID: "mariner", VersionID: "2.0"}, inventory.TypeRPM, "Mariner:2.0", true},
		{&inventory.OS{ID: "azurelinux", VersionID: "3.0"}, inventory.TypeRPM, "Azure Linux:3.0", true},
		{&inventory.OS{ID: "alpine", VersionID: "3.20.3"}, inventory.TypeDeb, "", false},
		{nil, inventory.TypeDeb, "", false},
		{nil, inventory.TypeGolang, "Go", true},
		{nil, inventory.TypeNPM, "npm", true},
		{nil, inventory.TypePyPI, "PyPI", true},
		{nil, inventory.TypeMaven, "Maven", true},
		{nil, inventory.TypeCargo, "crates.io", true},
		{nil, inventory.TypeNuGet, "NuGet", true},
		{nil, inventory.TypeGem, "RubyGems", true},
		{nil, inventory.TypeComposer, "Packagist", true},
		{nil, "swift", "", false},
	}
	for _, tt := range tests {
		got, ok := Ecosystem(tt.os, inventory.Package{Type: tt.typ})
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Ecosystem(%+v, %s) = %q, %v; want %q, %v", tt.os, tt.typ, got, ok, tt.want, tt.wantOK)
		}
	}
}
