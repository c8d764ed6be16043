package rustaudit

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"

	"github.com/drydock/drydock/internal/testenv"
)

// cargo-auditable cannot be installed here (crates.io is unreachable), so the
// test executables are made the way it makes them, minus the linker: a real
// ELF executable gets a ".dep-v0" section holding zlib-compressed JSON in the
// cargo-auditable format, added with binutils' objcopy.

// depJSON is in the format cargo-auditable 0.6 writes: "kind" is omitted for
// runtime crates (the default), indices in "dependencies" point into the
// array, and the root crate is marked.
const depJSON = `{"packages":[` +
	`{"name":"hello","version":"0.1.0","source":"local","dependencies":[1,2,4],"root":true},` +
	`{"name":"serde","version":"1.0.188","source":"crates.io","dependencies":[3]},` +
	`{"name":"smallvec","version":"1.6.0","source":"crates.io"},` +
	`{"name":"serde_derive","version":"1.0.188","source":"crates.io","kind":"build"},` +
	`{"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime"},` +
	`{"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime"}` +
	`]}`

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostBinary returns a real, small, non-Rust ELF executable of this machine.
func hostBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte("\x7fELF")) {
			return p
		}
	}
	// The test binary itself is a real ELF on Linux.
	p, err := os.Executable()
	if err != nil {
		testenv.NeedPart(t, "an ELF executable", "none to add a section to: %v", err)
	}
	return p
}

// withSection returns the bytes of a copy of a real ELF executable with a
// section of the given name and content added by objcopy.
func withSection(t testing.TB, name string, content []byte) []byte {
	t.Helper()
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		testenv.NeedPart(t, "objcopy", "it adds a %s section (apt-get install binutils): %v", name, err)
	}
	dir := t.TempDir()
	sec := filepath.Join(dir, "section")
	if err := os.WriteFile(sec, content, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "exe")
	cmd := exec.Command(objcopy, "--add-section", name+"="+sec, hostBinary(t), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(b []byte) *extract.Input {
	return &extract.Input{Path: "usr/local/bin/hello", Reader: bytes.NewReader(b), Size: int64(len(b))}
}

func crate(name, version string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeCargo, PURL: "pkg:cargo/" + name + "@" + version}
}

func TestExtract(t *testing.T) {
	want := []inventory.Package{
		crate("hello", "0.1.0"),
		crate("serde", "1.0.188"),
		crate("smallvec", "1.6.0"),
		crate("time", "0.1.43"),
	}
	tests := []struct {
		name    string
		exe     func(t *testing.T) []byte
		want    []inventory.Package
		wantErr error
	}{
		{
			name: "dep-v0",
			exe:  func(t *testing.T) []byte { return withSection(t, ".dep-v0", zlibBytes(t, []byte(depJSON))) },
			want: want,
		},
		{
			name: "legacy rust-deps-v0",
			exe:  func(t *testing.T) []byte { return withSection(t, ".rust-deps-v0", zlibBytes(t, []byte(depJSON))) },
			want: want,
		},
		{
			name: "empty package list",
			exe:  func(t *testing.T) []byte { return withSection(t, ".dep-v0", zlibBytes(t, []byte(`{"packages":[]}`))) },
		},
		{
			name: "no section",
			exe: func(t *testing.T) []byte {
				b, err := os.ReadFile(hostBinary(t))
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		},
		{
			name:    "section not zlib",
			exe:     func(t *testing.T) []byte { return withSection(t, ".dep-v0", []byte(depJSON)) },
			wantErr: ErrMalformed,
		},
		{
			name: "bad JSON",
			exe: func(t *testing.T) []byte {
				return withSection(t, ".dep-v0", zlibBytes(t, []byte(`{"packages":[{"name":1}]}`)))
			},
			wantErr: ErrMalformed,
		},
		{
			name: "truncated zlib",
			exe: func(t *testing.T) []byte {
				z := zlibBytes(t, []byte(depJSON))
				return withSection(t, ".dep-v0", z[:len(z)/2])
			},
			wantErr: ErrMalformed,
		},
		{
			// 64 MiB of JSON whitespace compresses to about 64 KiB: valid
			// JSON, but inflating it without a cap would be the bomb.
			name: "inflation bomb",
			exe: func(t *testing.T) []byte {
				var buf bytes.Buffer
				w := zlib.NewWriter(&buf)
				w.Write([]byte(`{"packages":[`))
				chunk := bytes.Repeat([]byte(" "), 1<<20)
				for range 64 {
					w.Write(chunk)
				}
				w.Write([]byte(`]}`))
				w.Close()
				return withSection(t, ".dep-v0", buf.Bytes())
			},
			wantErr: ErrTooLarge,
		},
		{
			name: "truncated executable",
			exe: func(t *testing.T) []byte {
				b := withSection(t, ".dep-v0", zlibBytes(t, []byte(depJSON)))
				return b[:len(b)/2]
			},
			wantErr: ErrMalformed,
		},
		{name: "script", exe: func(*testing.T) []byte { return []byte("#!/bin/sh\necho hi\n") }},
		{name: "text starting MZ", exe: func(*testing.T) []byte { return []byte("MZ is not always an executable") }},
		{name: "empty", exe: func(*testing.T) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New().Extract(context.Background(), input(tt.exe(t)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Extract error = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Extract (-want +got):\n%s", d)
			}
		})
	}
}

type fileInfo struct {
	mode fs.FileMode
	size int64
}

func (f fileInfo) Name() string       { return "f" }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() fs.FileMode  { return f.mode }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fileInfo) Sys() any           { return nil }

func TestRequired(t *testing.T) {
	tests := []struct {
		path string
		fi   fs.FileInfo
		want bool
	}{
		{"usr/local/bin/ripgrep", fileInfo{0o755, 4 << 20}, true},
		{"opt/app/anything.dat", fileInfo{0o100, 4 << 20}, true},
		{"usr/local/bin/ripgrep", fileInfo{0o644, 4 << 20}, false},
		{"usr/bin/tiny", fileInfo{0o755, MinFileSize - 1}, false},
		{"usr/bin/huge", fileInfo{0o755, MaxFileSize + 1}, false},
		{"usr/bin", fileInfo{fs.ModeDir | 0o755, 4096}, false},
		{"usr/bin/link", fileInfo{fs.ModeSymlink | 0o777, 4096}, false},
		{"usr/bin/x", nil, false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, tt.fi); got != tt.want {
			t.Errorf("Required(%q, %v) = %v, want %v", tt.path, tt.fi, got, tt.want)
		}
	}
}

func TestExtractTooLarge(t *testing.T) {
	in := &extract.Input{Path: "x", Reader: bytes.NewReader(nil), Size: MaxFileSize + 1}
	if _, err := New().Extract(context.Background(), in); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Extract error = %v, want ErrTooLarge", err)
	}
}

func FuzzExtract(f *testing.F) {
	if _, err := exec.LookPath("objcopy"); err == nil {
		f.Add(withSection(f, ".dep-v0", zlibBytes(f, []byte(depJSON))))
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, err := New().Extract(context.Background(), input(b))
		if pe, ok := extract.AsPanic(err); ok {
			t.Fatalf("recovered panic: %v\n%s", pe, pe.Stack)
		}
		if err != nil && len(pkgs) != 0 {
			t.Errorf("packages %v returned with error %v", pkgs, err)
		}
	})
}

// FuzzDecode fuzzes the section content alone, which the executable fuzzer
// rarely reaches.
func FuzzDecode(f *testing.F) {
	f.Add(zlibBytes(f, []byte(depJSON)))
	f.Add(zlibBytes(f, []byte(`{"packages":[]}`)))
	f.Add([]byte(depJSON))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Decode(b)
		if err == nil {
			for _, p := range Packages(info) {
				if p.Type != inventory.TypeCargo || !strings.HasPrefix(p.PURL, "pkg:cargo/") {
					t.Errorf("bad package %+v", p)
				}
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	exe := withSection(b, ".dep-v0", zlibBytes(b, []byte(depJSON)))
	in := input(exe)
	e := New()
	b.SetBytes(int64(len(exe)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
