package ruby

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

func gem(name, version, path string, licenses ...string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeGem, Path: path, Licenses: licenses,
		PURL: "pkg:gem/" + name + "@" + version}
}

func TestRequired(t *testing.T) {
	for path, want := range map[string]bool{
		"usr/lib/ruby/gems/3.1.0/specifications/rexml-3.2.5.gemspec":            true,
		"usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec":     true,
		"usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec": true,
		"usr/local/bundle/specifications/nokogiri-1.13.0-x86_64-linux.gemspec":  true,
		"specifications/a-1.gemspec":                                            true,
		"usr/lib/ruby/gems/3.1.0/specifications/.gemspec":                       false,
		"usr/lib/ruby/gems/3.1.0/specifications/default/sub/a-1.gemspec":        false,
		"usr/lib/ruby/gems/3.1.0/gems/rack-2.2.22/rack.gemspec":                 false,
		"app/rack.gemspec": false,
		"usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.22.gemspec.bak": false,
		"default/a-1.gemspec": false,
	} {
		if got := (&Extractor{}).Required(path, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestExtractRealSpecs(t *testing.T) {
	const root = "usr/lib/ruby/gems/3.1.0/"
	tests := []struct {
		file string
		want inventory.Package
	}{
		{"specifications/rack-2.2.22.gemspec", gem("rack", "2.2.22", "", "MIT")},
		{"specifications/rexml-3.2.5.gemspec", gem("rexml", "3.2.5", "", "BSD-2-Clause")},
		{"specifications/default/json-2.6.1.gemspec", gem("json", "2.6.1", "", "Ruby")},
		{"specifications/default/uri-0.11.0.gemspec", gem("uri", "0.11.0", "", "Ruby", "BSD-2-Clause")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p := root + tt.file
			if !(&Extractor{}).Required(p, nil) {
				t.Fatalf("Required(%q) = false", p)
			}
			got, err := (&Extractor{}).Extract(context.Background(), input(p, b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			tt.want.Path = p
			if diff := cmp.Diff([]inventory.Package{tt.want}, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
			// RubyGems names the file after the spec it holds.
			if base := filepath.Base(tt.file); base != got[0].Name+"-"+got[0].Version+".gemspec" {
				t.Errorf("file %s holds %s %s", base, got[0].Name, got[0].Version)
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *inventory.Package
		wantErr error
	}{
		{"old rubygems %q forms", "Gem::Specification.new do |s|\n  s.name = %q{rack}\n  s.version = \"1.1.0\"\n  s.licenses = [%q<MIT>]\nend\n",
			ptr(gem("rack", "1.1.0", "", "MIT")), nil},
		{"Gem::Version.new with freeze, other block var, single quotes", "Gem::Specification.new do |spec|\n  spec.name = 'a_b'.freeze\n  spec.version = Gem::Version.new(\"2.0.0.pre1\".freeze)\n  spec.license = 'Apache-2.0'\nend\n",
			ptr(gem("a_b", "2.0.0.pre1", "", "Apache-2.0")), nil},
		{"platform qualifier", "# stub: nokogiri 1.13.0 x86_64-linux lib\nGem::Specification.new do |s|\n  s.name = \"nokogiri\".freeze\n  s.version = \"1.13.0\"\n  s.platform = \"x86_64-linux\".freeze\nend\n",
			&inventory.Package{Name: "nokogiri", Version: "1.13.0", Type: inventory.TypeGem, PURL: "pkg:gem/nokogiri@1.13.0?platform=x86_64-linux"}, nil},
		{"stub comment when version is computed", "# stub: foo 0.3.1 ruby lib\nGem::Specification.new do |s|\n  s.name = \"foo\"\n  s.version = Foo::VERSION\nend\n",
			ptr(gem("foo", "0.3.1", "")), nil},
		{"first assignment wins, comparisons ignored", "s.name = \"a\"\nif s.name == \"b\"\ns.name = \"b\"\nend\ns.version = \"1\"\n",
			ptr(gem("a", "1", "")), nil},
		{"escaped quote kept", "s.name = \"a\\\"b\"\ns.version = \"1\"\n", &inventory.Package{Name: "a\"b", Version: "1", Type: inventory.TypeGem, PURL: "pkg:gem/a%22b@1"}, nil},
		{"no version", "s.name = \"a\"\n", nil, ErrMalformed},
		{"unterminated", "s.name = \"a\ns.version = \"1\"\n", nil, ErrMalformed},
		{"overlong line skipped", "s.files = [\"" + strings.Repeat("x", 3*maxLine) + "\"]\ns.name = \"a\"\ns.version = \"1\"", ptr(gem("a", "1", "")), nil},
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

func ptr(p inventory.Package) *inventory.Package { return &p }

func TestExtractTooLarge(t *testing.T) {
	in := &extract.Input{Path: "specifications/a-1.gemspec", Reader: bytes.NewReader(nil), Size: MaxFileSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rack-2.2.22.gemspec", "rexml-3.2.5.gemspec", "default/json-2.6.1.gemspec", "default/uri-0.11.0.gemspec"} {
		b, err := os.ReadFile(filepath.Join("testdata", "specifications", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("s.name = %q{a}\ns.version = Gem::Version.new('1'.freeze)\ns.licenses = [\"a\".freeze, %Q<b>]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(context.Background(), bytes.NewReader(b))
		if err == nil && (p.Name == "" || p.Version == "") {
			t.Fatalf("package without name or version: %+v", p)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "specifications", "rexml-3.2.5.gemspec"))
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
