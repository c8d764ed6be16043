package scanner

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
)

// The layer cache must not be selectable by a config's claimed diffID: an
// image whose config claims the diffID of a cached clean layer, while its
// blob holds something else, must fail (or be read for what it is), never
// be reported with the clean layer's packages (issue 10, attack 2).

func cleanAndEvil(t *testing.T) (clean, evil v1.Image) {
	t.Helper()
	clean, err := mutate.AppendLayers(empty.Image, tarLayer(t,
		file{name: "usr/lib/os-release", body: osRelease},
		file{name: "var/lib/dpkg/status", body: stanza("libclean", "1.0", "")}))
	if err != nil {
		t.Fatal(err)
	}
	clean = withPlatform(t, clean)
	evil, err = mutate.AppendLayers(empty.Image, tarLayer(t,
		file{name: "usr/lib/os-release", body: osRelease},
		file{name: "var/lib/dpkg/status", body: stanza("libvulnerable", "0.1", "")}))
	if err != nil {
		t.Fatal(err)
	}
	evil = withPlatform(t, evil)
	return clean, withDiffIDs(t, evil, clean)
}

// withDiffIDs makes img's config claim the diffIDs of from's layers.
func withDiffIDs(t *testing.T, img, from v1.Image) v1.Image {
	t.Helper()
	want, _ := from.ConfigFile()
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = append([]v1.Hash(nil), want.RootFS.DiffIDs...)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeLayout(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeDockerArchive(t *testing.T, img v1.Image) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image.tar")
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func names(inv *inventory.Inventory) []string {
	var out []string
	for _, p := range inv.Packages {
		out = append(out, p.Name)
	}
	return out
}

func scanSource(t *testing.T, cache *layerfs.Cache, src string) (*inventory.Inventory, error) {
	t.Helper()
	ctx := context.Background()
	img, err := image.Open(ctx, src, image.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatalf("open %s: %v", src, err)
	}
	defer img.Close()
	return Scan(ctx, img, WithCache(cache), WithTempDir(t.TempDir()))
}

func TestCachePoisoningByClaimedDiffID(t *testing.T) {
	clean, evil := cleanAndEvil(t)
	cleanLayout := writeLayout(t, clean)
	for _, tc := range []struct {
		name string
		src  func(t *testing.T) string
	}{
		{"oci layout", func(t *testing.T) string { return writeLayout(t, evil) }},
		{"docker archive", func(t *testing.T) string { return writeDockerArchive(t, evil) }},
		{"docker save archive", func(t *testing.T) string { return writeClassicDockerArchive(t, evil) }},
		{"oci archive", func(t *testing.T) string { return tarLayout(t, writeLayout(t, evil)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache, _ := layerfs.OpenCache(t.TempDir())
			inv, err := scanSource(t, cache, cleanLayout)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(inv); len(got) != 1 || got[0] != "libclean" {
				t.Fatalf("clean image packages = %v", got)
			}
			inv, err = scanSource(t, cache, tc.src(t))
			if err == nil {
				t.Fatalf("an image whose config lies about a cached diffID was scanned: packages %v (cached %v)", names(inv), inv.Layers[0].Cached)
			}
			if !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("err = %v, want ErrDigestMismatch", err)
			}
			if !strings.Contains(err.Error(), "layer digest mismatch") {
				t.Errorf("message %q does not say layer digest mismatch", err)
			}
		})
	}
}

// The other way round: the manifest names a cached blob, the config claims
// another diffID. The cache entry records the diffID the blob was verified
// to have, so the lie is caught without reading the layer.
func TestCachedBlobWithLyingConfig(t *testing.T) {
	clean, evil := cleanAndEvil(t)
	cache, _ := layerfs.OpenCache(t.TempDir())
	if _, err := scanSource(t, cache, writeLayout(t, clean)); err != nil {
		t.Fatal(err)
	}
	// clean's blob, evil's (real) diffIDs.
	realEvil, _ := mutate.AppendLayers(empty.Image, mustLayers(t, evil)...)
	lying := withDiffIDs(t, clean, realEvil)
	dir := writeLayout(t, lying)
	// Remove the blob: the mismatch must be found from the cache entry.
	ls, _ := clean.Layers()
	d, _ := ls[0].Digest()
	if err := os.Remove(filepath.Join(dir, "blobs", d.Algorithm, d.Hex)); err != nil {
		t.Fatal(err)
	}
	_, err := scanSource(t, cache, dir)
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "verified when it was first read") {
		t.Fatalf("err = %v, want a layer digest mismatch from the cache entry", err)
	}
}

func mustLayers(t testing.TB, img v1.Image) []v1.Layer {
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// Warm rescans of layouts find every layer by its blob digest; of docker
// archives, by the archive file's identity once it has settled; a changed
// archive is read again.
func TestWarmRescanKeys(t *testing.T) {
	clean, _ := cleanAndEvil(t)
	cache, _ := layerfs.OpenCache(t.TempDir())
	dir := writeLayout(t, clean)
	for i, want := range []bool{false, true} {
		inv, err := scanSource(t, cache, dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.Layers[0].Cached; got != want {
			t.Errorf("layout scan %d: cached = %v, want %v", i, got, want)
		}
	}

	// An OCI archive is read in place: a warm rescan finds the layer by the
	// blob digest its manifest names and reads none of the layer's bytes
	// (here they are overwritten with zeros after the first scan, and the
	// analysis still comes from the cache).
	oci := tarLayout(t, writeLayout(t, clean))
	if inv, err := scanSource(t, cache, oci); err != nil || !inv.Layers[0].Cached {
		t.Fatalf("OCI archive of a cached layer: err %v, not served from the cache", err)
	}
	zeroLayerInArchive(t, oci, clean)
	if inv, err := scanSource(t, cache, oci); err != nil || !inv.Layers[0].Cached || len(names(inv)) != 1 {
		t.Fatalf("warm OCI archive rescan read the layer: err %v", err)
	}
	// A cold cache reads them, and finds the damage.
	if _, err := scanSource(t, func() *layerfs.Cache { c, _ := layerfs.OpenCache(t.TempDir()); return c }(), oci); err == nil {
		t.Fatalf("zeroed layer in a cold scan: want an error")
	}

	for _, write := range []func(*testing.T, v1.Image) string{writeDockerArchive, func(t *testing.T, img v1.Image) string { return writeClassicDockerArchive(t, img) }} {
		warmDockerArchive(t, cache, write(t, clean))
	}
}

func warmDockerArchive(t *testing.T, cache *layerfs.Cache, archive string) {
	t.Helper()
	// Fresh file: its change time is too recent to key it by identity.
	inv, err := scanSource(t, cache, archive)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Layers[0].Cached {
		t.Errorf("a fresh docker archive was served from the cache")
	}
	time.Sleep(2100 * time.Millisecond)
	for i, want := range []bool{false, true} {
		inv, err := scanSource(t, cache, archive)
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.Layers[0].Cached; got != want {
			t.Errorf("settled docker archive scan %d: cached = %v, want %v", i, got, want)
		}
		if got := names(inv); len(got) != 1 || got[0] != "libclean" {
			t.Errorf("packages = %v", got)
		}
	}
	// Rewriting the archive in place (same name, same mtime) changes its
	// change time: it is read again.
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(archive)
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(archive, fi.ModTime(), fi.ModTime())
	inv, err = scanSource(t, cache, archive)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Layers[0].Cached {
		t.Errorf("a rewritten docker archive was served from the cache")
	}
}

func tarLayout(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oci.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// zeroLayerInArchive overwrites the bytes of img's first layer blob inside
// the archive, in place.
func zeroLayerInArchive(t *testing.T, archive string, img v1.Image) {
	t.Helper()
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	blob, _ := ls[0].Compressed()
	want, _ := io.ReadAll(blob)
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, want)
	if i < 0 {
		t.Fatalf("layer %s not found in the archive", d)
	}
	copy(b[i:i+len(want)], make([]byte, len(want)))
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeClassicDockerArchive writes img as docker save did before Docker 25:
// manifest.json, the config as <hex>.json, each layer uncompressed as
// <n>/layer.tar.
func writeClassicDockerArchive(t testing.TB, img v1.Image) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "docker-save.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		tw.Write(b)
	}
	cfg, _ := img.RawConfigFile()
	cn, _ := img.ConfigName()
	var layers []string
	for n, l := range mustLayers(t, img) {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		name := fmt.Sprintf("%d/layer.tar", n)
		add(name, b)
		layers = append(layers, name)
	}
	add(cn.Hex+".json", cfg)
	m, _ := json.Marshal([]map[string]any{{"Config": cn.Hex + ".json", "RepoTags": []string{"example.com/app:1"}, "Layers": layers}})
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
