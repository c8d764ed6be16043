package dpkg

import (
	"bytes"
	"context"
	"errors"
	"os"
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

func readFixture(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Fixture(t, parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deb(name, version, arch, src, srcVer string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeDeb, Arch: arch, SourceName: src, SourceVersion: srcVer}
}

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"var/lib/dpkg/status", true},
		{"var/lib/dpkg/status.d/libsqlite3-0", true},
		{"var/lib/dpkg/status.d/base", true},
		{"var/lib/dpkg/status.d/libsqlite3-0.md5sums", false},
		{"var/lib/dpkg/status.d/sub/libc6", false},
		{"var/lib/dpkg/status.d", false},
		{"var/lib/dpkg/status-old", false},
		{"var/lib/dpkg/available", false},
		{"usr/var/lib/dpkg/status", false},
		{"/var/lib/dpkg/status", false},
	}
	for _, tt := range tests {
		if got := (&Extractor{}).Required(tt.path, nil); got != tt.want {
			t.Errorf("Required(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestExtractFixtures(t *testing.T) {
	tests := []struct {
		name    string
		fixture []string
		path    string
		want    []inventory.Package
	}{
		{
			// Two "Architecture: all" packages, one "Source: name (version)".
			name:    "claircore postgresql",
			fixture: []string{"dpkg", "claircore-postgresql.status"},
			path:    "var/lib/dpkg/status",
			want: []inventory.Package{
				deb("postgresql-client", "11+200+deb10u5", "all", "postgresql-common", "200+deb10u5"),
				deb("postgresql-client-11", "11.22-0+deb10u2", "amd64", "postgresql-11", "11.22-0+deb10u2"),
				deb("postgresql-client-common", "200+deb10u5", "all", "postgresql-common", "200+deb10u5"),
			},
		},
		{
			name:    "bookworm coreutils excerpt",
			fixture: []string{"dpkg", "bookworm-coreutils-excerpt", "var", "lib", "dpkg", "status"},
			path:    "var/lib/dpkg/status",
			want: []inventory.Package{
				deb("coreutils", "9.1-1", "arm64", "coreutils", "9.1-1"),
				deb("libacl1", "2.3.1-3", "arm64", "acl", "2.3.1-3"),
				deb("libc6", "2.36-9+deb12u1", "arm64", "glibc", "2.36-9+deb12u1"),
				deb("libgcc-s1", "12.2.0-14", "arm64", "gcc-12", "12.2.0-14"),
				deb("gcc-12-base", "12.2.0-14", "arm64", "gcc-12", "12.2.0-14"),
				deb("libattr1", "1:2.5.1-4", "arm64", "attr", "1:2.5.1-4"),
				deb("libgmp10", "2:6.2.1+dfsg1-1.1", "arm64", "gmp", "2:6.2.1+dfsg1-1.1"),
				deb("libselinux1", "3.4-1+b6", "arm64", "libselinux", "3.4-1"),
				deb("libpcre2-8-0", "10.42-1", "arm64", "pcre2", "10.42-1"),
			},
		},
		{
			// status.d stanzas have no Status field.
			name:    "distroless status.d",
			fixture: []string{"distroless", "var", "lib", "dpkg", "status.d", "libsqlite3-0"},
			path:    "var/lib/dpkg/status.d/libsqlite3-0",
			want: []inventory.Package{
				deb("libsqlite3-0", "3.34.1-3", "arm64", "sqlite3", "3.34.1-3"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := readFixture(t, tt.fixture...)
			got, err := (&Extractor{}).Extract(context.Background(), input(tt.path, b))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The Ubuntu 18.04 status file has 91 stanzas: 90 "install ok installed"
// (80 amd64, 10 all) and git as "deinstall ok config-files".
func TestExtractUbuntuFull(t *testing.T) {
	b := readFixture(t, "dpkg", "ubuntu-18.04-full", "var", "lib", "dpkg", "status")
	got, err := (&Extractor{}).Extract(context.Background(), input("var/lib/dpkg/status", b))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if len(got) != 90 {
		t.Errorf("got %d packages, want 90", len(got))
	}
	arches := map[string]int{}
	byName := map[string]inventory.Package{}
	for _, p := range got {
		arches[p.Arch]++
		byName[p.Name] = p
	}
	if diff := cmp.Diff(map[string]int{"amd64": 80, "all": 10}, arches); diff != "" {
		t.Errorf("architectures (-want +got):\n%s", diff)
	}
	if _, ok := byName["git"]; ok {
		t.Errorf("git is deinstall ok config-files but was reported")
	}
	for _, want := range []inventory.Package{
		deb("libc6", "2.27-3ubuntu1", "amd64", "glibc", "2.27-3ubuntu1"),
		deb("base-files", "10.1ubuntu2.2", "amd64", "base-files", "10.1ubuntu2.2"),
		deb("liblzma5", "5.1.1alpha+20120614-2+b3", "amd64", "xz-utils", "5.1.1alpha+20120614-2"),
		deb("libgcc1", "1:8-20180414-1ubuntu2", "amd64", "gcc-8", "8-20180414-1ubuntu2"),
	} {
		if diff := cmp.Diff(want, byName[want.Name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, diff)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		statusD   bool
		want      []inventory.Package
		wantErr   error
		errSubstr string
	}{
		{
			name: "crlf and continuation lines",
			in: "Package: a\r\nStatus: install ok installed\r\nVersion: 1.0\r\nArchitecture: amd64\r\n" +
				"Description: x\r\n y\r\n .\r\n\tz\r\n\r\n" +
				"Package: b\r\nStatus: install ok installed\r\nVersion: 2\r\nArchitecture: all\r\n",
			want: []inventory.Package{
				deb("a", "1.0", "amd64", "a", "1.0"),
				deb("b", "2", "all", "b", "2"),
			},
		},
		{
			name: "not installed states are skipped, hold is installed",
			in: "Package: a\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
				"Package: b\nStatus: install ok half-installed\nVersion: 1\n\n" +
				"Package: c\nStatus: hold ok installed\nVersion: 3\n\n" +
				"Package: d\nStatus: purge ok not-installed\n",
			want: []inventory.Package{deb("c", "3", "", "c", "3")},
		},
		{
			name: "no Status in status file is not installed",
			in:   "Package: a\nVersion: 1\n",
		},
		{
			name:    "no Status in status.d is installed",
			in:      "Package: a\nVersion: 1\nSource: s (0.9)\n\nPackage: b\nVersion: 2\n",
			statusD: true,
			want:    []inventory.Package{deb("a", "1", "", "s", "0.9"), deb("b", "2", "", "b", "2")},
		},
		{
			name: "field names are case-insensitive and blank lines may hold spaces",
			in:   "package: a\nSTATUS: install ok installed\nversion:1\n  \n\n\nPackage: b\nStatus: install ok installed\nVersion: 2\n",
			want: []inventory.Package{deb("a", "1", "", "a", "1"), deb("b", "2", "", "b", "2")},
		},
		{
			name: "bad stanza between good ones",
			in: "Package: a\nStatus: install ok installed\nVersion: 1\n\n" +
				"Package: bad\nthis line has no colon\nVersion: 1\n\n" +
				"Package: c\nStatus: install ok installed\nVersion: 3\n",
			want:      []inventory.Package{deb("a", "1", "", "a", "1"), deb("c", "3", "", "c", "3")},
			wantErr:   ErrMalformed,
			errSubstr: "at line 6",
		},
		{
			name:      "continuation at stanza start",
			in:        " orphan\nPackage: a\n",
			wantErr:   ErrMalformed,
			errSubstr: "at line 1",
		},
		{
			name:      "installed without version",
			in:        "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: install ok installed\nVersion: 2\n",
			want:      []inventory.Package{deb("b", "2", "", "b", "2")},
			wantErr:   ErrMalformed,
			errSubstr: "at line 1",
		},
		{
			name:      "bad Source",
			in:        "Package: a\nStatus: install ok installed\nVersion: 1\nSource: s 1.0\n",
			wantErr:   ErrMalformed,
			errSubstr: "Source",
		},
		{
			name:      "bad Status",
			in:        "Package: a\nStatus: installed\nVersion: 1\n",
			wantErr:   ErrMalformed,
			errSubstr: "Status",
		},
		{
			name: "oversized line keeps earlier packages",
			in: "Package: a\nStatus: install ok installed\nVersion: 1\n\n" +
				"Package: b\nDescription: " + strings.Repeat("x", MaxLineSize+1) + "\n",
			want:      []inventory.Package{deb("a", "1", "", "a", "1")},
			wantErr:   ErrTooLarge,
			errSubstr: "at line 6",
		},
		{
			name: "oversized stanza",
			in: "Package: a\nStatus: install ok installed\nVersion: 1\n" +
				strings.Repeat("Description: "+strings.Repeat("x", 1<<16)+"\n", MaxStanzaSize>>16) +
				"\nPackage: b\nStatus: install ok installed\nVersion: 2\n",
			want:      []inventory.Package{deb("b", "2", "", "b", "2")},
			wantErr:   ErrTooLarge,
			errSubstr: "at line 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(context.Background(), strings.NewReader(tt.in), tt.statusD)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error %q does not mention %q", err, tt.errSubstr)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	e := &Extractor{}
	in := input("var/lib/dpkg/status", []byte("Package: a\n"))
	in.Size = MaxFileSize + 1
	if _, err := e.Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "dpkg: read var/lib/dpkg/status") {
		t.Errorf("oversized file: got %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := strings.Repeat("Package: a\nStatus: install ok installed\nVersion: 1\n\n", 5000)
	if _, err := e.Extract(ctx, input("var/lib/dpkg/status", []byte(big))); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v", err)
	}

	_, err := e.Extract(context.Background(), input("var/lib/dpkg/status", []byte("Package: a\nbad\n")))
	if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "dpkg: read var/lib/dpkg/status: parse status stanza at line 2") {
		t.Errorf("malformed: got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, parts := range [][]string{
		{"dpkg", "claircore-postgresql.status"},
		{"dpkg", "bookworm-coreutils-excerpt", "var", "lib", "dpkg", "status"},
		{"distroless", "var", "lib", "dpkg", "status.d", "libsqlite3-0"},
	} {
		f.Add(readFixture(f, parts...), false)
	}
	f.Add([]byte("Package: a\r\nStatus: hold ok installed\r\nVersion: 1\r\nSource: s (2)\r\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, statusD bool) {
		pkgs, err := Parse(context.Background(), bytes.NewReader(b), statusD)
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.Type != inventory.TypeDeb {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	data := readFixture(b, "dpkg", "ubuntu-18.04-full", "var", "lib", "dpkg", "status")
	e := &Extractor{}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), input("var/lib/dpkg/status", data)); err != nil {
			b.Fatal(err)
		}
	}
}
