package dotnet

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

func nuget(name, version, path string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeNuGet, Path: path,
		PURL: "pkg:nuget/" + name + "@" + version}
}

func TestRequired(t *testing.T) {
	for path, want := range map[string]bool{
		"app/Web.deps.json": true,
		"Web.deps.json":     true,
		"usr/share/dotnet/shared/Microsoft.NETCore.App/6.0.5/Microsoft.NETCore.App.deps.json": true,
		"app/.deps.json":             false,
		"app/Web.runtimeconfig.json": false,
		"app/Web.deps.json.bak":      false,
		"app/deps.json":              false,
	} {
		if got := (&Extractor{}).Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestExtract(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "Web.deps.json"))
	if err != nil {
		t.Fatal(err)
	}
	const p = "app/Web.deps.json"
	got, err := (&Extractor{}).Extract(context.Background(), input(p, b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	want := []inventory.Package{
		nuget("Newtonsoft.Json", "12.0.1", p),
		nuget("System.Text.Encodings.Web", "4.5.0", p),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Extract mismatch (-want +got):\n%s", diff)
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []inventory.Package
		wantErr error
	}{
		{"no libraries", `{"runtimeTarget":{"name":"x"},"targets":{}}`, nil, nil},
		{"libraries first, odd keys skipped", `{"libraries":{"A/1.0":{"type":"package"},"noversion":{"type":"package"},"B/":{"type":"package"},"C/1/2":{"type":"package"},"D/2.0":{"type":"reference"}},"targets":{"x":[1,{"y":2}]}}`,
			[]inventory.Package{nuget("A", "1.0", "")}, nil},
		{"truncated", `{"libraries":{"A/1.0":{"type":"package"},"B/2.0":`, []inventory.Package{nuget("A", "1.0", "")}, ErrMalformed},
		{"not an object", `[1]`, nil, ErrMalformed},
		{"library not an object", `{"libraries":{"A/1.0":"package"}}`, nil, ErrMalformed},
		{"empty", ``, nil, ErrMalformed},
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
	in := &extract.Input{Path: "a.deps.json", Reader: bytes.NewReader(nil), Size: MaxFileSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}

func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "Web.deps.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := Parse(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "Web.deps.json"))
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
