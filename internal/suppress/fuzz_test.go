package suppress

import (
	"errors"
	"os"
	"testing"

	"github.com/drydock/drydock/internal/finding"
)

// FuzzParseIgnoreFile: any input either parses into entries that Apply can
// use without panicking, or fails with ErrInvalidIgnoreFile.
func FuzzParseIgnoreFile(f *testing.F) {
	for _, name := range []string{"drydock-ignore.yaml", "expired.yaml", "malformed-unknown-field.yaml", "malformed-glob.yaml", "malformed-date.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("ignore:\n  - package: '[^a-]*'\n    reason: r\n"))
	f.Add([]byte("ignore: &a\n  - *a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ig, err := ParseIgnoreFile(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidIgnoreFile) {
				t.Fatalf("error %v does not wrap ErrInvalidIgnoreFile", err)
			}
			return
		}
		for _, e := range ig.Entries {
			if e.Reason == "" || (e.ID == "" && e.Package == "") {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		Apply([]finding.Finding{fLibc, fLodash, fBabel, fNoPURL}, ig, nil, Options{Now: now})
	})
}

// FuzzParseVEX: any input either parses into a document Apply can use
// without panicking, or fails with ErrInvalidVEX.
func FuzzParseVEX(f *testing.F) {
	for _, name := range []string{"vex-image.json", "vex-later.json", "vex-malformed-status.json", "vex-legacy-context.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"aliases": ["CVE-2023-4911"]}, "products": [{"@id": "pkg:"}], "status": "fixed"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseVEX(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidVEX) {
				t.Fatalf("error %v does not wrap ErrInvalidVEX", err)
			}
			return
		}
		Apply([]finding.Finding{fLibc, fSSH, fSetuptools, fNoPURL}, nil, []*VEXDocument{d}, Options{Now: now, ImageDigest: appDigest, ImageName: "ghcr.io/example/app"})
	})
}
