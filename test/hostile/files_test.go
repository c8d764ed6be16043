package hostile

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goBinary builds a small Go program and returns its bytes.
func goBinary(t *testing.T, dir string) []byte {
	t.Helper()
	src := filepath.Join(dir, "src")
	writeFile(t, filepath.Join(src, "go.mod"), []byte("module example.com/hostile\n\ngo 1.21\n"))
	writeFile(t, filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"))
	out := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corruptBuildInfo damages the bytes after the build-info magic: the
// pointers and lengths a reader follows.
func corruptBuildInfo(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte("\xff Go buildinf:"))
	if i < 0 {
		t.Fatal("no build info magic in the test binary")
	}
	b = bytes.Clone(b)
	// After the 14-byte magic, a pointer size, a flags byte and padding to
	// 32 bytes come the varint-prefixed version and module strings: claim
	// an impossible length.
	copy(b[i+32:], bytes.Repeat([]byte{0xff}, 16))
	return b
}

func TestHostileFiles(t *testing.T) {
	const minute = time.Minute
	run := func(t *testing.T, entries ...entry) (outcome, *env) {
		t.Helper()
		e := newEnv(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{}, entries...)
		return e.run(t, 3*minute, "sbom", "oci:"+dir, "-f", "json"), e
	}
	t.Run("jar-zip-bomb", func(t *testing.T) {
		o, _ := run(t, entry{name: "app/lib/bomb-1.0.jar", body: zipBomb(t, "META-INF/MANIFEST.MF", 300<<20)})
		record(t, o, expectProblem(t, o, `bomb-1.0.jar`, `(?i)limit|exceed|too large|budget`))
		expectRSS(t, o, 250)
	})
	t.Run("jar-nested-200-deep", func(t *testing.T) {
		o, _ := run(t, entry{name: "app/lib/deep-1.0.jar", body: nestedJar(t, 200)})
		record(t, o, expectProblem(t, o, `deep-1.0.jar`, `(?i)nest|deep|depth|limit`))
		expectRSS(t, o, 250)
	})
	t.Run("jar-many-entries", func(t *testing.T) {
		var es []zipEntry
		for i := 0; i < 200_000; i++ {
			es = append(es, zipEntry{name: "x/" + strings.Repeat("a", i%50) + "/" + string(rune('a'+i%26)) + ".class", store: true})
		}
		o, _ := run(t, entry{name: "app/lib/many-1.0.jar", body: zipOf(t, es...)})
		msg := "ok: no problem"
		if o.code == 0 {
			for _, p := range parseSBOM(t, o).Problems {
				if strings.Contains(p.Path, "many-1.0.jar") {
					msg = "problem: " + p.Path + ": " + p.Message
				}
			}
		} else {
			t.Errorf("exit %d: %s", o.code, o.stderr)
		}
		record(t, o, msg)
		expectRSS(t, o, 300)
	})
	t.Run("package-json-malformed", func(t *testing.T) {
		o, _ := run(t,
			file("app/node_modules/a/package.json", `{"name": "a", "version": `),
			file("app/node_modules/b/package.json", `["not", "an", "object"]`),
			file("app/node_modules/c/package.json", "\x00\xff\xfe"),
		)
		record(t, o, expectProblem(t, o, `node_modules/a/package.json`, `(?i)malformed|unexpected|invalid`))
		expectRSS(t, o, 150)
	})
	t.Run("package-lock-400MiB-of-brackets", func(t *testing.T) {
		e := newEnv(t)
		l := newLayout(t, filepath.Join(e.in, "img"))
		l.addLayer(func(tw *tar.Writer) error {
			const n = 400 << 20
			prefix := `{"lockfileVersion":3,"zzz":`
			return streamFile(tw, "app/package-lock.json", int64(len(prefix))+n, io.MultiReader(strings.NewReader(prefix), repeatReader('[', n)))
		}, layerOpts{})
		o := e.run(t, 3*minute, "sbom", "oci:"+l.finish(), "-f", "json")
		record(t, o, expectProblem(t, o, `package-lock.json`, `nests deeper than 512 levels`))
		expectRSS(t, o, 300)
	})
	t.Run("lockfiles-malformed", func(t *testing.T) {
		o, _ := run(t,
			file("app/package-lock.json", `{"lockfileVersion":3,"packages":{"node_modules/a":{"version":[1]}}}`),
			file("app2/yarn.lock", "a@^1:\n  version\n\x00\x00\"unterminated\n"),
			file("app3/pnpm-lock.yaml", "lockfileVersion: '9.0'\npackages: [&a [*a, *a]]\n"),
			file("app4/vendor/composer/installed.json", `{"packages":[{"name":7}]}`),
			file("app5/app.deps.json", `{"libraries":{"a/1":"x"}}`),
		)
		record(t, o, expectProblem(t, o, `package-lock.json`, `(?i)malformed|invalid|cannot`))
		expectRSS(t, o, 150)
	})
	t.Run("go-buildinfo-corrupted", func(t *testing.T) {
		b := corruptBuildInfo(t, goBinary(t, t.TempDir()))
		o, _ := run(t, entry{name: "usr/local/bin/app", body: b, mode: 0o755})
		msg := ""
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		s := parseSBOM(t, o)
		for _, p := range s.Problems {
			if p.Path == "usr/local/bin/app" {
				msg = "problem: " + p.Path + ": " + p.Message
				checkMessage(t, "problem: "+p.Message, "")
			}
		}
		for _, p := range s.Packages {
			if p.Name == "example.com/hostile" {
				t.Errorf("read a module from damaged build info: %+v", p)
			}
		}
		if msg == "" {
			// debug/buildinfo reports unreadable strings as "not a Go
			// executable", so the file is skipped like any other binary.
			msg = "ok: skipped, no module invented from damaged build info"
		}
		record(t, o, msg)
		expectRSS(t, o, 150)
	})
	t.Run("rpm-databases-corrupted", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		junk := func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			return b
		}
		bdb := junk(64 << 10)
		binary.LittleEndian.PutUint32(bdb[12:], 0x00061561) // hash magic
		binary.LittleEndian.PutUint32(bdb[20:], 4096)       // page size
		bdb[24] = 0                                         // not encrypted
		binary.LittleEndian.PutUint32(bdb[32:], 1<<30)      // claims a billion pages
		ndb := junk(64 << 10)
		binary.LittleEndian.PutUint32(ndb[0:], 0x506d7052) // "RpmP"
		binary.LittleEndian.PutUint32(ndb[4:], 0)
		binary.LittleEndian.PutUint32(ndb[12:], 2)
		sqlite := append([]byte("SQLite format 3\x00"), junk(64<<10)...)
		o, _ := run(t,
			entry{name: "var/lib/rpm/Packages", body: bdb},
			entry{name: "usr/lib/sysimage/rpm/Packages.db", body: ndb},
			entry{name: "var/lib/rpm/rpmdb.sqlite", body: sqlite},
		)
		record(t, o, expectProblem(t, o, `var/lib/rpm/Packages`, `(?i)malformed|Berkeley`))
		s := parseSBOM(t, o)
		for _, p := range s.Problems {
			if strings.Contains(p.Message, "internal error") {
				t.Errorf("a parser panicked: %s: %s", p.Path, p.Message)
			}
		}
		expectRSS(t, o, 200)
	})
}
