package python

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
	"github.com/drydock/drydock/internal/testenv"
)

func input(p string, b []byte) *extract.Input {
	return &extract.Input{Path: p, Reader: bytes.NewReader(b), Size: int64(len(b))}
}

func pypi(name, version, path string, licenses ...string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, Type: inventory.TypePyPI, Path: path, Licenses: licenses,
		PURL: "pkg:pypi/" + name + "@" + version,
	}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"usr/lib/python3/dist-packages/pip-22.2.2.dist-info/METADATA", true},
		{"usr/local/lib/python3.11/site-packages/pyOpenSSL-26.0.0.dist-info/METADATA", true},
		{"opt/venv/lib/python3.12/site-packages/a_b-1.0.dist-info/METADATA", true},
		{"x.dist-info/METADATA", true},
		{"usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO", true},
		{"usr/lib/python2.7/lib-dynload/Python-2.7.18-py2.7.egg-info", true},
		{"usr/lib/python3/site-packages/foo-1.0-py3.8.egg/EGG-INFO/PKG-INFO", true},
		{"usr/lib/python3/dist-packages/pip-22.2.2.dist-info/RECORD", false},
		{"usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/requires.txt", false},
		{"usr/lib/python3/dist-packages/.dist-info/METADATA", false},
		{"usr/lib/python3/dist-packages/METADATA", false},
		{"METADATA", false},
		{"src/foo/PKG-INFO", false},
		{"foo/EGG-INFO/PKG-INFO", false},
		{".egg-info", false},
		{"usr/share/doc/x.egg-info.txt", false},
	}
	for _, tt := range tests {
		if got := (&Extractor{}).Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestExtractFiles(t *testing.T) {
	tests := []struct {
		name string
		file string // absolute, or relative to testdata
		path string
		want inventory.Package
	}{
		{
			name: "pip dist-info",
			file: "fixture:pip-22.2.2.dist-info/METADATA",
			path: "usr/lib/python3/dist-packages/pip-22.2.2.dist-info/METADATA",
			want: pypi("pip", "22.2.2", "usr/lib/python3/dist-packages/pip-22.2.2.dist-info/METADATA", "MIT"),
		},
		{
			// Mixed-case name, Metadata-Version 2.4.
			name: "pyOpenSSL dist-info",
			file: "fixture:pyOpenSSL-26.0.0.dist-info/METADATA",
			path: "site-packages/pyOpenSSL-26.0.0.dist-info/METADATA",
			want: pypi("pyopenssl", "26.0.0", "site-packages/pyOpenSSL-26.0.0.dist-info/METADATA", "Apache License, Version 2.0"),
		},
		{
			// A dot in the name.
			name: "debian egg-info directory",
			file: "lazr.restfulclient-0.14.5.egg-info/PKG-INFO",
			path: "usr/lib/python3/dist-packages/lazr.restfulclient-0.14.5.egg-info/PKG-INFO",
			want: pypi("lazr-restfulclient", "0.14.5", "usr/lib/python3/dist-packages/lazr.restfulclient-0.14.5.egg-info/PKG-INFO", "LGPL v3"),
		},
		{
			name: "debian python-apt",
			file: "python_apt-2.6.0.egg-info/PKG-INFO",
			path: "usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info/PKG-INFO",
			want: pypi("python-apt", "2.6.0", "usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info/PKG-INFO", "GNU GPL"),
		},
		{
			// The whole file is PKG-INFO content; Description continues
			// over whitespace-only lines before the Classifier headers.
			name: "distutils egg-info file",
			file: "Python-2.7.18-py2.7.egg-info",
			path: "usr/lib/python2.7/lib-dynload/Python-2.7.18-py2.7.egg-info",
			want: pypi("python", "2.7.18", "usr/lib/python2.7/lib-dynload/Python-2.7.18-py2.7.egg-info", "PSF license"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var file string
			if rest, ok := strings.CutPrefix(tt.file, "fixture:"); ok {
				file = testenv.Fixture(t, "python", rest)
			} else {
				file = filepath.Join("testdata", tt.file)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := (&Extractor{}).Extract(context.Background(), input(tt.path, b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff([]inventory.Package{tt.want}, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *inventory.Package
		wantErr error
	}{
		{"license expression wins", "Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.0\nLicense: MIT License\nLicense-Expression: MIT OR Apache-2.0\n",
			ptr(pypi("foo-bar", "1.0", "", "MIT OR Apache-2.0")), nil},
		{"multi-line license text falls back to classifiers", "Name: a\nVersion: 1\nLicense: Copyright (c) X\n        Permission is hereby granted\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved\n",
			ptr(pypi("a", "1", "", "MIT License")), nil},
		{"UNKNOWN license", "Name: a\nVersion: 1\nLicense: UNKNOWN\n", ptr(pypi("a", "1", "")), nil},
		{"case-insensitive fields, CRLF", "name: A\r\nVERSION: 2.0\r\n\r\nVersion: 9\r\n", ptr(pypi("a", "2.0", "")), nil},
		{"body not read", "Name: a\nVersion: 1\n\nName: b\nLicense: X\n", ptr(pypi("a", "1", "")), nil},
		{"no version", "Name: a\n", nil, ErrMalformed},
		{"empty", "", nil, ErrMalformed},
		{"long header line", "Name: a\nSummary: " + strings.Repeat("x", MaxLineSize+1) + "\n", nil, ErrTooLarge},
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

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"pyOpenSSL":          "pyopenssl",
		"lazr.restfulclient": "lazr-restfulclient",
		"Foo__Bar--baz..Q":   "foo-bar-baz-q",
		"a-_.b":              "a-b",
		"-x_":                "-x-",
		"":                   "",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExtractTooLarge(t *testing.T) {
	in := &extract.Input{Path: "a.dist-info/METADATA", Reader: bytes.NewReader(nil), Size: MaxFileSize + 1}
	if _, err := (&Extractor{}).Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("error = %v, want ErrTooLarge", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{
		testenv.Fixture(f, "python", "pip-22.2.2.dist-info", "METADATA"),
		testenv.Fixture(f, "python", "pyOpenSSL-26.0.0.dist-info", "METADATA"),
		filepath.Join("testdata", "Python-2.7.18-py2.7.egg-info"),
		filepath.Join("testdata", "python_apt-2.6.0.egg-info", "PKG-INFO"),
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(context.Background(), bytes.NewReader(b))
		if err == nil && (p.Name == "" || p.Version == "") {
			t.Fatalf("package without name or version: %+v", p)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	data, err := os.ReadFile(testenv.Fixture(b, "python", "pip-22.2.2.dist-info", "METADATA"))
	if err != nil {
		b.Fatal(err)
	}
	e := New()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), input("pip-22.2.2.dist-info/METADATA", data)); err != nil {
			b.Fatal(err)
		}
	}
}
