package e2eimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// LayerBuilder collects the entries of one layer: files with content,
// directories and symlinks, some copied from host directory trees. Layer
// writes them in sorted order with fixed times and owners, adding missing
// parent directories, so the same entries always give the same digests.
type LayerBuilder struct {
	entries map[string]*tar.Header
	bodies  map[string][]byte
}

// NewLayerBuilder returns an empty builder.
func NewLayerBuilder() *LayerBuilder {
	return &LayerBuilder{entries: map[string]*tar.Header{}, bodies: map[string][]byte{}}
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

// File adds a regular file.
func (b *LayerBuilder) File(name string, mode fs.FileMode, body []byte) {
	name = clean(name)
	b.entries[name] = &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode.Perm()), Size: int64(len(body))}
	b.bodies[name] = body
}

// Symlink adds a symbolic link.
func (b *LayerBuilder) Symlink(name, target string) {
	name = clean(name)
	b.entries[name] = &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}
}

// Dir adds a directory.
func (b *LayerBuilder) Dir(name string) {
	name = clean(name)
	if name == "" {
		return
	}
	b.entries[name] = &tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755}
}

// HostFile adds a copy of a host file, keeping its permission bits.
func (b *LayerBuilder) HostFile(name, hostPath string) error {
	fi, err := os.Stat(hostPath)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(hostPath)
	if err != nil {
		return err
	}
	b.File(name, fi.Mode(), body)
	return nil
}

// HostTree adds the directory tree at hostDir under prefix: directories,
// regular files (with their permission bits) and symlinks (as links).
func (b *LayerBuilder) HostTree(prefix, hostDir string) error {
	return filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(hostDir, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			b.Dir(name)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			b.Symlink(name, target)
		case d.Type().IsRegular():
			return b.HostFile(name, p)
		}
		return nil
	})
}

// Len returns the number of entries added so far (parents not counted).
func (b *LayerBuilder) Len() int { return len(b.entries) }

// Layer returns the entries as a gzip-compressed OCI layer.
func (b *LayerBuilder) Layer() (v1.Layer, error) {
	for name := range b.entries {
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if _, ok := b.entries[dir]; !ok {
				b.Dir(dir)
			}
		}
	}
	names := make([]string, 0, len(b.entries))
	for n := range b.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0).UTC()
	for _, n := range names {
		hdr := *b.entries[n]
		hdr.ModTime, hdr.Uname, hdr.Gname, hdr.Format = mtime, "root", "root", tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", n, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(b.bodies[n]); err != nil {
				return nil, err
			}
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

// OnBase returns base plus layer (history createdBy), with the manifest
// annotated to name base as the image's base (baseName its reference,
// baseDigest its manifest digest) when baseName is not empty.
func OnBase(base v1.Image, layer v1.Layer, createdBy, baseName string, baseDigest v1.Hash) (v1.Image, error) {
	img, err := build(base, layer, createdBy)
	if err != nil {
		return nil, err
	}
	if baseName == "" {
		return img, nil
	}
	return mutate.Annotations(img, map[string]string{
		AnnotationBaseName:   baseName,
		AnnotationBaseDigest: baseDigest.String(),
	}).(v1.Image), nil
}
