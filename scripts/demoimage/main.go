// Command demoimage writes the demo image the README's first command scans:
// an OCI layout holding a Debian-like base image and an application image
// built on it (one more layer, base annotations set). It needs no network.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: demoimage ROOTFS_DIR OUT_LAYOUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "demoimage:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	baseLayer, err := layerFrom(filepath.Join(src, "base"))
	if err != nil {
		return err
	}
	appLayer, err := layerFrom(filepath.Join(src, "app"))
	if err != nil {
		return err
	}
	// OCI media types throughout: annotations belong to OCI manifests.
	oci := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	oci = mutate.ConfigMediaType(oci, types.OCIConfigJSON)
	base, err := mutate.AppendLayers(oci, baseLayer)
	if err != nil {
		return err
	}
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{
		OS: "linux", Architecture: "amd64", Created: v1.Time{Time: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(base)},
	})
	if err != nil {
		return err
	}
	bd, err := base.Digest()
	if err != nil {
		return err
	}
	app, err := mutate.AppendLayers(base, appLayer)
	if err != nil {
		return err
	}
	app = mutate.Annotations(app, map[string]string{
		"org.opencontainers.image.base.name":   "demo.local/debian:12",
		"org.opencontainers.image.base.digest": bd.String(),
	}).(v1.Image)
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	lp, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	if err := lp.AppendImage(app, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "app"})); err != nil {
		return err
	}
	return lp.AppendImage(base, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "base"}))
}

func mustDiffIDs(img v1.Image) []v1.Hash {
	cf, err := img.ConfigFile()
	if err != nil {
		panic(err)
	}
	return cf.RootFS.DiffIDs
}

// layerFrom tars a directory with fixed owners and times, so the demo image
// has the same digests on every machine.
func layerFrom(dir string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Mode: 0o644, Typeflag: tar.TypeReg}
		if d.IsDir() {
			h.Name += "/"
			h.Mode, h.Typeflag = 0o755, tar.TypeDir
			return tw.WriteHeader(h)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Size = int64(len(b))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tar %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
}
