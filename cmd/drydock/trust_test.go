package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Crafted images for the trust-chain tests (issue 10), built in Go and fed
// to the CLI as a user would: as an OCI layout directory or an OCI archive.

type tarEntry struct {
	name, body, link string
	typ              byte
}

func layerOf(t testing.TB, entries ...tarEntry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body)), Linkname: e.link}
		if e.typ != 0 {
			h.Typeflag, h.Size = e.typ, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dpkgImage(t testing.TB, pkg string, ann map[string]string) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layerOf(t,
		tarEntry{name: "usr/lib/os-release", body: "ID=debian\nVERSION_ID=\"12\"\n"},
		tarEntry{name: "var/lib/dpkg/status", body: "Package: " + pkg + "\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"}))
	if err != nil {
		t.Fatal(err)
	}
	return platformed(t, img, ann)
}

func platformed(t testing.TB, img v1.Image, ann map[string]string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if ann != nil {
		img = mutate.Annotations(img, ann).(v1.Image)
	}
	return img
}

func layoutOf(t testing.TB, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ociArchive tars an OCI layout directory, as `skopeo copy oci-archive:` or
// `docker buildx --output type=oci` write it.
func ociArchive(t testing.TB, layoutDir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(layoutDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(layoutDir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

func packageNames(t *testing.T, out string) []string {
	t.Helper()
	var inv struct{ Packages []struct{ Name string } }
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatalf("output is not JSON: %v\n%.500s", err, out)
	}
	var names []string
	for _, p := range inv.Packages {
		names = append(names, p.Name)
	}
	return names
}

// Attack 2: with a warm cache holding a clean layer, an image whose config
// claims that layer's diffID but whose blob holds other packages must fail
// with a layer digest mismatch, never be reported with the clean packages.
func TestCLICachePoisoning(t *testing.T) {
	clean := dpkgImage(t, "libclean", nil)
	evil := dpkgImage(t, "libvulnerable", nil)
	cleanCfg, _ := clean.ConfigFile()
	cf, _ := evil.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = cleanCfg.RootFS.DiffIDs
	evil, err := mutate.ConfigFile(evil, cf)
	if err != nil {
		t.Fatal(err)
	}
	evilLayout := layoutOf(t, evil)
	for _, tc := range []struct{ name, src string }{
		{"oci archive", ociArchive(t, evilLayout)},
		{"oci layout", evilLayout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			out, errOut, code := e.run(t, "sbom", "--format", "json", layoutOf(t, clean))
			if code != 0 {
				t.Fatalf("clean image: exit %d: %s", code, errOut)
			}
			if got := packageNames(t, out); len(got) != 1 || got[0] != "libclean" {
				t.Fatalf("clean image packages = %v", got)
			}
			out, errOut, code = e.run(t, "sbom", "--format", "json", tc.src)
			if code != 2 {
				t.Fatalf("lying image: exit %d, want 2; stdout %.300s stderr %s", code, out, errOut)
			}
			if !strings.Contains(errOut, "layer digest mismatch") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr %q: want one line saying layer digest mismatch", errOut)
			}
			if strings.Contains(out, "libclean") {
				t.Errorf("the lying image was reported with the cached clean packages:\n%s", out)
			}
		})
	}
}

// recordingServer stands for a host an image's annotation names: it
// records every request and answers 404.
func recordingServer(t *testing.T) (host string, hits *atomic.Int64) {
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), hits
}

// Attack 6: an image's own base annotation must not make drydock contact
// the host it names unless the user passes --resolve-base.
func TestCLIBaseAnnotationStaysLocal(t *testing.T) {
	host, hits := recordingServer(t)
	ann := map[string]string{
		"org.opencontainers.image.base.name":   host + "/os/base:1",
		"org.opencontainers.image.base.digest": "sha256:" + strings.Repeat("ab", 32),
	}
	img := dpkgImage(t, "libapp", ann)
	dir := layoutOf(t, img)
	// A name only, no digest: still never looked up.
	byName := layoutOf(t, dpkgImage(t, "libapp", map[string]string{"org.opencontainers.image.base.name": host + "/os/base:1"}))
	e := newEnv(t)
	for _, src := range []string{ociArchive(t, dir), dir, byName} {
		out, errOut, code := e.run(t, "sbom", "--format", "json", src)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", src, code, errOut)
		}
		if n := hits.Load(); n != 0 {
			t.Fatalf("%s: scanning made %d request(s) to %s, named by the image's annotation", src, n, host)
		}
		if !strings.Contains(out, "--resolve-base") {
			t.Errorf("%s: the report does not say the base was not looked up:\n%.1000s", src, out)
		}
	}
	// A base stored in the same OCI archive (or layout) is found there by
	// its digest, still without a request.
	base := dpkgImage(t, "libbase", nil)
	bd, _ := base.Digest()
	app, err := mutate.AppendLayers(base, layerOf(t, tarEntry{name: "app/README", body: "app"}))
	if err != nil {
		t.Fatal(err)
	}
	app = platformed(t, app, map[string]string{
		"org.opencontainers.image.base.name":   host + "/os/base:1",
		"org.opencontainers.image.base.digest": bd.String(),
	})
	both := layoutOf(t, base)
	lp, _ := layout.FromPath(both)
	if err := lp.AppendImage(app); err != nil {
		t.Fatal(err)
	}
	ad, _ := app.Digest()
	for _, src := range []string{"oci-archive:" + ociArchive(t, both) + "@" + ad.String(), "oci:" + both + "@" + ad.String()} {
		out, errOut, code := e.run(t, "sbom", "--format", "json", src)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", src, code, errOut)
		}
		var inv struct {
			Packages []struct{ Name, Origin string }
		}
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatal(err)
		}
		if len(inv.Packages) != 1 || inv.Packages[0].Origin != "base" {
			t.Errorf("%s: packages %+v, want libbase marked base from the base stored beside the image", src, inv.Packages)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("finding a base stored beside the image made %d request(s)", n)
	}

	// Asked for: the host is contacted (so the test above could fail).
	if _, errOut, code := e.run(t, "sbom", "--format", "json", "--resolve-base", ociArchive(t, dir)); code != 0 {
		t.Fatalf("--resolve-base: exit %d: %s", code, errOut)
	}
	if hits.Load() == 0 {
		t.Errorf("--resolve-base did not look the base up at %s", host)
	}
}
