package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Resource bounds found by crafted inputs (issue 17), each reproduced
// through `drydock sbom` on a crafted OCI archive.

// streamedLayer builds a gzipped layer from n entries made by entry(i),
// without holding the uncompressed tar.
func streamedLayer(t testing.TB, n int, entry func(i int) (*tar.Header, []byte)) v1.Layer {
	t.Helper()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	for i := 0; i < n; i++ {
		h, body := entry(i)
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	b := gz.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func archiveOfLayers(t testing.TB, ls ...v1.Layer) string {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return ociArchive(t, layoutOf(t, platformed(t, img, nil)))
}

// runRSS runs drydock and returns its peak RSS in KiB too.
func (e *env) runRSS(t *testing.T, args ...string) (stdout, stderr string, code int, rssKiB int64) {
	t.Helper()
	stdout, stderr, code = e.run(t, args...)
	return stdout, stderr, code, lastRSS
}

func TestSBOMBoundsProblemsPerLayer(t *testing.T) {
	// 200,000 entries that climb above the root, each a problem.
	const n = 200_000
	src := archiveOfLayers(t, streamedLayer(t, n, func(i int) (*tar.Header, []byte) {
		return &tar.Header{Name: fmt.Sprintf("../x/%d", i), Mode: 0o644, Typeflag: tar.TypeReg}, nil
	}))
	e := newEnv(t)
	out, errOut, code, rss := e.runRSS(t, "sbom", "--format", "json", src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var inv struct{ Problems []struct{ Message string } }
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	climbs, counted := 0, false
	for _, p := range inv.Problems {
		climbs += strings.Count(p.Message, "climbs above the image root")
		counted = counted || strings.Contains(p.Message, fmt.Sprintf("%d more problems in this layer", n-1000))
	}
	if climbs != 1000 || !counted {
		t.Errorf("%d escaping entries listed (want 1,000), the other %d counted: %v", climbs, n-1000, counted)
	}
	if len(out) > 1<<20 {
		t.Errorf("report is %d bytes", len(out))
	}
	var entries []int64
	filepath.Walk(filepath.Join(e.cache, "layers"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			entries = append(entries, fi.Size())
		}
		return nil
	})
	if len(entries) != 1 || entries[0] > 1<<20 {
		t.Errorf("cache entries %v: want one under 1 MiB", entries)
	}
	// Peak memory: bounded by the cap, not by the entries (was 1.2 GB for
	// a million).
	if rss > 200<<10 {
		t.Errorf("peak RSS %d MiB, want under 200 MiB", rss>>10)
	}
	t.Logf("peak RSS %d MiB", rss>>10)
}

func TestSBOMBoundsSymlinks(t *testing.T) {
	src := archiveOfLayers(t, streamedLayer(t, 100_001, func(i int) (*tar.Header, []byte) {
		return &tar.Header{Name: fmt.Sprintf("l/%d", i), Linkname: "../etc/os-release", Typeflag: tar.TypeSymlink}, nil
	}))
	e := newEnv(t)
	out, errOut, code := e.run(t, "sbom", "--format", "json", src)
	if code != 2 {
		t.Fatalf("exit %d, want 2; stdout %.300s stderr %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "more than 100000 symlinks") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("stderr %q: want one line naming the symlink limit", errOut)
	}
}

func TestSBOMManyStatusDFiles(t *testing.T) {
	// 20,000 files here (the 200,000 is in BenchmarkStatusD):
	// every one is a package, and no scratch is left behind.
	const n = 20_000
	src := archiveOfLayers(t, streamedLayer(t, n, func(i int) (*tar.Header, []byte) {
		body := fmt.Sprintf("Package: pkg%d\nVersion: 1.%d\nArchitecture: amd64\n\n", i, i)
		return &tar.Header{Name: fmt.Sprintf("var/lib/dpkg/status.d/pkg%d", i), Mode: 0o644, Typeflag: tar.TypeReg}, []byte(body)
	}))
	e := newEnv(t)
	out, errOut, code := e.run(t, "sbom", "--format", "json", src)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := len(packageNames(t, out)); got != n {
		t.Errorf("%d packages, want %d", got, n)
	}
	ents, _ := os.ReadDir(filepath.Join(e.cache, "tmp"))
	if len(ents) != 0 {
		t.Errorf("scratch left in the cache: %v", ents)
	}
}

func TestSBOMLayoutIndexIsDevZero(t *testing.T) {
	dir := layoutOf(t, dpkgImage(t, "libapp", nil))
	os.Remove(filepath.Join(dir, "index.json"))
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "index.json")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	_, errOut, code, rss := e.runRSS(t, "sbom", "--format", "json", "oci:"+dir)
	if code != 2 || !strings.Contains(errOut, "index.json is a symlink") {
		t.Errorf("exit %d, stderr %q: want 2 and a message that index.json is a symlink", code, errOut)
	}
	if rss > 200<<10 {
		t.Errorf("peak RSS %d MiB reading a layout whose index.json is /dev/zero", rss>>10)
	}
}

// A run killed while spilling leaves its scratch; the next run removes it
// (and leaves a live run's alone).
func TestStaleScratchIsCleaned(t *testing.T) {
	e := newEnv(t)
	tmp := filepath.Join(e.cache, "tmp")
	stale := filepath.Join(tmp, "run-killed")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stale, ".lock"), nil, 0o600)
	os.WriteFile(filepath.Join(stale, "file-123"), make([]byte, 1<<20), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	// A live run's: locked by this process.
	live := filepath.Join(tmp, "run-live")
	os.MkdirAll(live, 0o755)
	f, err := os.Create(filepath.Join(live, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(live, old, old)

	if _, errOut, code := e.run(t, "sbom", "--format", "json", layoutOf(t, dpkgImage(t, "libapp", nil))); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("a killed run's scratch %s was not removed", stale)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live run's scratch was removed: %v", err)
	}
}
