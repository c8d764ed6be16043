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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/inventory"
)

// Limits for reading an archive or a layout. Archives are read in place
// (nothing is unpacked), so these bound what is indexed and held.
const (
	maxArchiveEntries = 100_000
	maxIndexBytes     = 4 << 20
	// maxManifestBytes bounds an image manifest or nested index read from a
	// layout; maxConfigBytes an image config. Real ones are kilobytes.
	maxManifestBytes = 4 << 20
	maxConfigBytes   = 8 << 20
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
	if err := checkLayoutFile(filepath.Join(dir, "index.json"), -1, maxIndexBytes); err != nil {
		return nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open OCI layout %s: %w", dir, err)
	}
	img := &Image{Source: inventory.Source{Kind: KindLayout, Ref: src}, Annotations: map[string]string{}, LayoutDir: dir}
	return img, fromIndex(img, idx, dir, want, o, 0)
}

// checkLayoutFile refuses what a layout directory must not hold where the
// reader expects a blob or index.json: symlinks (one to /dev/zero reads
// forever), devices, FIFOs, directories, files over limit, and files whose
// size is not the size their descriptor states (want < 0: no descriptor).
// Layout directories are the user's or anyone's: they are held to the
// same bounds as archives, which are unpacked under limits.
func checkLayoutFile(p string, want, limit int64) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	name := filepath.Base(p)
	if name != "index.json" {
		name = filepath.Base(filepath.Dir(p)) + ":" + name
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; a layout must hold regular files", ErrBadSource, name)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file (%s)", ErrBadSource, name, fi.Mode().Type())
	case want >= 0 && fi.Size() != want:
		return fmt.Errorf("%w: %s is %d bytes, its descriptor says %d", ErrDigestMismatch, name, fi.Size(), want)
	case limit >= 0 && fi.Size() > limit:
		return fmt.Errorf("%w: %s is %d bytes, over the %d byte limit", ErrBadSource, name, fi.Size(), limit)
	}
	return nil
}

// checkBlob applies checkLayoutFile to the blob a descriptor names, when
// the image comes from a layout directory (dir != "").
func checkBlob(dir string, d v1.Descriptor, limit int64) error {
	if dir == "" {
		return nil
	}
	if d.Digest.Algorithm != "sha256" && d.Digest.Algorithm != "sha512" || !isBlobPath("blobs/"+d.Digest.Algorithm+"/"+d.Digest.Hex) {
		return fmt.Errorf("%w: malformed digest %q", ErrBadSource, d.Digest)
	}
	return checkLayoutFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex), d.Size, limit)
}

// fromIndex walks nested indexes (a layout's index.json may point at an image
// index) down to the image for the wanted platform.
func fromIndex(img *Image, idx v1.ImageIndex, dir, want string, o *options, depth int) error {
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
		if err := checkBlob(dir, d, maxManifestBytes); err != nil {
			return fmt.Errorf("read index %s: %w", d.Digest, err)
		}
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
		return fromIndex(img, child, dir, "", o, depth+1)
	}
	if err := checkBlob(dir, d, maxManifestBytes); err != nil {
		return fmt.Errorf("read image %s: %w", d.Digest, err)
	}
	i, err := idx.Image(d.Digest)
	if err != nil {
		return fmt.Errorf("read image %s: %w", d.Digest, err)
	}
	platform := ""
	if d.Platform != nil {
		platform = platformString(*d.Platform)
	}
	img.layoutBlobs = dir
	return fill(img, i, platform)
}

// openArchive opens a docker-archive (`docker save`) or an OCI archive (a
// tar of an OCI layout).
func openArchive(ctx context.Context, file, src string, o *options) (*Image, error) {
	// FILE@DIGEST names one image in an OCI archive (as oci:DIR@DIGEST does
	// in a layout): a base stored beside the image.
	want := ""
	if _, err := os.Stat(file); err != nil {
		if i := strings.LastIndex(file, "@"); i > 0 {
			file, want = file[:i], file[i+1:]
		}
	}
	isOCI, isDocker, err := sniffArchive(file)
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", file, err)
	}
	// docker save since Docker 25 writes an OCI layout beside manifest.json:
	// read that, whose manifests name every blob by digest.
	switch {
	case isDocker && !isOCI:
		if want != "" {
			return nil, fmt.Errorf("open docker archive %s: %w: a docker archive holds one image; @%s names none", file, ErrBadSource, want)
		}
		// Identify the file before anything reads it: an analysis is stored
		// under this identity only if the file still has it afterwards.
		id, err := identify(file)
		if err != nil {
			return nil, fmt.Errorf("open docker archive %s: %w", file, err)
		}
		ix, err := indexTar(ctx, file)
		if err != nil {
			return nil, fmt.Errorf("open docker archive %s: %w", file, err)
		}
		var i v1.Image
		di, err := openDockerInPlace(ix)
		switch {
		case err != nil:
			return nil, fmt.Errorf("open docker archive %s: %w", file, err)
		case di != nil:
			i = di
		default:
			// Compressed layers (written by tools other than docker save):
			// go-containerregistry hashes them to describe them.
			if i, err = tarball.ImageFromPath(file, nil); err != nil {
				return nil, fmt.Errorf("open docker archive %s: %w", file, err)
			}
		}
		img := &Image{Source: inventory.Source{Kind: KindArchive, Ref: src}, PreferUncompressed: true}
		if err := fill(img, i, ""); err != nil {
			return img, err
		}
		img.layerKeys = archiveLayerKeys(id, img.Source.ConfigDigest, len(img.layerKeys), time.Now())
		if img.layerKeys != nil {
			img.archive = id
		}
		return img, nil
	case isOCI:
		// Read in place; no blob is copied out of the archive.
		ix, err := indexTar(ctx, file)
		if err != nil {
			return nil, fmt.Errorf("open OCI archive %s: %w", file, err)
		}
		raw, err := ix.read("index.json", -1, maxIndexBytes)
		if err != nil {
			return nil, fmt.Errorf("open OCI archive %s: %w", file, err)
		}
		img := &Image{Source: inventory.Source{Kind: KindArchive, Ref: src}, Annotations: map[string]string{}, OCIArchive: file}
		if err := fromIndex(img, &archiveIndex{ix: ix, raw: raw, mediaType: types.OCIImageIndex}, "", want, o, 0); err != nil {
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
