package scanner

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/layerfs"
)

// benchImage is the real Debian rootfs tarball when the test script made
// one (DRYDOCK_E2E_ROOTFS_TAR), else a synthetic 64 MiB layer of many small
// files plus a dpkg status file.
func benchImage(b *testing.B) string {
	b.Helper()
	var layer v1.Layer
	var err error
	if p := os.Getenv("DRYDOCK_E2E_ROOTFS_TAR"); p != "" {
		layer, err = tarball.LayerFromFile(p)
	} else {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		rnd := rand.New(rand.NewSource(1))
		body := make([]byte, 16<<10)
		for i := 0; buf.Len() < 64<<20; i++ {
			rnd.Read(body[:4096]) // part random so gzip has work to do
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/f%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
			tw.Write(body)
		}
		status := ""
		for i := 0; i < 500; i++ {
			status += stanza(fmt.Sprintf("pkg%d", i), "1.0-1", "")
		}
		tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(status))})
		tw.Write([]byte(status))
		tw.WriteHeader(&tar.Header{Name: "etc/os-release", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(osRelease))})
		tw.Write([]byte(osRelease))
		tw.Close()
		data := buf.Bytes()
		layer, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	}
	if err != nil {
		b.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		b.Fatal(err)
	}
	img = withPlatform(b, img)
	dir := b.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		b.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkScan measures a cold scan (empty cache: read, verify and walk
// every layer) and a warm one (every layer from the cache). scripts/bench.sh
// sets these against the time to merely decompress the layers.
func BenchmarkScan(b *testing.B) {
	dir := benchImage(b)
	ctx := context.Background()
	run := func(b *testing.B, cache *layerfs.Cache) {
		img, err := image.Open(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		inv, err := Scan(ctx, img, WithCache(cache), WithTempDir(b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		if len(inv.Packages) == 0 {
			b.Fatal("no packages")
		}
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cache, _ := layerfs.OpenCache(b.TempDir())
			run(b, cache)
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache, _ := layerfs.OpenCache(b.TempDir())
		run(b, cache)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, cache)
		}
	})
	// The same image as docker save wrote it before Docker 25 (uncompressed
	// layer tars): a warm rescan finds each layer by the archive's identity
	// and reads no layer bytes.
	b.Run("warm-docker-save", func(b *testing.B) {
		li, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			b.Fatal(err)
		}
		im, _ := li.IndexManifest()
		img, err := li.Image(im.Manifests[0].Digest)
		if err != nil {
			b.Fatal(err)
		}
		archive := writeClassicDockerArchive(b, img)
		time.Sleep(2100 * time.Millisecond) // let its change time settle (image.racyMargin)
		cache, _ := layerfs.OpenCache(b.TempDir())
		scan := func() {
			opened, err := image.Open(ctx, archive)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Scan(ctx, opened, WithCache(cache), WithTempDir(b.TempDir())); err != nil {
				b.Fatal(err)
			}
		}
		scan()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			scan()
		}
	})
}

// BenchmarkStatusD walks a layer of 200,000 files in var/lib/dpkg/status.d
// (as distroless images store dpkg data, at an absurd count) with the
// default extractors, reporting ns per file: the per-file overhead that
// once was a temp directory made and removed per file and extractor. The
// baseline row walks the same tar with no extractor (tar parsing only).
func BenchmarkStatusD(b *testing.B) {
	const n = 200_000
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("Package: pkg%d\nVersion: 1.%d\nArchitecture: amd64\n\n", i, i)
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("var/lib/dpkg/status.d/pkg%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	tw.Close()
	data := buf.Bytes()
	for _, bc := range []struct {
		name string
		w    layerfs.Walker
	}{
		{"tar-only-baseline", layerfs.Walker{}},
		{"default-extractors", layerfs.Walker{Extractors: defaults().extractors}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := bc.w
			w.TempDir = b.TempDir()
			for i := 0; i < b.N; i++ {
				if _, err := w.WalkTar(context.Background(), bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/file")
		})
	}
}
