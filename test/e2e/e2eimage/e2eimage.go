// Package e2eimage builds the container images the end-to-end tests and the
// benchmark scan: a Debian image whose single layer is the debootstrap rootfs
// tarball made by scripts/debian-rootfs.sh, and an application image on top
// of it that names it as its base through OCI annotations.
package e2eimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI annotations naming an image's base (image-spec annotations.md).
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Debian returns a linux/amd64 OCI image with one gzip layer made from the
// rootfs tarball at tarPath. The image is deterministic: the same tarball
// always gives the same digests.
func Debian(tarPath string) (v1.Image, error) {
	if _, err := os.Stat(tarPath); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(tarPath) },
		tarball.WithCompression(compression.GZip),
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer from %s: %w", tarPath, err)
	}
	return build(empty.Image, layer, "debootstrap --variant=minbase bookworm")
}

// App returns base plus one layer holding a small fake application, with the
// manifest annotated to name base (baseName is the reference, baseDigest the
// manifest digest of base).
func App(base v1.Image, baseName string, baseDigest v1.Hash) (v1.Image, error) {
	layer, err := tarLayer(map[string]string{
		"app/":                 "",
		"app/README":           "drydock end-to-end test application\n",
		"usr/local/bin/e2eapp": "#!/bin/sh\necho hello from the drydock e2e app\n",
	})
	if err != nil {
		return nil, err
	}
	img, err := build(base, layer, "COPY app /app")
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, map[string]string{
		AnnotationBaseName:   baseName,
		AnnotationBaseDigest: baseDigest.String(),
	}).(v1.Image), nil
}

func build(base v1.Image, layer v1.Layer, createdBy string) (v1.Image, error) {
	img := mutate.MediaType(base, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = "amd64"
	if len(cfg.Config.Env) == 0 {
		cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	if len(cfg.Config.Cmd) == 0 {
		cfg.Config.Cmd = []string{"bash"}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: createdBy},
	})
}

// tarLayer makes a gzip layer from path → content; a path ending in "/" is a
// directory. Entries are written in sorted order with fixed times, so the
// layer is deterministic.
func tarLayer(files map[string]string) (v1.Layer, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0).UTC()
	for _, n := range names {
		hdr := &tar.Header{Name: n, ModTime: mtime, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if n[len(n)-1] == '/' {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		} else {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o755, int64(len(files[n]))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithCompression(compression.GZip),
		tarball.WithMediaType(types.OCILayer))
}
