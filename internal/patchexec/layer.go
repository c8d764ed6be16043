package patchexec

import (
	"archive/tar"
	"compress/gzip"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations drydock puts on a patched image's manifest. The base
// annotations (org.opencontainers.image.base.*) are left as they were: a
// patch does not change the base, and the original is not a base.
const (
	// AnnotationOriginal is the digest reference of the image that was
	// patched.
	AnnotationOriginal = "dev.drydock.patch.original"
	// AnnotationPackages lists the upgraded packages, "name=version"
	// comma-separated, sorted.
	AnnotationPackages = "dev.drydock.patch.packages"
)

// transient are paths an upgrade writes that are not part of what was
// installed: package lists, caches, logs, lock files, the extra sources
// and the files buildah provides at run time. Changes under them are left
// out of the patch layer, so the original's versions stay visible.
var transient = []string{
	"var/lib/apt/lists/",
	"var/cache/apt/",
	"var/cache/debconf/config.dat-old",
	"var/cache/debconf/templates.dat-old",
	"var/cache/ldconfig/",
	"var/lib/dpkg/status-old",
	"var/lib/dpkg/diversions-old",
	"var/lib/dpkg/statoverride-old",
	"var/lib/dpkg/lock",
	"var/lib/dpkg/lock-frontend",
	"var/lib/dpkg/triggers/Lock",
	"var/log/",
	"tmp/",
	"var/tmp/",
	"run/",
	"dev/",
	"proc/",
	"sys/",
	"etc/resolv.conf",
	"etc/hosts",
	"etc/hostname",
	sourcesFile,
}

// isTransient reports whether the layer entry name (with or without a
// leading "./" or "/", a whiteout or not) falls under transient.
func isTransient(name string) bool {
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	dir, base := path.Split(p)
	if strings.HasPrefix(base, ".wh.") && base != ".wh..wh..opq" {
		p = dir + strings.TrimPrefix(base, ".wh.")
	} else if base == ".wh..wh..opq" {
		p = strings.TrimSuffix(dir, "/")
	}
	for _, t := range transient {
		if p == strings.TrimSuffix(t, "/") || strings.HasSuffix(t, "/") && strings.HasPrefix(p, t) {
			return true
		}
	}
	return false
}

// filterLayer copies the tar stream r to w without the transient entries
// and without directories nothing kept lies in (a changed file's parent
// directories appear in the diff only because their mtime changed). It
// returns the kept regular and whiteout paths.
func filterLayer(r io.Reader, w io.Writer) ([]string, error) {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	// Directories are held back until something kept lies under them.
	var pendingDirs []*tar.Header
	var kept []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the patch layer: %w", err)
		}
		if isTransient(h.Name) {
			continue
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		if h.Typeflag == tar.TypeDir {
			hc := *h
			pendingDirs = append(pendingDirs, &hc)
			continue
		}
		for _, d := range pendingDirs {
			dn := strings.TrimPrefix(path.Clean("/"+d.Name), "/")
			if strings.HasPrefix(name, dn+"/") {
				if err := tw.WriteHeader(d); err != nil {
					return nil, err
				}
				d.Name = "" // written
			}
		}
		pendingDirs = compactDirs(pendingDirs)
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write the patch layer: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return nil, fmt.Errorf("copy %s into the patch layer: %w", h.Name, err)
			}
		}
		kept = append(kept, name)
	}
	return kept, tw.Close()
}

func compactDirs(ds []*tar.Header) []*tar.Header {
	out := ds[:0]
	for _, d := range ds {
		if d.Name != "" {
			out = append(out, d)
		}
	}
	return out
}

// commit has buildah write the container as an image, takes its one new
// layer, filters it, and appends it to the original image.
func (s *session) commit(ctx context.Context, orig v1.Image, outDir string, ups []Upgrade) (*Result, error) {
	committed := filepath.Join(s.dir, "committed")
	if _, err := s.buildah(ctx, "commit", "--format", "oci", "--disable-compression", "--quiet", s.container, "oci:committed:patched"); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(committed)
	if err != nil {
		return nil, fmt.Errorf("patch: read buildah's image: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		return nil, fmt.Errorf("patch: buildah's image layout holds %d images, want 1 (%v)", len(im.Manifests), err)
	}
	cimg, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("patch: read buildah's image: %w", err)
	}
	odiff, err := diffIDs(orig)
	if err != nil {
		return nil, err
	}
	cdiff, err := diffIDs(cimg)
	if err != nil {
		return nil, err
	}
	if len(cdiff) != len(odiff)+1 {
		return nil, fmt.Errorf("patch: buildah's image has %d layers, want the original's %d plus one", len(cdiff), len(odiff))
	}
	for i := range odiff {
		if odiff[i] != cdiff[i] {
			return nil, fmt.Errorf("patch: buildah changed the original layer %d (%s became %s)", i, odiff[i], cdiff[i])
		}
	}
	ls, err := cimg.Layers()
	if err != nil {
		return nil, fmt.Errorf("patch: read buildah's image: %w", err)
	}
	rc, err := ls[len(ls)-1].Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("patch: read the new layer: %w", err)
	}
	defer rc.Close()
	file := filepath.Join(outDir, "layer.tar.gz")
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	zw := gzip.NewWriter(f)
	kept, err := filterLayer(rc, zw)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("patch: the upgrade of %s changed no file", names(ups))
	}
	img, size, err := Assemble(orig, file, ups, "apt-get install --only-upgrade "+upgradeArgs(ups))
	if err != nil {
		return nil, err
	}
	return &Result{Image: img, Upgrades: ups, LayerSize: size, dir: outDir}, nil
}

func upgradeArgs(ups []Upgrade) string {
	var b []string
	for _, u := range ups {
		b = append(b, u.Package+"="+u.To)
	}
	return strings.Join(b, " ")
}

func diffIDs(img v1.Image) ([]v1.Hash, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("patch: read image config: %w", err)
	}
	return cf.RootFS.DiffIDs, nil
}

// Assemble appends the gzip-compressed layer file to orig, with a history
// entry and the patch annotations; the config (entrypoint, user, env) is
// orig's. It returns the image and the layer's compressed size.
func Assemble(orig v1.Image, layerFile string, ups []Upgrade, createdBy string) (v1.Image, int64, error) {
	mt, err := orig.MediaType()
	if err != nil {
		return nil, 0, fmt.Errorf("patch: read the original manifest: %w", err)
	}
	lmt := types.DockerLayer
	if mt == types.OCIManifestSchema1 {
		lmt = types.OCILayer
	}
	layer, err := tarball.LayerFromFile(layerFile, tarball.WithMediaType(lmt))
	if err != nil {
		return nil, 0, fmt.Errorf("patch: read the patch layer: %w", err)
	}
	size, err := layer.Size()
	if err != nil {
		return nil, 0, fmt.Errorf("patch: read the patch layer: %w", err)
	}
	cf, err := orig.ConfigFile()
	if err != nil {
		return nil, 0, fmt.Errorf("patch: read the original config: %w", err)
	}
	img, err := mutate.Append(orig, mutate.Addendum{Layer: layer, MediaType: lmt, History: v1.History{
		Created:   cf.Created,
		CreatedBy: "drydock patch: " + createdBy,
		Comment:   "in-place OS package upgrade by drydock",
	}})
	if err != nil {
		return nil, 0, fmt.Errorf("patch: append the patch layer: %w", err)
	}
	od, err := orig.Digest()
	if err != nil {
		return nil, 0, fmt.Errorf("patch: digest of the original: %w", err)
	}
	var pk []string
	for _, u := range ups {
		pk = append(pk, u.Package+"="+u.To)
	}
	img, ok := mutate.Annotations(img, map[string]string{
		AnnotationOriginal: od.String(),
		AnnotationPackages: strings.Join(pk, ","),
	}).(v1.Image)
	if !ok {
		return nil, 0, errors.New("patch: annotate the image: not an image")
	}
	return img, size, nil
}
