package npm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/testenv"
)

func seedAll(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add(readTestdata(f, name))
	}
}

func FuzzPackageLock(f *testing.F) {
	b, err := os.ReadFile(testenv.Fixture(f, "npm", "package-lock.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"lockfileVersion":1,"dependencies":{"a":{"version":"npm:@s/b@1","dependencies":{"c":{"version":"1"}}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePackageLock(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzYarnLock(f *testing.F) {
	seedAll(f, "yarn-v1.lock", "yarn-berry.lock")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParseYarnLock(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzPnpmLock(f *testing.F) {
	seedAll(f, "pnpm-v5.yaml", "pnpm-v6.yaml", "pnpm-v9.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _ := ParsePnpmLock(context.Background(), bytes.NewReader(b))
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}

func FuzzPackageJSON(f *testing.F) {
	seedAll(f, "fixture-package.json")
	f.Add([]byte(`{"name":"@s/a","version":"1.0.0","licenses":[{"type":"MIT"},["x"],"BSD"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, _ := ParsePackageJSON(bytes.NewReader(b))
		if p != nil && (p.Name == "" || p.Version == "") {
			t.Fatalf("package without name or version: %+v", p)
		}
	})
}

// lockGen produces a package-lock.json of n packages without holding it in
// memory, so that a memory measurement sees only the parser. Each entry
// carries a few KiB of dependencies, as entries of large packages do.
type lockGen struct {
	n, i int
	buf  bytes.Buffer
	done bool
}

func (g *lockGen) Read(p []byte) (int, error) {
	for g.buf.Len() < len(p) && !g.done {
		switch {
		case g.i == 0:
			g.buf.WriteString(`{"name":"big","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"big","version":"1.0.0"}`)
		case g.i <= g.n:
			fmt.Fprintf(&g.buf, `,"node_modules/pkg-%d":{"version":"1.0.%d","resolved":"https://registry.example/pkg-%d/-/pkg-%d-1.0.%d.tgz","integrity":"sha512-%s","dev":%v,"dependencies":{`,
				g.i, g.i, g.i, g.i, g.i, strings.Repeat("A", 86), g.i%2 == 0)
			for d := 0; d < 100; d++ {
				if d > 0 {
					g.buf.WriteByte(',')
				}
				fmt.Fprintf(&g.buf, `"dependency-number-%d":"^%d.0.0"`, d, d)
			}
			g.buf.WriteString(`}}`)
		default:
			g.buf.WriteString(`}}`)
			g.done = true
		}
		g.i++
	}
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

// TestLargeLockfileMemory parses a 50 MB lockfile streamed from a generator
// and checks that the heap never holds anything near the file's size.
func TestLargeLockfileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	const n = 17000 // about 3 KiB per entry: 50 MB in all
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	cr := &countingReader{r: &lockGen{n: n}}
	pkgs, err := ParsePackageLock(context.Background(), cr)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatalf("ParsePackageLock: %v", err)
	}
	if len(pkgs) != n {
		t.Fatalf("got %d packages, want %d", len(pkgs), n)
	}
	if cr.n < 50<<20 {
		t.Fatalf("generated only %d bytes, want 50 MiB", cr.n)
	}
	grown := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("read %d MiB, heap grew by at most %d MiB", cr.n>>20, grown>>20)
	if grown > 24<<20 {
		t.Errorf("heap grew by %d MiB while parsing a %d MiB lockfile; want far less than the file", grown>>20, cr.n>>20)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func BenchmarkPackageLock(b *testing.B) {
	data, err := os.ReadFile(testenv.Fixture(b, "npm", "package-lock.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePackageLock(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPnpmLock(b *testing.B) {
	data := readTestdata(b, "pnpm-v9.yaml")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePnpmLock(context.Background(), bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequired(b *testing.B) {
	e := New()
	paths := []string{"usr/lib/python3/dist-packages/foo/__init__.py", "app/node_modules/@babel/core/package.json", "app/node_modules/lodash/lib/x.js", "app/package-lock.json"}
	for b.Loop() {
		for _, p := range paths {
			e.Required(p, nil)
		}
	}
}
