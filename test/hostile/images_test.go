package hostile

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sbomJSON is the part of `drydock sbom -f json` these tests read.
type sbomJSON struct {
	OS *struct {
		ID string `json:"id"`
	} `json:"os"`
	Packages []struct {
		Name, Version, Type string
	} `json:"packages"`
	Problems []struct {
		Stage, Path, Extractor, Message string
	} `json:"problems"`
}

func parseSBOM(t *testing.T, o outcome) sbomJSON {
	t.Helper()
	var s sbomJSON
	if err := json.Unmarshal([]byte(o.stdout), &s); err != nil {
		t.Fatalf("sbom output is not JSON: %v\n%.300s", err, o.stdout)
	}
	return s
}

// expectProblem checks a run that tolerated a damaged file: exit 0, and a
// problem whose path matches path and whose message matches msg, worded for
// a user. It returns the message for the table.
func expectProblem(t *testing.T, o outcome, path, msg string) string {
	t.Helper()
	if o.code != 0 {
		t.Fatalf("exit code %d, want 0 with the file reported as a problem; stderr:\n%s", o.code, o.stderr)
	}
	s := parseSBOM(t, o)
	for _, p := range s.Problems {
		if badText.MatchString(p.Message) || strings.Contains(p.Message, "\n") {
			t.Errorf("problem message exposes internals or spans lines: %q", p.Message)
		}
	}
	pathRE, msgRE := regexp.MustCompile(path), regexp.MustCompile(msg)
	for _, p := range s.Problems {
		if pathRE.MatchString(p.Path) && msgRE.MatchString(p.Message) {
			return "problem: " + p.Path + ": " + p.Message
		}
	}
	t.Errorf("no problem on %q matching %q among %d: %+v", path, msg, len(s.Problems), firstProblems(s))
	return ""
}

func firstProblems(s sbomJSON) any {
	if len(s.Problems) > 5 {
		return s.Problems[:5]
	}
	return s.Problems
}

const dpkgStatus = "Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n"

// canary is a path outside the sandbox that a traversal would create.
func canary(t *testing.T) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("drydock-hostile-canary-%d-%s", os.Getpid(), strings.NewReplacer("/", "-").Replace(t.Name())))
}

func checkCanary(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); err == nil {
		os.RemoveAll(p)
		t.Errorf("a traversal created %s", p)
	}
}

func TestHostileImages(t *testing.T) {
	const minute = time.Minute
	t.Run("tar-dotdot-entries", func(t *testing.T) {
		e := newEnv(t)
		c := canary(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{},
			file("var/lib/dpkg/status", dpkgStatus),
			file("../../../../../../../../.."+c, "escaped"),
			file("../x/var/lib/dpkg/status", dpkgStatus),
		)
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		checkCanary(t, c)
		record(t, o, expectProblem(t, o, `\.\./`, `climbs above the image root`))
		expectRSS(t, o, 150)
	})
	t.Run("tar-absolute-entries", func(t *testing.T) {
		e := newEnv(t)
		c := canary(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{},
			file(c, "absolute"),
			file("/var/lib/dpkg/status", dpkgStatus),
		)
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		checkCanary(t, c)
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		// An absolute entry name is read relative to the image root, as
		// container runtimes unpack it.
		if s := parseSBOM(t, o); len(s.Packages) != 1 || s.Packages[0].Name != "base-files" {
			t.Errorf("packages %+v, want base-files from /var/lib/dpkg/status", s.Packages)
		}
		record(t, o, "ok: read relative to the image root")
		expectRSS(t, o, 150)
	})
	t.Run("symlink-escape", func(t *testing.T) {
		e := newEnv(t)
		// Links that would read the host's files if followed outside the root.
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{},
			entry{name: "etc/os-release", typ: tar.TypeSymlink, link: "../../../../../../etc/os-release"},
			entry{name: "var/lib/dpkg", typ: tar.TypeSymlink, link: "/var/lib/dpkg"},
			entry{name: "usr/lib/os-release", typ: tar.TypeSymlink, link: "/proc/self/environ"},
		)
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		s := parseSBOM(t, o)
		if len(s.Packages) != 0 {
			t.Errorf("read packages through a link to the host: %+v", s.Packages)
		}
		if s.OS != nil && s.OS.ID != "" {
			t.Errorf("read the host's os-release through a link: %+v", s.OS)
		}
		record(t, o, "ok: links resolved inside the image only")
		expectRSS(t, o, 150)
	})
	t.Run("hardlink-escape", func(t *testing.T) {
		e := newEnv(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{},
			entry{name: "var/lib/dpkg/status", typ: tar.TypeLink, link: "../../../../../../etc/passwd"},
		)
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		record(t, o, expectProblem(t, o, `var/lib/dpkg/status`, `hardlink target climbs above the image root`))
		expectRSS(t, o, 150)
	})
	t.Run("layer-digest-mismatch", func(t *testing.T) {
		e := newEnv(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{wrongBlob: true}, file("var/lib/dpkg/status", dpkgStatus))
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		record(t, o, "")
		expectError(t, o, 2, `(?i)digest`)
		expectRSS(t, o, 150)
	})
	t.Run("layer-diffid-mismatch", func(t *testing.T) {
		e := newEnv(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{wrongDiffID: true}, file("var/lib/dpkg/status", dpkgStatus))
		o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
		record(t, o, "")
		// A lying diffID would poison the per-layer cache, which is keyed by it.
		expectError(t, o, 2, `uncompressed content of layer hashes to sha256:[0-9a-f]{64}, config says`)
		expectRSS(t, o, 150)
	})
	for _, f := range []float64{0.5, 1000} {
		t.Run(fmt.Sprintf("manifest-size-lie-x%g", f), func(t *testing.T) {
			e := newEnv(t)
			dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{sizeFactor: f}, file("var/lib/dpkg/status", dpkgStatus))
			o := e.run(t, minute, "sbom", "oci:"+dir, "-f", "json")
			record(t, o, "")
			expectError(t, o, 2, `is [0-9]+ bytes, its descriptor says [0-9]+`)
			expectRSS(t, o, 150)
		})
	}
	t.Run("oci-archive-duplicate-entry", func(t *testing.T) {
		e := newEnv(t)
		dir := imageOf(t, filepath.Join(e.in, "img"), layerOpts{}, file("var/lib/dpkg/status", dpkgStatus))
		// The archive holds index.json twice: which one counts is up to the
		// tool, so drydock must refuse rather than pick.
		archive := filepath.Join(e.in, "dup.tar")
		f, err := os.Create(archive)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(f)
		writeEntries(tw, file("index.json", `{"schemaVersion":2,"manifests":[]}`))
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(dir, p)
			return writeEntries(tw, entry{name: filepath.ToSlash(r), body: b})
		})
		tw.Close()
		f.Close()
		o := e.run(t, minute, "sbom", "archive:"+archive, "-f", "json")
		record(t, o, "")
		expectError(t, o, 2, `the archive holds index\.json twice`)
		if strings.Contains(o.stderr, "file exists") {
			t.Errorf("misleading message: %s", o.stderr)
		}
	})
	t.Run("gzip-bomb-layer", func(t *testing.T) {
		e := newEnv(t)
		// 1 GiB of zeros in one wanted file (over the 512 MiB limit): 1 MiB compressed.
		l := newLayout(t, filepath.Join(e.in, "img"))
		l.addLayer(func(tw *tar.Writer) error {
			return streamFile(tw, "var/lib/dpkg/status", 1<<30, repeatReader(0, 1<<30))
		}, layerOpts{})
		dir := l.finish()
		o := e.run(t, 5*minute, "sbom", "oci:"+dir, "-f", "json")
		record(t, o, expectProblem(t, o, `var/lib/dpkg/status`, `(?i)exceeds|limit|too large`))
		expectRSS(t, o, 200)
	})
	t.Run("tar-million-entries", func(t *testing.T) {
		e := newEnv(t)
		l := newLayout(t, filepath.Join(e.in, "img"))
		l.addLayer(func(tw *tar.Writer) error {
			for i := 0; i < 1_000_000; i++ {
				if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/f%d", i%1000, i), Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
					return err
				}
			}
			return writeEntries(tw, file("var/lib/dpkg/status", dpkgStatus))
		}, layerOpts{})
		dir := l.finish()
		o := e.run(t, 5*minute, "sbom", "oci:"+dir, "-f", "json")
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		if s := parseSBOM(t, o); len(s.Packages) != 1 {
			t.Errorf("%d packages, want base-files after a million entries", len(s.Packages))
		}
		record(t, o, "ok: 1,000,000 entries walked")
		expectRSS(t, o, 200)
	})
	t.Run("dpkg-status-200MB-one-line", func(t *testing.T) {
		e := newEnv(t)
		l := newLayout(t, filepath.Join(e.in, "img"))
		const size = 200 << 20
		l.addLayer(func(tw *tar.Writer) error {
			return streamFile(tw, "var/lib/dpkg/status", size, io.MultiReader(strings.NewReader("Package: "), repeatReader('a', size)))
		}, layerOpts{})
		dir := l.finish()
		o := e.run(t, 5*minute, "sbom", "oci:"+dir, "-f", "json")
		record(t, o, expectProblem(t, o, `var/lib/dpkg/status`, `(?i)dpkg|line|stanza|long|limit`))
		expectRSS(t, o, 300)
	})
	t.Run("dpkg-status-60MB-one-line", func(t *testing.T) {
		// Under the dpkg size limit, so the line parser itself meets it.
		e := newEnv(t)
		l := newLayout(t, filepath.Join(e.in, "img"))
		const size = 60 << 20
		l.addLayer(func(tw *tar.Writer) error {
			return streamFile(tw, "var/lib/dpkg/status", size, io.MultiReader(strings.NewReader("Package: "), repeatReader('a', size)))
		}, layerOpts{})
		dir := l.finish()
		o := e.run(t, 5*minute, "sbom", "oci:"+dir, "-f", "json")
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		s := parseSBOM(t, o)
		if len(s.Packages) != 0 {
			t.Errorf("packages from a stanza without a version: %d", len(s.Packages))
		}
		msg := "ok: no package"
		for _, p := range s.Problems {
			if p.Path == "var/lib/dpkg/status" {
				msg = "problem: " + p.Path + ": " + p.Message
			}
		}
		record(t, o, msg)
		expectRSS(t, o, 400)
	})
}
