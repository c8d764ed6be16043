package php

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"
)

func input(p string, b []byte) *extract.Input {
	return &extract.Input{Path: p, Reader: bytes.NewReader(b), Size: int64(len(b))}
}

func composer(vendor, name, version, path string, dev bool, licenses ...string) inventory.Package {
	return inventory.Package{Name: name, Namespace: vendor, Version: version, Type: inventory.TypeComposer,
		Path: path, Dev: dev, Licenses: licenses, PURL: "pkg:composer/" + vendor + "/" + name + "@" + version}
}

func TestRequired(t *testing.T) {
	for path, want := range map[string]bool{
		"var/www/html/vendor/composer/installed.json": true,
		"vendor/composer/installed.json":              true,
		"app/vendor/composer/installed.php":           false,
		"app/composer/installed.json":                 false,
		"app/xvendor/composer/installed.json":         false,
		"app/composer.lock":                           false,
	} {
		if got := (&Extractor{}).Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestExtract(t *testing.T) {
	const p = "var/www/html/vendor/composer/installed.json"
	tests := []struct {
		file string
		want []inventory.Package
	}{
		{"composer2-installed.json", []inventory.Package{
			composer("guzzlehttp", "guzzle", "7.4.0", p, false, "MIT"),
			composer("symfony", "http-kernel", "5.4.0", p, false, "MIT"),
			composer("acme", "internal-tools", "dev-main", p, false, "proprietary"),
			composer("phpunit", "phpunit", "9.5.10", p, true, "BSD-3-Clause"),
		}},
		{"composer1-installed.json", []inventory.Package{
			composer("monolog", "monolog", "1.25.1", p, false, "MIT"),
			composer("psr", "log", "1.1.0", p, false, "MIT"),
			composer("twig", "twig", "2.12.0", p, false, "BSD-3-Clause"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := (&Extractor{}).Extract(context.Background(), input(p, b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeV(t *testing.T) {
	for _, tt := range []struct{ version, normalized, want string }{
		{"v5.4.0", "5.4.0.0", "5.4.0"},
		{"V1.0", "1.0.0.0", "1.0"},
		{"5.4.0", "5.4.0.0", "5.4.0"},
		{"v5.4.0", "", "v5.4.0"},
		{"dev-main", "dev-main", "dev-main"},
		{"v1.x-dev", "1.9999999.9999999.9999999-dev", "1.x-dev"},
		{"vendor-fork", "dev-vendor-fork", "vendor-fork"},
		{"v", "", "v"},
	} {
		if got := normalizeV(tt.version, tt.normalized); got != tt.want {
			t.Errorf("normalizeV(%q, %q) = %q, want %q", tt.version, tt.normalized, got, tt.want)
		}
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []inventory.Package
		wantErr error
	}{
		{"empty composer 2", `{"packages":[],"dev":false,"dev-package-names":[]}`, nil, nil},
		{"dev names before packages", `{"dev-package-names":["A/B"],"packages":[{"name":"a/b","version":"1.0"},{"name":"nover/x"},{"name":"noslash","version":"1"}]}`,
			[]inventory.Package{composer("a", "b", "1.0", "", true)}, nil},
		{"truncated", `[{"name":"a/b","version":"1"},{"name":`, []inventory.Package{composer("a", "b", "1", "", false)}, ErrMalformed},
		{"scalar", `"x"`, nil, ErrMalformed},
		{"empty", ``, nil, ErrMalformed},
		{"packages not an array", `{"packages":{}}`, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(context.Background(), strings.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExtractTooLarge(t *testing.T) {
	in := &extract.Input{Path: installed, Reader: bytes.NewReader(nil), Size: MaxFileSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"composer2-installed.json", "composer1-installed.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Namespace == "" || p.Version == "" {
				t.Fatalf("package without vendor, name or version: %+v", p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "composer2-installed.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
