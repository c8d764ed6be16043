package gobinary

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/extract"
	"github.com/drydock/drydock/internal/inventory"

	"github.com/drydock/drydock/internal/testenv"
)

// The binaries under test are real: built by the go command from a tiny
// program that uses golang.org/x/text v0.3.5, fetched through the module
// proxy. They are built once per test binary run and shared.

const helloMain = `package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English) }
`

// replacedMain also uses a module replaced by a local directory.
const replacedMain = `package main

import (
	"fmt"

	"example.com/lib"
	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English, lib.X) }
`

// oldGo is the toolchain used for a binary recording an old standard
// library. The go command downloads it from the module proxy as the module
// golang.org/toolchain.
const oldGo = "go1.20.1"

var (
	buildDir  string
	buildOnce sync.Once
	built     map[string]string
	buildErr  error
	oldErr    error // why the go1.20.1 toolchain could not build the "old" binary
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		// The module cache marks files read-only; build output is ours.
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func goCmd(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		testenv.NeedPart(t, "go command", "it builds the test binaries: %v", err)
	}
	return p
}

func run(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// goEnv isolates the builds from the checkout (GOWORK) and from the host's
// cgo toolchain, and lets go.mod be updated by the build.
func goEnv(toolchain string) []string {
	return []string{"GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOTOOLCHAIN=" + toolchain}
}

func writeModule(dir, main string, extra map[string]string) error {
	files := map[string]string{"go.mod": "module example.com/hello\n\ngo 1.20\n\nrequire golang.org/x/text v0.3.5\n", "main.go": main}
	for k, v := range extra {
		files[k] = v
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// binaries builds the test binaries: "plain", "stripped" (-s -w), "old" (Go
// 1.20.1 standard library) and "replaced" (replace directives).
func binaries(t testing.TB) map[string]string {
	t.Helper()
	gobin := goCmd(t)
	buildOnce.Do(func() { built, buildErr = buildAll(gobin) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func buildAll(gobin string) (map[string]string, error) {
	dir, err := os.MkdirTemp("", "gobinary-test-")
	if err != nil {
		return nil, err
	}
	buildDir = dir
	out := map[string]string{}
	hello := filepath.Join(dir, "hello")
	if err := writeModule(hello, helloMain, nil); err != nil {
		return nil, err
	}
	local := goEnv("local")
	if _, err := run(hello, local, gobin, "mod", "tidy"); err != nil {
		return nil, err
	}
	out["plain"] = filepath.Join(dir, "bin", "plain")
	if _, err := run(hello, local, gobin, "build", "-o", out["plain"], "."); err != nil {
		return nil, err
	}
	out["stripped"] = filepath.Join(dir, "bin", "stripped")
	if _, err := run(hello, local, gobin, "build", "-ldflags=-s -w", "-o", out["stripped"], "."); err != nil {
		return nil, err
	}
	out["old"] = filepath.Join(dir, "bin", "old")
	if _, err := run(hello, goEnv(oldGo), gobin, "build", "-o", out["old"], "."); err != nil {
		// The toolchain could not be fetched (no module proxy, or toolchain
		// switching refused): the "old" case stops through NeedPart rather
		// than test a binary that only claims to be from go1.20.1.
		oldErr = err
	}

	replaced := filepath.Join(dir, "replaced")
	err = writeModule(replaced, replacedMain, map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.20\n\nrequire (\n\tgolang.org/x/text v0.3.5\n\texample.com/lib v1.0.0\n)\n\n" +
			"replace golang.org/x/text => golang.org/x/text v0.3.7\n\nreplace example.com/lib => ./lib\n",
		"lib/go.mod": "module example.com/lib\n\ngo 1.20\n",
		"lib/lib.go": "package lib\n\nconst X = 1\n",
	})
	if err != nil {
		return nil, err
	}
	if _, err := run(replaced, local, gobin, "mod", "tidy"); err != nil {
		return nil, err
	}
	out["replaced"] = filepath.Join(dir, "bin", "replaced")
	if _, err := run(replaced, local, gobin, "build", "-o", out["replaced"], "."); err != nil {
		return nil, err
	}
	return out, nil
}

func input(t testing.TB, p string) *extract.Input {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return &extract.Input{Path: "usr/local/bin/" + filepath.Base(p), Info: fi, Reader: bytes.NewReader(b), Size: int64(len(b)), TempDir: t.TempDir()}
}

func golang(path, version string) inventory.Package { return module(path, version) }

func sortPkgs(p []inventory.Package) {
	sort.Slice(p, func(i, j int) bool { return p[i].Key() < p[j].Key() })
}

// goVersionM runs `go version -m` on bin and returns the modules it lists,
// as this extractor should report them: an oracle independent of
// debug/buildinfo's Go API.
func goVersionM(t testing.TB, bin string) []inventory.Package {
	t.Helper()
	out, err := run("", []string{"GOTOOLCHAIN=local"}, goCmd(t), "version", "-m", bin)
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []inventory.Package
	sc := bufio.NewScanner(bytes.NewReader(out))
	first := true
	var stdlib string
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			_, gover, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("go version -m: unexpected first line %q", line)
			}
			v, ok := StdlibVersion(gover)
			if !ok {
				t.Fatalf("go version -m: cannot read Go version %q", gover)
			}
			stdlib = v
			continue
		}
		f := strings.Split(strings.TrimPrefix(line, "\t"), "\t")
		switch f[0] {
		case "mod":
			v := f[2]
			if v == "(devel)" {
				v = ""
			}
			pkgs = append(pkgs, golang(f[1], v))
		case "dep":
			pkgs = append(pkgs, golang(f[1], f[2]))
		case "=>":
			last := &pkgs[len(pkgs)-1]
			// "=> ./lib (devel)" is a local directory: version unknown.
			if len(f) > 2 && f[2] != "" && f[2] != "(devel)" {
				*last = golang(f[1], f[2])
			} else {
				*last = golang(last.Name, "")
			}
		}
	}
	return append(pkgs, golang(StdlibName, stdlib))
}

func TestExtractBuiltBinaries(t *testing.T) {
	bins := binaries(t)
	cur, ok := StdlibVersion(runtime.Version())
	if !ok {
		t.Skipf("running toolchain %q has no release version", runtime.Version())
	}
	tests := []struct {
		name string
		want []inventory.Package
	}{
		{"plain", []inventory.Package{golang("example.com/hello", ""), golang("golang.org/x/text", "v0.3.5"), golang("stdlib", cur)}},
		// -s -w drops the symbol table and DWARF, not the build info.
		{"stripped", []inventory.Package{golang("example.com/hello", ""), golang("golang.org/x/text", "v0.3.5"), golang("stdlib", cur)}},
		{"old", []inventory.Package{golang("example.com/hello", ""), golang("golang.org/x/text", "v0.3.5"), golang("stdlib", "v1.20.1")}},
		// x/text is replaced by another version, example.com/lib by a local
		// directory (version unknown).
		{"replaced", []inventory.Package{golang("example.com/hello", ""), golang("example.com/lib", ""), golang("golang.org/x/text", "v0.3.7"), golang("stdlib", cur)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "old" && oldErr != nil {
				testenv.NeedPart(t, oldGo+" toolchain", "from the Go module proxy (golang.org/toolchain): %v", oldErr)
			}
			got, err := New().Extract(context.Background(), input(t, bins[tt.name]))
			if err != nil {
				t.Fatal(err)
			}
			sortPkgs(got)
			sortPkgs(tt.want)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Extract (-want +got):\n%s", d)
			}
			oracle := goVersionM(t, bins[tt.name])
			sortPkgs(oracle)
			if d := cmp.Diff(oracle, got); d != "" {
				t.Errorf("Extract disagrees with go version -m (-oracle +got):\n%s", d)
			}
		})
	}
}

func TestPURL(t *testing.T) {
	for _, tt := range []struct{ path, version, want string }{
		{"golang.org/x/text", "v0.3.5", "pkg:golang/golang.org/x/text@v0.3.5"},
		{"stdlib", "v1.20.1", "pkg:golang/stdlib@v1.20.1"},
		{"github.com/docker/docker", "v24.0.7+incompatible", "pkg:golang/github.com/docker/docker@v24.0.7%2Bincompatible"},
		{"example.com/hello", "", "pkg:golang/example.com/hello"},
	} {
		if got := module(tt.path, tt.version).PURL; got != tt.want {
			t.Errorf("PURL(%s@%s) = %q, want %q", tt.path, tt.version, got, tt.want)
		}
	}
}

func TestStdlibVersion(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"go1.20.1", "v1.20.1", true},
		{"go1.20", "v1.20.0", true},
		{"go1.21rc2", "v1.21.0-rc.2", true},
		{"go1.9beta1", "v1.9.0-beta.1", true},
		{"go1.22.0 X:boringcrypto", "v1.22.0", true},
		{"go1.24.2-fips", "v1.24.2", true},
		{"devel go1.23-abcdef Tue Jan 1", "", false},
		{"go1", "", false},
		{"go1.x", "", false},
		{"go1.21foo1", "", false},
		{"", "", false},
		{"1.20.1", "", false},
	}
	for _, tt := range tests {
		got, ok := StdlibVersion(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("StdlibVersion(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
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
		name string
		path string
		fi   fs.FileInfo
		want bool
	}{
		{"executable", "usr/bin/app", fileInfo{0o755, 5 << 20}, true},
		{"group exec only", "srv/x", fileInfo{0o610, 5 << 20}, true},
		// Content decides, so odd names and places are all candidates.
		{"odd place", "usr/share/doc/thing.txt", fileInfo{0o700, 2 << 10}, true},
		{"not executable", "usr/bin/app", fileInfo{0o644, 5 << 20}, false},
		{"too small", "usr/bin/sh-wrapper", fileInfo{0o755, 100}, false},
		{"lower bound", "a", fileInfo{0o755, MinFileSize}, true},
		{"upper bound", "a", fileInfo{0o755, MaxFileSize}, true},
		{"too large", "a", fileInfo{0o755, MaxFileSize + 1}, false},
		{"directory", "usr/bin", fileInfo{fs.ModeDir | 0o755, 4096}, false},
		{"symlink", "usr/bin/x", fileInfo{fs.ModeSymlink | 0o777, 4096}, false},
		{"no info", "usr/bin/app", nil, false},
	}
	for _, tt := range tests {
		if got := New().Required(tt.path, tt.fi); got != tt.want {
			t.Errorf("%s: Required(%q) = %v, want %v", tt.name, tt.path, got, tt.want)
		}
	}
}

func TestExtractNotGo(t *testing.T) {
	bins := binaries(t)
	plain, err := os.ReadFile(bins["plain"])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte
		wantErr error
	}{
		{"shell script", []byte("#!/bin/sh\nexec /usr/bin/true \"$@\"\n" + strings.Repeat("#\n", 600)), nil},
		{"empty", nil, nil},
		{"ELF magic only", []byte("\x7fELF"), ErrMalformed},
		// A Go binary cut short loses its section headers.
		{"truncated Go binary", plain[:len(plain)/2], ErrMalformed},
	}
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if b, err := os.ReadFile(p); err == nil {
			// A real ELF that is not a Go binary.
			tests = append(tests, struct {
				name    string
				content []byte
				wantErr error
			}{"C binary " + p, b, nil})
			break
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &extract.Input{Path: "bin/x", Reader: bytes.NewReader(tt.content), Size: int64(len(tt.content))}
			got, err := New().Extract(context.Background(), in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Extract error = %v, want %v", err, tt.wantErr)
			}
			if len(got) != 0 {
				t.Errorf("Extract = %v, want no packages", got)
			}
		})
	}
}

func TestExtractCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Extract(ctx, &extract.Input{Path: "x", Reader: bytes.NewReader(nil)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract error = %v, want context.Canceled", err)
	}
}

func FuzzExtract(f *testing.F) {
	if _, err := exec.LookPath("go"); err == nil {
		bins := binaries(f)
		for _, name := range []string{"plain", "stripped"} {
			b, err := os.ReadFile(bins[name])
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
			// The head of a binary holds the ELF header and, for Go 1.18+,
			// the build info near the start of the data segment is cut off:
			// a cheap seed that still exercises the ELF parser.
			f.Add(b[:64<<10])
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := &extract.Input{Path: "bin/x", Reader: bytes.NewReader(b), Size: int64(len(b))}
		pkgs, err := New().Extract(context.Background(), in)
		if pe, ok := extract.AsPanic(err); ok {
			t.Fatalf("recovered panic: %v\n%s", pe, pe.Stack)
		}
		if err != nil && len(pkgs) != 0 {
			t.Errorf("packages %v returned with error %v", pkgs, err)
		}
		for _, p := range pkgs {
			if p.Type != inventory.TypeGolang || p.Name == "" || p.PURL == "" {
				t.Errorf("bad package %+v", p)
			}
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	bins := binaries(b)
	in := input(b, bins["plain"])
	e := New()
	b.SetBytes(in.Size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
