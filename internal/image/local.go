package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/inventory"
)

// Limits for unpacking an OCI archive. Blobs are written to drydock's temp
// directory, so a hostile archive must not fill the disk or escape it.
const (
	maxArchiveEntries = 100_000
	maxArchiveBytes   = 64 << 30
	maxIndexBytes     = 4 << 20
)

// openLayout opens an OCI image layout: oci:DIR, oci:DIR:NAME (by the
// org.opencontainers.image.ref.name annotation) or oci:DIR@DIGEST.
func openLayout(ref, src string, o *options) (*Image, error) {
	dir, want := ref, ""
	if _, err := os.Stat(dir); err != nil {
		if i := strings.LastIndex(ref, "@"); i > 0 {
			dir, want = ref[:i], ref[i+1:]
		} else if i := strings.LastIndex(ref, ":"); i > 0 {
			dir, want = ref[:i], ref[i+1:]
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	img := &Image{Source: inventory.Source{Kind: KindLayout, Ref: src}, Annotations: map[string]string{}, LayoutDir: dir}
	return img, fromIndex(img, idx, want, o, 0)
}

// fromIndex walks nested indexes (a layout's index.json may point at an image
// index) down to the image for the wanted platform.
func fromIndex(img *Image, idx v1.ImageIndex, want string, o *options, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%w: image indexes nested too deep", ErrBadSource)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	if want != "" {
		var picked []v1.Descriptor
		for _, d := range im.Manifests {
			if d.Annotations["org.opencontainers.image.ref.name"] == want || d.Digest.String() == want {
				picked = append(picked, d)
			}
		}
		if len(picked) == 0 {
			return fmt.Errorf("%w: no manifest named %q in layout", ErrBadSource, want)
		}
		im = &v1.IndexManifest{Manifests: picked}
	}
	if len(im.Manifests) == 0 {
		return fmt.Errorf("%w: index lists no manifests", ErrBadSource)
	}
	var d v1.Descriptor
	if len(im.Manifests) == 1 {
		d = im.Manifests[0]
	} else if d, err = pickPlatform(withConfigPlatforms(idx, im), o.platform); err != nil {
		return err
	}
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return fmt.Errorf("read index %s: %w", d.Digest, err)
		}
		img.Source.IndexDigest = d.Digest.String()
		cim, err := child.IndexManifest()
		if err != nil {
			return fmt.Errorf("read index %s: %w", d.Digest, err)
		}
		for k, v := range cim.Annotations {
			img.Annotations[k] = v
		}
		return fromIndex(img, child, "", o, depth+1)
	}
	i, err := idx.Image(d.Digest)
	if err != nil {
		return fmt.Errorf("read image %s: %w", d.Digest, err)
	}
	platform := ""
	if d.Platform != nil {
		platform = platformString(*d.Platform)
	}
	return fill(img, i, platform)
}

// openArchive opens a docker-archive (`docker save`) or an OCI archive (a
// tar of an OCI layout).
func openArchive(ctx context.Context, file, src string, o *options) (*Image, error) {
	isOCI, isDocker, err := sniffArchive(file)
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", file, err)
	}
	switch {
	case isDocker:
		i, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return nil, fmt.Errorf("open docker archive %s: %w", file, err)
		}
		img := &Image{Source: inventory.Source{Kind: KindArchive, Ref: src}, PreferUncompressed: true}
		return img, fill(img, i, "")
	case isOCI:
		dir, err := os.MkdirTemp(o.tempDir, "oci-archive-")
		if err != nil {
			return nil, fmt.Errorf("open OCI archive %s: %w", file, err)
		}
		cleanup := func() error { return os.RemoveAll(dir) }
		if err := unpackLayout(ctx, file, dir); err != nil {
			_ = cleanup()
			return nil, fmt.Errorf("open OCI archive %s: %w", file, err)
		}
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			_ = cleanup()
			return nil, fmt.Errorf("open OCI archive %s: %w", file, err)
		}
		img := &Image{Source: inventory.Source{Kind: KindArchive, Ref: src}, Annotations: map[string]string{}, cleanup: cleanup}
		if err := fromIndex(img, idx, "", o, 0); err != nil {
			_ = cleanup()
			return nil, err
		}
		return img, nil
	}
	return nil, fmt.Errorf("open archive %s: %w: neither manifest.json (docker-archive) nor oci-layout (OCI archive) found", file, ErrBadSource)
}

func sniffArchive(file string) (isOCI, isDocker bool, err error) {
	f, err := os.Open(file)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for n := 0; n < maxArchiveEntries; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return isOCI, isDocker, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("read tar: %w", err)
		}
		switch path.Clean(strings.TrimPrefix(h.Name, "./")) {
		case "manifest.json":
			isDocker = true
		case "oci-layout":
			isOCI = true
		}
	}
	return false, false, fmt.Errorf("%w: more than %d entries", ErrBadSource, maxArchiveEntries)
}

// unpackLayout writes only the layout's own files (oci-layout, index.json,
// blobs/<alg>/<hex>) into dir. Everything else, and any name that is not
// exactly of that shape, is ignored, so no entry can land outside dir.
func unpackLayout(ctx context.Context, file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var total int64
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= maxArchiveEntries {
			return fmt.Errorf("%w: more than %d entries", ErrBadSource, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		var dst string
		limit := int64(maxIndexBytes)
		switch {
		case name == "oci-layout" || name == "index.json":
			dst = filepath.Join(dir, name)
		case isBlobPath(name):
			dst = filepath.Join(dir, filepath.FromSlash(name))
			limit = maxArchiveBytes - total
		default:
			continue
		}
		if seen[name] {
			// Tools disagree on which copy of a duplicated entry counts, so
			// an archive holding two cannot be read unambiguously.
			return fmt.Errorf("%w: the archive holds %s twice", ErrBadSource, name)
		}
		seen[name] = true
		if h.Size > limit {
			return fmt.Errorf("%w: entry %s is %d bytes, over the limit", ErrBadSource, name, h.Size)
		}
		total += h.Size
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeFile(dst, io.LimitReader(tr, h.Size)); err != nil {
			return err
		}
	}
}

func isBlobPath(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return false
	}
	if parts[1] != "sha256" && parts[1] != "sha512" {
		return false
	}
	for _, c := range parts[2] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return parts[2] != ""
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// withConfigPlatforms fills in the platform of index entries that lack one
// (layouts written by tools often omit it) from each image's config, so a
// platform can be chosen and the error can list what exists. Several
// images for the same platform cannot be told apart: they are reported
// with their names so the user can pick one with oci:DIR:NAME.
func withConfigPlatforms(idx v1.ImageIndex, im *v1.IndexManifest) *v1.IndexManifest {
	out := &v1.IndexManifest{Manifests: make([]v1.Descriptor, len(im.Manifests))}
	for i, d := range im.Manifests {
		if d.Platform == nil && d.MediaType.IsImage() {
			if img, err := idx.Image(d.Digest); err == nil {
				if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
					d.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
				}
			}
		}
		out.Manifests[i] = d
	}
	return out
}
