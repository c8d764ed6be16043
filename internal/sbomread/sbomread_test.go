package sbomread

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
)

// brief is what matching reads of a package.
type brief struct{ Type, Namespace, Name, Version, SourceName, Arch string }

func briefs(ps []inventory.Package) []brief {
	var out []brief
	for _, p := range ps {
		out = append(out, brief{p.Type, p.Namespace, p.Name, p.Version, p.SourceName, p.Arch})
	}
	return out
}

// Documents in the shapes other tools write (trimmed to the fields read):
// a CycloneDX BOM with the OS as an operating-system component, and an SPDX
// document whose OS comes only from the packages' distro qualifier.
const cdxDoc = `{
  "bomFormat": "CycloneDX", "specVersion": "1.5",
  "metadata": {"component": {"type": "container", "name": "app"}},
  "components": [
    {"type": "operating-system", "name": "debian", "version": "12.5"},
    {"type": "library", "name": "libssl3", "version": "3.0.11-1~deb12u2",
     "purl": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12.5&upstream=openssl"},
    {"type": "library", "name": "guava", "group": "com.google.guava", "version": "31.1-jre",
     "purl": "pkg:maven/com.google.guava/guava@31.1-jre"},
    {"type": "library", "name": "text", "version": "v0.3.5", "purl": "pkg:golang/golang.org/x/text@v0.3.5",
     "components": [{"type": "library", "name": "code-frame", "version": "7.10.4", "purl": "pkg:npm/%40babel/code-frame@7.10.4"}]},
    {"type": "library", "name": "vendored-thing", "version": "1.0"}
  ]
}`

const spdxDoc = `{
  "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
  "packages": [
    {"name": "requests", "versionInfo": "2.19.1", "primaryPackagePurpose": "LIBRARY",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:pypi/requests@2.19.1"}]},
    {"name": "musl", "versionInfo": "1.2.4-r2",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"}]}
  ]
}`

func TestRead(t *testing.T) {
	tests := []struct {
		name, doc, format string
		os                *inventory.OS
		pkgs              []brief
		problems          int
	}{
		{"cyclonedx", cdxDoc, FormatCycloneDX, &inventory.OS{ID: "debian", VersionID: "12.5"}, []brief{
			{"deb", "debian", "libssl3", "3.0.11-1~deb12u2", "openssl", "amd64"},
			{"maven", "com.google.guava", "guava", "31.1-jre", "", ""},
			{"golang", "", "golang.org/x/text", "v0.3.5", "", ""},
			{"npm", "@babel", "code-frame", "7.10.4", "", ""},
		}, 1},
		{"spdx", spdxDoc, FormatSPDX, &inventory.OS{ID: "alpine", VersionID: "3.19.1"}, []brief{
			{"pypi", "", "requests", "2.19.1", "", ""},
			{"apk", "alpine", "musl", "1.2.4-r2", "", "x86_64"},
		}, 0},
		{"drydock inventory", `{"schemaVersion": 1, "os": {"id": "debian", "versionId": "12"}, "packages": [{"name": "bash", "version": "5.2.15-2", "type": "deb", "path": "var/lib/dpkg/status"}]}`,
			FormatInventory, &inventory.OS{ID: "debian", VersionID: "12"}, []brief{{"deb", "", "bash", "5.2.15-2", "", ""}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, format, err := Read([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if format != tt.format {
				t.Errorf("format %q, want %q", format, tt.format)
			}
			if diff := cmp.Diff(tt.os, inv.OS); diff != "" {
				t.Errorf("OS (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.pkgs, briefs(inv.Packages)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if len(inv.Problems) != tt.problems {
				t.Errorf("problems %+v, want %d", inv.Problems, tt.problems)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	for _, doc := range []string{`{"hello": 1}`, `{"spdxVersion": "SPDX-3.0"}`, `[1,2]`, `{"bomFormat": "CycloneDX", "components": 5}`, `{"schemaVersion": 9, "packages": []}`} {
		_, _, err := Read([]byte(doc))
		if err == nil {
			t.Errorf("Read(%s) accepted", doc)
			continue
		}
		if msg := err.Error(); containsAny(msg, "json.", "[]sbomread", "main.", "Go value") {
			t.Errorf("Read(%s): error leaks Go internals: %s", doc, msg)
		}
	}
	if _, _, err := Read([]byte(`{"hello": 1}`)); !errors.Is(err, ErrNotSBOM) {
		t.Errorf("unknown JSON: %v, want ErrNotSBOM", err)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
