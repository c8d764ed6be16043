package suppress

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openvex/go-vex/pkg/vex"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
)

func TestLoadVEX(t *testing.T) {
	docs, err := LoadVEX("testdata/vex-image.json", "testdata/vex-later.json")
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Path, ID   string
		Timestamp  time.Time
		Statements []string
	}
	var got []summary
	for _, d := range docs {
		s := summary{Path: d.Path, ID: d.Doc.ID, Timestamp: *d.Doc.Timestamp}
		for _, st := range d.Doc.Statements {
			s.Statements = append(s.Statements, string(st.Vulnerability.Name)+" "+string(st.Status))
		}
		got = append(got, s)
	}
	want := []summary{
		{"testdata/vex-image.json", "https://example.com/vex/app-2025-03-01", time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
			[]string{"CVE-2023-4911 not_affected", "CVE-2024-6387 fixed", "GHSA-jfh8-c2jp-5v3q affected", "CVE-2022-40897 not_affected"}},
		{"testdata/vex-later.json", "https://example.com/vex/app-2025-04-15", time.Date(2025, 4, 15, 9, 30, 0, 0, time.UTC),
			[]string{"DSA-5514-1 affected", "CVE-2024-6387 under_investigation"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadVEX mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadVEXErrors(t *testing.T) {
	tests := []struct{ file, want string }{
		{"testdata/vex-malformed-json.json", "testdata/vex-malformed-json.json: invalid OpenVEX document: offset"},
		{"testdata/vex-malformed-status.json", "statement 0 (CVE-2023-4911): either justification or impact statement must be defined"},
		{"testdata/vex-legacy-context.json", `@context "https://openvex.dev/ns": only https://openvex.dev/ns/v0.2.0 is supported`},
	}
	for _, tt := range tests {
		_, err := LoadVEX("testdata/vex-image.json", tt.file)
		if !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadVEX(%s) error = %v, want ErrInvalidVEX containing %q", tt.file, err, tt.want)
		}
	}
	_, err := LoadVEX("testdata/none.json")
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalidVEX) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist only", err)
	}
}

func TestParseVEXErrors(t *testing.T) {
	const ctx = `"@context": "https://openvex.dev/ns/v0.2.0"`
	tests := []struct{ name, in, want string }{
		{"empty", "", "not a JSON object"},
		{"null", "null", "not a JSON object"},
		{"list", "[]", "not a JSON object"},
		{"no context", `{"statements": []}`, "no @context"},
		{"other context", `{"@context": "https://example.com/ns"}`, "only https://openvex.dev/ns/v0.2.0"},
		{"wrong type", `{` + ctx + `, "statements": {}}`, "cannot unmarshal"},
		{"bad status", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "ok"}]}`, `statement 0 (CVE-1): invalid status value "ok"`},
		{"no vulnerability", `{` + ctx + `, "statements": [{"status": "fixed"}]}`, "statement 0: no vulnerability name"},
		{"affected without action", `{` + ctx + `, "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "affected"}]}`, "action statement must be set"},
		{"bad timestamp", `{` + ctx + `, "timestamp": "yesterday"}`, "yesterday"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVEX([]byte(tt.in))
			if !errors.Is(err, ErrInvalidVEX) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want ErrInvalidVEX containing %q", err, tt.want)
			}
		})
	}
}

func TestNormalizeRepo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"alpine", "docker.io/library/alpine"},
		{"docker.io/library/alpine", "docker.io/library/alpine"},
		{"index.docker.io/library/alpine", "docker.io/library/alpine"},
		{"acme/app", "docker.io/acme/app"},
		{"ghcr.io/Example/App", "ghcr.io/example/app"},
		{"https://ghcr.io/example/app/", "ghcr.io/example/app"},
		{"localhost:5000/app", "localhost:5000/app"},
		{"localhost/app", "localhost/app"},
	}
	for _, tt := range tests {
		if got := normalizeRepo(tt.in); got != tt.want {
			t.Errorf("normalizeRepo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPURLMatches(t *testing.T) {
	tests := []struct {
		vex, pkg string
		want     bool
	}{
		{"pkg:deb/debian/libc6@2.36-9+deb12u1", "pkg:deb/debian/libc6@2.36-9%2Bdeb12u1?arch=amd64&distro=debian-12", true},
		{"pkg:deb/debian/libc6", "pkg:deb/debian/libc6@2.36-9?arch=amd64", true}, // versionless: every version
		{"pkg:deb/debian/libc6@2.36-9?arch=amd64", "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12", true},
		{"pkg:deb/debian/libc6@2.36-9?arch=arm64", "pkg:deb/debian/libc6@2.36-9?arch=amd64", false},
		{"pkg:deb/debian/libc6@2.36-9?arch=arm64", "pkg:deb/debian/libc6@2.36-9", true}, // only one side has it
		{"pkg:deb/debian/libc6@2.36-8", "pkg:deb/debian/libc6@2.36-9", false},
		{"pkg:deb/ubuntu/libc6@2.36-9", "pkg:deb/debian/libc6@2.36-9", false},
		{"pkg:rpm/debian/libc6@2.36-9", "pkg:deb/debian/libc6@2.36-9", false},
		{"pkg:DEB/debian/libc6@2.36-9", "pkg:deb/debian/libc6@2.36-9", true},
		{"pkg:deb/debian/libc@2.36-9", "pkg:deb/debian/libc6@2.36-9", false},
		{"pkg:npm/%40babel/traverse@7.23.1", "pkg:npm/%40babel/traverse@7.23.1", true},
	}
	for _, tt := range tests {
		c := &vex.Component{ID: tt.vex}
		k := newFindingKeys(&finding.Finding{ID: "CVE-1", Package: inventory.Package{PURL: tt.pkg}})
		if got := componentNamesPackage(c, k); got != tt.want {
			t.Errorf("VEX %s vs package %s: %v, want %v", tt.vex, tt.pkg, got, tt.want)
		}
	}
}
