package extractors

import (
	"bytes"
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/extract"
)

// fuzzPaths are file paths of every kind an extractor wants. The fuzzer picks
// one by index, so one target reaches every registered extractor, including
// ones added later without a fuzz target of their own.
var fuzzPaths = []string{
	"var/lib/dpkg/status",
	"var/lib/dpkg/status.d/a",
	"lib/apk/db/installed",
	"var/lib/rpm/Packages",
	"var/lib/rpm/Packages.db",
	"var/lib/rpm/rpmdb.sqlite",
	"app/package-lock.json",
	"app/node_modules/a/package.json",
	"app/yarn.lock",
	"app/pnpm-lock.yaml",
	"usr/lib/python3/dist-packages/a-1.dist-info/METADATA",
	"usr/lib/python3/dist-packages/a-1.egg-info/PKG-INFO",
	"usr/lib/python3/dist-packages/a-1.egg-info",
	"app/app.deps.json",
	"app/vendor/composer/installed.json",
	"usr/lib/ruby/gems/3.1.0/specifications/a-1.gemspec",
	"app/lib/a-1.jar",
	"usr/local/bin/app",
}

// fileInfo is an executable regular file: the executable extractors decide
// by mode, not by path.
type fileInfo struct{ size int64 }

func (f fileInfo) Name() string       { return "x" }
func (f fileInfo) Size() int64        { return f.size }
func (f fileInfo) Mode() fs.FileMode  { return 0o755 }
func (f fileInfo) ModTime() time.Time { return time.Time{} }
func (f fileInfo) IsDir() bool        { return false }
func (f fileInfo) Sys() any           { return nil }

// FuzzExtractors hands the same bytes, under a path of each kind, to every
// registered extractor that wants that path. An extractor may fail on them,
// but must not panic, not even into its own recover (extract.PanicError).
func FuzzExtractors(f *testing.F) {
	seeds := []struct {
		path int
		body string
	}{
		{0, "Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n"},
		{2, "P:a\nV:1.0-r0\nA:x86_64\n\n"},
		{6, `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":"1.0.0"}}}`},
		{7, `{"name":"a","version":"1.0.0"}`},
		{8, "a@^1:\n  version \"1.0.0\"\n"},
		{9, "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {}\n"},
		{10, "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n"},
		{13, `{"libraries":{"a/1.0.0":{"type":"package"}}}`},
		{14, `{"packages":[{"name":"a/b","version":"1.0.0"}]}`},
		{15, "Gem::Specification.new do |s|\n  s.name = \"a\"\n  s.version = \"1.0\"\nend\n"},
		{16, "PK\x03\x04"},
		{17, "\x7fELF\x02\x01\x01"},
	}
	for _, s := range seeds {
		f.Add(uint8(s.path), []byte(s.body))
	}
	exts := Default()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		p := fuzzPaths[int(which)%len(fuzzPaths)]
		fi := fileInfo{size: int64(len(b))}
		for _, e := range exts {
			if !e.Required(p, fi) {
				continue
			}
			if s, ok := e.(extract.Sniffer); ok {
				head := b[:min(len(b), extract.SniffLen)]
				if !s.Sniff(p, head) {
					continue
				}
			}
			in := &extract.Input{Path: p, Info: fi, Reader: bytes.NewReader(b), Size: int64(len(b)), TempDir: t.TempDir()}
			pkgs, err := e.Extract(context.Background(), in)
			if pe, ok := extract.AsPanic(err); ok {
				t.Fatalf("%s on %s: recovered panic: %v\n%s", e.Name(), p, pe, pe.Stack)
			}
			for _, pk := range pkgs {
				if pk.Name == "" {
					t.Errorf("%s on %s: package without a name: %+v", e.Name(), p, pk)
				}
			}
		}
	})
}

// TestFuzzPathsReachEveryExtractor keeps fuzzPaths complete: every
// registered extractor must want at least one of them.
func TestFuzzPathsReachEveryExtractor(t *testing.T) {
	for _, e := range Default() {
		reached := false
		for _, p := range fuzzPaths {
			if e.Required(p, fileInfo{size: 1 << 10}) {
				reached = true
			}
		}
		if !reached {
			t.Errorf("extractor %s wants none of fuzzPaths; add a path of its kind", e.Name())
		}
	}
}
