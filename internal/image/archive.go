package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An archive is read in place: one pass over its tar headers records where
// each entry's bytes are, and blobs are then read from those offsets. So
// opening an archive reads its index, manifests and config, never its
// layers, and a warm rescan (every layer's analysis cached) reads no layer
// bytes at all.

type tarEntry struct {
	off, size int64
	// link is the cleaned name a symlink or hardlink entry points at.
	link string
}

type tarIndex struct {
	path    string
	entries map[string]tarEntry
}

func cleanEntryName(name string) string {
	return path.Clean(strings.TrimPrefix(name, "./"))
}

// indexTar records the regular files and links of the archive at file.
// Two entries of one name are refused: which one a reader sees would
// depend on the reader.
func indexTar(ctx context.Context, file string) (*tarIndex, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ix := &tarIndex{path: file, entries: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if n >= maxArchiveEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrBadSource, maxArchiveEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ix, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		name := cleanEntryName(h.Name)
		var e tarEntry
		switch h.Typeflag {
		case tar.TypeReg:
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, fmt.Errorf("read tar: %w", err)
			}
			e = tarEntry{off: off, size: h.Size}
		case tar.TypeSymlink:
			e = tarEntry{link: cleanEntryName(path.Join(path.Dir(name), h.Linkname))}
		case tar.TypeLink:
			e = tarEntry{link: cleanEntryName(h.Linkname)}
		default:
			continue
		}
		if _, dup := ix.entries[name]; dup {
			return nil, fmt.Errorf("%w: the archive holds %s twice", ErrBadSource, name)
		}
		ix.entries[name] = e
	}
}

// lookup follows links (a few hops) to a regular entry.
func (ix *tarIndex) lookup(name string) (tarEntry, bool) {
	name = cleanEntryName(name)
	for hops := 0; hops < 8; hops++ {
		e, ok := ix.entries[name]
		if !ok {
			return tarEntry{}, false
		}
		if e.link == "" {
			return e, true
		}
		name = e.link
	}
	return tarEntry{}, false
}

type sectionFile struct {
	*io.SectionReader
	f *os.File
}

func (s sectionFile) Close() error { return s.f.Close() }

func (ix *tarIndex) open(name string) (io.ReadCloser, int64, error) {
	e, ok := ix.lookup(name)
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s is not in the archive", ErrBadSource, name)
	}
	f, err := os.Open(ix.path)
	if err != nil {
		return nil, 0, err
	}
	return sectionFile{io.NewSectionReader(f, e.off, e.size), f}, e.size, nil
}

// read returns an entry's bytes, refusing one over limit or, when want >=
// 0, of another size than its descriptor states.
func (ix *tarIndex) read(name string, want, limit int64) ([]byte, error) {
	e, ok := ix.lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not in the archive", ErrBadSource, name)
	}
	if want >= 0 && e.size != want {
		return nil, fmt.Errorf("%w: %s is %d bytes, its descriptor says %d", ErrDigestMismatch, name, e.size, want)
	}
	if e.size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the %d byte limit", ErrBadSource, name, e.size, limit)
	}
	rc, _, err := ix.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// archiveIndex is an OCI archive's index.json, or a nested index in it.
type archiveIndex struct {
	ix        *tarIndex
	raw       []byte
	mediaType types.MediaType
}

var _ v1.ImageIndex = (*archiveIndex)(nil)

func (a *archiveIndex) MediaType() (types.MediaType, error) { return a.mediaType, nil }
func (a *archiveIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(a.raw))
	return h, err
}
func (a *archiveIndex) Size() (int64, error)         { return int64(len(a.raw)), nil }
func (a *archiveIndex) RawManifest() ([]byte, error) { return a.raw, nil }
func (a *archiveIndex) IndexManifest() (*v1.IndexManifest, error) {
	var im v1.IndexManifest
	if err := json.Unmarshal(a.raw, &im); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrBadSource, err)
	}
	return &im, nil
}

func (a *archiveIndex) find(h v1.Hash) (v1.Descriptor, error) {
	im, err := a.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: %s is not in the index", ErrBadSource, h)
}

func (a *archiveIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	raw, err := a.ix.read(blobName(h), d.Size, maxManifestBytes)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&archiveImage{ix: a.ix, desc: d, raw: raw})
}

func (a *archiveIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := a.find(h)
	if err != nil {
		return nil, err
	}
	raw, err := a.ix.read(blobName(h), d.Size, maxManifestBytes)
	if err != nil {
		return nil, err
	}
	return &archiveIndex{ix: a.ix, raw: raw, mediaType: d.MediaType}, nil
}

// archiveImage is one image manifest in an OCI archive; partial fills in
// the rest of v1.Image from it.
type archiveImage struct {
	ix   *tarIndex
	desc v1.Descriptor
	raw  []byte
}

var _ partial.CompressedImageCore = (*archiveImage)(nil)

func (a *archiveImage) MediaType() (types.MediaType, error) { return a.desc.MediaType, nil }
func (a *archiveImage) RawManifest() ([]byte, error)        { return a.raw, nil }

func (a *archiveImage) manifest() (*v1.Manifest, error) {
	m, err := v1.ParseManifest(bytes.NewReader(a.raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrBadSource, a.desc.Digest, err)
	}
	return m, nil
}

func (a *archiveImage) RawConfigFile() ([]byte, error) {
	m, err := a.manifest()
	if err != nil {
		return nil, err
	}
	return a.ix.read(blobName(m.Config.Digest), m.Config.Size, maxConfigBytes)
}

func (a *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := a.manifest()
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			return &archiveLayer{ix: a.ix, desc: l}, nil
		}
	}
	if m.Config.Digest == h {
		return &archiveLayer{ix: a.ix, desc: m.Config}, nil
	}
	return nil, fmt.Errorf("%w: blob %s is not in the manifest", ErrBadSource, h)
}

// archiveLayer reads a blob in place. Its Size is the manifest's: the
// scanner compares it with the bytes it reads.
type archiveLayer struct {
	ix   *tarIndex
	desc v1.Descriptor
}

func (l *archiveLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	rc, _, err := l.ix.open(blobName(l.desc.Digest))
	return rc, err
}
