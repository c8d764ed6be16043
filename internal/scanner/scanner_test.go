package scanner

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
)

const osRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

func stanza(pkg, version, source string) string {
	s := "Package: " + pkg + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version + "\n"
	if source != "" {
		s += "Source: " + source + "\n"
	}
	return s + "Description: test\n\n"
}

type file struct{ name, body, link string }

func tarLayer(t testing.TB, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func baseAndApp(t testing.TB) (base, app v1.Image) {
	t.Helper()
	base, err := mutate.AppendLayers(empty.Image,
		tarLayer(t,
			file{name: "usr/lib/os-release", body: osRelease},
			file{name: "etc/os-release", link: "../usr/lib/os-release"},
			file{name: "var/lib/dpkg/status", body: stanza("libssl3", "3.0.11-1~deb12u1", "openssl") + stanza("zlib1g", "1:1.2.13.dfsg-1", "zlib (1:1.2.13.dfsg-1)")},
		))
	if err != nil {
		t.Fatal(err)
	}
	base = withPlatform(t, base)
	app, err = mutate.AppendLayers(base, tarLayer(t,
		file{name: "var/lib/dpkg/status", body: stanza("libssl3", "3.0.11-1~deb12u1", "openssl") + stanza("zlib1g", "1:1.2.13.dfsg-1", "zlib (1:1.2.13.dfsg-1)") + stanza("curl", "7.88.1-10+deb12u5", "")},
		file{name: "app/main", body: "#!/bin/sh\n"},
	))
	if err != nil {
		t.Fatal(err)
	}
	return base, app
}

func withPlatform(t testing.TB, img v1.Image) v1.Image {
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type countingTransport struct {
	blobs atomic.Int64
	rt    http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		c.blobs.Add(1)
	}
	return c.rt.RoundTrip(r)
}

type pkgSummary struct {
	Name, Version, Source string
	LayerIndex            int
	Origin                inventory.Origin
}

func summarise(inv *inventory.Inventory) []pkgSummary {
	var out []pkgSummary
	for _, p := range inv.Packages {
		out = append(out, pkgSummary{p.Name, p.Version, p.SourceName, p.LayerIndex, p.Origin})
	}
	return out
}

func TestScanRegistryImageWithBaseAnnotation(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	base, app := baseAndApp(t)
	baseRef, _ := name.ParseReference(reg + "/os/debian:12")
	if err := remote.Write(baseRef, base); err != nil {
		t.Fatal(err)
	}
	bd, _ := base.Digest()
	app = mutate.Annotations(app, map[string]string{
		image.AnnotationBaseName:   reg + "/os/debian:12",
		image.AnnotationBaseDigest: bd.String(),
	}).(v1.Image)
	appRef, _ := name.ParseReference(reg + "/team/app:1")
	if err := remote.Write(appRef, app); err != nil {
		t.Fatal(err)
	}

	cache, err := layerfs.OpenCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{rt: http.DefaultTransport}
	resolver := func(ctx context.Context, n, d string) (*Base, error) {
		img, err := image.Open(ctx, n+"@"+d, image.WithTransport(tr))
		if err != nil {
			return nil, err
		}
		cf, err := img.Image.ConfigFile()
		if err != nil {
			return nil, err
		}
		return &Base{Name: n, Digest: d, DiffIDs: cf.RootFS.DiffIDs}, nil
	}
	scan := func() *inventory.Inventory {
		img, err := image.Open(ctx, reg+"/team/app:1", image.WithTransport(tr))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Scan(ctx, img, WithCache(cache), WithTempDir(t.TempDir()), WithBaseResolver(resolver))
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		return inv
	}
	inv := scan()
	want := []pkgSummary{
		{"curl", "7.88.1-10+deb12u5", "curl", 1, inventory.OriginApp},
		{"libssl3", "3.0.11-1~deb12u1", "openssl", 0, inventory.OriginBase},
		{"zlib1g", "1:1.2.13.dfsg-1", "zlib", 0, inventory.OriginBase},
	}
	if diff := cmp.Diff(want, summarise(inv)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if inv.OS == nil || inv.OS.ID != "debian" || inv.OS.VersionID != "12" {
		t.Errorf("OS = %+v", inv.OS)
	}
	if inv.Source.BaseLayers != 1 || inv.Source.BaseMethod != "annotation" {
		t.Errorf("base: %+v", inv.Source)
	}
	if got := inv.Packages[1].PURL; got != "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl" {
		t.Errorf("purl = %s", got)
	}
	if len(inv.Problems) != 0 {
		t.Errorf("problems: %+v", inv.Problems)
	}
	firstBlobs := tr.blobs.Load()

	// Warm: every layer from the cache, and no layer blob fetched. The
	// config blob is still read (it names the layers).
	inv2 := scan()
	for _, l := range inv2.Layers {
		if !l.Cached {
			t.Errorf("layer %d not from cache on rescan", l.Index)
		}
	}
	if diff := cmp.Diff(summarise(inv), summarise(inv2)); diff != "" {
		t.Errorf("warm scan differs (-cold +warm):\n%s", diff)
	}
	warmBlobs := tr.blobs.Load() - firstBlobs
	if warmBlobs > 2 { // app config + base config for the resolver
		t.Errorf("warm rescan fetched %d blobs; want only configs", warmBlobs)
	}
}

// lyingRegistry serves blobs with one byte changed.
func TestScanLyingRegistry(t *testing.T) {
	ctx := context.Background()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && r.Header.Get("X-Tamper") == "" {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			b := rec.Body.Bytes()
			if len(b) > 100 && !strings.Contains(string(b[:20]), "{") {
				b[len(b)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(b)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	_, app := baseAndApp(t)
	ref, _ := name.ParseReference(reg + "/team/app:1")
	if err := remote.Write(ref, app); err != nil {
		t.Fatal(err)
	}
	img, err := image.Open(ctx, reg+"/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	cache, _ := layerfs.OpenCache(cacheDir)
	_, err = Scan(ctx, img, WithCache(cache), WithTempDir(t.TempDir()))
	if err == nil {
		t.Fatal("tampered layer: want error")
	}
	// Nothing from the lying registry may be cached.
	var files []string
	filepath.Walk(cacheDir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("cache written from a tampered layer: %v", files)
	}
}

func TestScanLayoutDiffIDMismatch(t *testing.T) {
	ctx := context.Background()
	_, app := baseAndApp(t)
	// Replace the config's diff_ids with another layer's: the manifest and
	// config are self-consistent, the layer content is not what they claim.
	cf, _ := app.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0], cf.RootFS.DiffIDs[1] = cf.RootFS.DiffIDs[1], cf.RootFS.DiffIDs[0]
	bad, err := mutate.ConfigFile(app, cf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, _ := layout.Write(dir, empty.Index)
	if err := lp.AppendImage(bad); err != nil {
		t.Fatal(err)
	}
	img, err := image.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Scan(ctx, img, WithTempDir(t.TempDir()))
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("want ErrDigestMismatch, got %v", err)
	}
}

func TestScanTruncatedLayerInLayout(t *testing.T) {
	ctx := context.Background()
	_, app := baseAndApp(t)
	dir := t.TempDir()
	lp, _ := layout.Write(dir, empty.Index)
	if err := lp.AppendImage(app); err != nil {
		t.Fatal(err)
	}
	ls, _ := app.Layers()
	d, _ := ls[0].Digest()
	p := filepath.Join(dir, "blobs", "sha256", d.Hex)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	// Caught when opening (the blob is not the size its descriptor says)
	// or, at the latest, when reading it.
	img, err := image.Open(ctx, dir)
	if err == nil {
		_, err = Scan(ctx, img, WithTempDir(t.TempDir()))
	}
	if err == nil {
		t.Fatal("truncated layer: want error")
	}
}

func TestScanRootfs(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(osRelease), 0o644)
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(stanza("bash", "5.2.15-2+b2", "")), 0o644)
	img, err := image.Open(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Scan(context.Background(), img, WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) != 1 || inv.Packages[0].Name != "bash" || inv.OS == nil || inv.OS.ID != "debian" {
		t.Fatalf("inventory: %+v", inv)
	}
}

func TestScanNonTarLayer(t *testing.T) {
	// A layer whose blob is not a tar at all.
	l := static.NewLayer([]byte("this is not a tar archive, it is a lie told by a registry"), types.OCILayer)
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img = withPlatform(t, img)
	dir := t.TempDir()
	lp, _ := layout.Write(dir, empty.Index)
	lp.AppendImage(img)
	opened, err := image.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Scan(context.Background(), opened, WithTempDir(t.TempDir())); err == nil {
		t.Fatal("want error for a non-tar layer")
	}
}

func TestPreferInstalled(t *testing.T) {
	npmPkg := func(name, p string) inventory.Package {
		return inventory.Package{Name: name, Version: "1.0.0", Type: inventory.TypeNPM, Path: p}
	}
	devPkg := npmPkg("a", "app/package-lock.json")
	devPkg.Dev = true
	in := []inventory.Package{
		devPkg,
		npmPkg("a", "app/node_modules/a/package.json"),
		npmPkg("b", "other/yarn.lock"),
		npmPkg("c", "package-lock.json"),
		npmPkg("c", "node_modules/c/package.json"),
		{Name: "zlib1g", Type: inventory.TypeDeb, Path: "var/lib/dpkg/status"},
	}
	var got []string
	for _, p := range preferInstalled(in) {
		got = append(got, fmt.Sprintf("%s %s dev=%v", p.Name, p.Path, p.Dev))
	}
	want := []string{"a app/node_modules/a/package.json dev=true", "b other/yarn.lock dev=false", "c node_modules/c/package.json dev=false", "zlib1g var/lib/dpkg/status dev=false"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// A manifest that lies about a layer's size (the digest is right) must not
// be trusted: the registry or layout is lying about what it serves.
func TestScanManifestLiesAboutSize(t *testing.T) {
	ctx := context.Background()
	_, app := baseAndApp(t)
	m, err := app.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	m = m.DeepCopy()
	m.Layers[0].Size -= 7
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, _ := layout.Write(dir, empty.Index)
	if err := lp.AppendImage(app); err != nil {
		t.Fatal(err)
	}
	h, size, _ := v1.SHA256(bytes.NewReader(raw))
	if err := lp.WriteBlob(h, io.NopCloser(bytes.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	mt, _ := app.MediaType()
	if err := lp.AppendDescriptor(v1.Descriptor{MediaType: mt, Digest: h, Size: size}); err != nil {
		t.Fatal(err)
	}
	img, err := image.Open(ctx, "oci:"+dir+"@"+h.String())
	if err == nil {
		_, err = Scan(ctx, img, WithTempDir(t.TempDir()))
	}
	if !errors.Is(err, ErrDigestMismatch) && !errors.Is(err, image.ErrDigestMismatch) {
		t.Fatalf("want a digest mismatch for a lying size, got %v", err)
	}
}
