package apk

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

func apkp(name, version, arch, origin, license string) inventory.Package {
	p := inventory.Package{Name: name, Version: version, Type: inventory.TypeAPK, Arch: arch}
	if origin != "" {
		p.SourceName, p.SourceVersion = origin, version
	}
	if license != "" {
		p.Licenses = []string{license}
	}
	return p
}

func TestRequired(t *testing.T) {
	for p, want := range map[string]bool{
		"lib/apk/db/installed":      true,
		"/lib/apk/db/installed":     false,
		"usr/lib/apk/db/installed":  false,
		"lib/apk/db/installed.old":  false,
		"lib/apk/db/scripts.tar":    false,
		"etc/apk/world":             false,
		"lib/apk/db/installed/file": false,
	} {
		if got := (&Extractor{}).Required(p, nil); got != want {
			t.Errorf("Required(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestExtractFixtures(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		want    []inventory.Package
		// wantErr is set for the fixture's deliberately broken record.
		wantErr string
	}{
		{
			name:    "alpine 3.18",
			fixture: "alpine",
			want: []inventory.Package{
				apkp("alpine-baselayout", "3.4.3-r1", "x86_64", "alpine-baselayout", "GPL-2.0-only"),
				apkp("alpine-baselayout-data", "3.4.3-r1", "x86_64", "alpine-baselayout", "GPL-2.0-only"),
				apkp("alpine-keys", "2.4-r1", "x86_64", "alpine-keys", "MIT"),
				apkp("apk-tools", "2.14.0-r0", "x86_64", "apk-tools", "GPL-2.0-only"),
				apkp("busybox", "1.36.0-r9", "x86_64", "busybox", "GPL-2.0-only"),
				apkp("busybox-binsh", "1.36.0-r9", "x86_64", "busybox", "GPL-2.0-only"),
				apkp("ca-certificates-bundle", "20230506-r0", "x86_64", "ca-certificates", "MPL-2.0 AND MIT"),
				apkp("libc-utils", "0.7.2-r5", "x86_64", "libc-dev", "BSD-2-Clause AND BSD-3-Clause"),
				apkp("libcrypto3", "3.1.0-r4", "x86_64", "openssl", "Apache-2.0"),
				apkp("libssl3", "3.1.0-r4", "x86_64", "openssl", "Apache-2.0"),
				apkp("musl", "1.2.4-r0", "x86_64", "musl", "MIT"),
				apkp("musl-utils", "1.2.4-r0", "x86_64", "musl", "MIT AND BSD-2-Clause AND GPL-2.0-or-later"),
				apkp("scanelf", "1.3.7-r1", "x86_64", "pax-utils", "GPL-2.0-only"),
				apkp("ssl_client", "1.36.0-r9", "x86_64", "busybox", "GPL-2.0-only"),
				apkp("zlib", "1.2.13-r1", "x86_64", "zlib", "Zlib"),
			},
		},
		{
			// Trivy's fixture holds a record with only "P:invalidPackageWithoutAVersion"
			// at line 23; the other 15 must survive it.
			name:    "alpine 3.4 era",
			fixture: "alpine-old",
			wantErr: "parse installed record at line 23",
			want: []inventory.Package{
				apkp("musl", "1.1.14-r10", "x86_64", "musl", "MIT"),
				apkp("busybox", "1.24.2-r9", "x86_64", "busybox", "GPL2"),
				apkp("alpine-baselayout", "3.0.3-r0", "x86_64", "alpine-baselayout", "GPL2"),
				apkp("alpine-keys", "1.1-r0", "x86_64", "alpine-keys", "GPL"),
				apkp("zlib", "1.2.8-r2", "x86_64", "zlib", "zlib"),
				apkp("libcrypto1.0", "1.0.2h-r1", "x86_64", "openssl", "openssl"),
				apkp("libssl1.0", "1.0.2h-r1", "x86_64", "openssl", "openssl"),
				apkp("apk-tools", "2.6.7-r0", "x86_64", "apk-tools", "GPL2"),
				apkp("scanelf", "1.1.6-r0", "x86_64", "pax-utils", "GPL2"),
				apkp("musl-utils", "1.1.14-r10", "x86_64", "musl", "MIT BSD GPL2+"),
				apkp("libc-utils", "0.7-r0", "x86_64", "libc-dev", "GPL"),
				apkp("pkgconf", "1.6.0-r0", "x86_64", "pkgconf", "ISC"),
				apkp("sqlite-libs", "3.26.0-r3", "x86_64", "sqlite", "Public-Domain"),
				apkp("test", "2.9.11_pre20061021-r2", "x86_64", "test-parent", "Public-Domain"),
				apkp("ada-libs", "2.7.4-r0", "x86_64", "ada", "( Apache-2.0 OR MIT ) AND MPL-2.0"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := readFixture(t, tt.fixture, "lib", "apk", "db", "installed")
			got, err := (&Extractor{}).Extract(context.Background(), input("lib/apk/db/installed", b))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if tt.wantErr != "" && (!errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Extract error %v, want ErrMalformed mentioning %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Extract mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      []inventory.Package
		wantErr   error
		errSubstr string
	}{
		{
			name: "crlf, trailing spaces, no trailing newline",
			in:   "C:abc\r\nP:a\r\nV:1-r0 \r\nA:aarch64\r\n\r\n\r\nP:b\r\nV:2-r1\r\no:bb\r\nL:MIT",
			want: []inventory.Package{apkp("a", "1-r0", "aarch64", "", ""), apkp("b", "2-r1", "", "bb", "MIT")},
		},
		{
			name:      "line without key",
			in:        "P:a\nV:1\n\nP:b\nnonsense\nV:2\n\nP:c\nV:3\n",
			want:      []inventory.Package{apkp("a", "1", "", "", ""), apkp("c", "3", "", "", "")},
			wantErr:   ErrMalformed,
			errSubstr: "at line 5",
		},
		{
			name:      "two packages without separator",
			in:        "P:a\nV:1\nP:b\nV:2\n",
			wantErr:   ErrMalformed,
			errSubstr: "second P:",
		},
		{
			name:      "record without name",
			in:        "V:1\nA:x86_64\n",
			wantErr:   ErrMalformed,
			errSubstr: "no P:",
		},
		{
			name:      "oversized line",
			in:        "P:a\nV:1\n\nP:b\nF:" + strings.Repeat("x", MaxLineSize) + "\n",
			want:      []inventory.Package{apkp("a", "1", "", "", "")},
			wantErr:   ErrTooLarge,
			errSubstr: "at line 5",
		},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(context.Background(), strings.NewReader(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("error %v, want one wrapping %v mentioning %q", err, tt.wantErr, tt.errSubstr)
			}
		})
	}
}

func TestExtractLimits(t *testing.T) {
	in := input("lib/apk/db/installed", []byte("P:a\n"))
	in.Size = MaxFileSize + 1
	_, err := (&Extractor{}).Extract(context.Background(), in)
	if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "apk: read lib/apk/db/installed") {
		t.Errorf("oversized: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := strings.Repeat("P:a\nV:1\n\n", 5000)
	if _, err := (&Extractor{}).Extract(ctx, input("lib/apk/db/installed", []byte(big))); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(readFixture(f, "alpine", "lib", "apk", "db", "installed"))
	f.Add(readFixture(f, "alpine-old", "lib", "apk", "db", "installed"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := Parse(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" || p.Type != inventory.TypeAPK {
				t.Fatalf("incomplete package %+v", p)
			}
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	data := readFixture(b, "alpine", "lib", "apk", "db", "installed")
	e := &Extractor{}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), input("lib/apk/db/installed", data)); err != nil {
			b.Fatal(err)
		}
	}
}
