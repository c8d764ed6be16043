package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerImage reads a classic `docker save` archive (manifest.json, a
// config, uncompressed layer tars) in place. go-containerregistry's tarball
// reader would gzip every uncompressed layer on open to compute a digest
// for a manifest the archive does not have; this one describes the layers
// as what they are, uncompressed blobs, so opening reads no layer bytes.
// The layer "digests" in the synthesized manifest are the config's claimed
// diffIDs: nothing is keyed or trusted by them (the scanner hashes each
// layer against its diffID while reading it, and the cache keys docker
// archive layers by the file's identity).
type dockerImage struct {
	ix          *tarIndex
	rawCfg      []byte
	cfg         *v1.ConfigFile
	layers      []*dockerLayer
	rawManifest []byte
	manifest    *v1.Manifest
}

var _ v1.Image = (*dockerImage)(nil)

type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// openDockerInPlace returns the image of a docker-archive whose layers are
// all uncompressed tars, or nil (and no error) when some layer is
// compressed and the caller should use another reader.
func openDockerInPlace(ix *tarIndex) (*dockerImage, error) {
	raw, err := ix.read("manifest.json", -1, maxIndexBytes)
	if err != nil {
		return nil, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%w: manifest.json: %w", ErrBadSource, err)
	}
	if len(entries) != 1 {
		return nil, fmt.Errorf("%w: manifest.json lists %d images; drydock reads archives of one image", ErrBadSource, len(entries))
	}
	me := entries[0]
	rawCfg, err := ix.read(me.Config, -1, maxConfigBytes)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("%w: config %s: %w", ErrBadSource, me.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(me.Layers) {
		return nil, fmt.Errorf("%w: config lists %d diff_ids but manifest.json has %d layers", ErrBadSource, len(cfg.RootFS.DiffIDs), len(me.Layers))
	}
	img := &dockerImage{ix: ix, rawCfg: rawCfg, cfg: cfg}
	cfgHash, cfgSize, err := v1.SHA256(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m := &v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
		Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: cfgSize, Digest: cfgHash}}
	for n, name := range me.Layers {
		e, ok := ix.lookup(name)
		if !ok {
			return nil, fmt.Errorf("%w: layer %s is not in the archive", ErrBadSource, name)
		}
		compressed, err := ix.compressed(name)
		if err != nil {
			return nil, err
		}
		if compressed {
			return nil, nil
		}
		l := &dockerLayer{ix: ix, name: name, diffID: cfg.RootFS.DiffIDs[n], size: e.size}
		img.layers = append(img.layers, l)
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerUncompressedLayer, Size: e.size, Digest: l.diffID})
	}
	img.manifest = m
	if img.rawManifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	return img, nil
}

// compressed peeks at an entry's first bytes for a gzip or zstd magic.
func (ix *tarIndex) compressed(name string) (bool, error) {
	rc, _, err := ix.open(name)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(rc, magic)
	magic = magic[:n]
	return bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}), nil
}

func (d *dockerImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(d.layers))
	for i, l := range d.layers {
		out[i] = l
	}
	return out, nil
}
func (d *dockerImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (d *dockerImage) Size() (int64, error)                { return int64(len(d.rawManifest)), nil }
func (d *dockerImage) ConfigName() (v1.Hash, error)        { return d.manifest.Config.Digest, nil }
func (d *dockerImage) ConfigFile() (*v1.ConfigFile, error) { return d.cfg.DeepCopy(), nil }
func (d *dockerImage) RawConfigFile() ([]byte, error)      { return d.rawCfg, nil }
func (d *dockerImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(d.rawManifest))
	return h, err
}
func (d *dockerImage) Manifest() (*v1.Manifest, error) { return d.manifest.DeepCopy(), nil }
func (d *dockerImage) RawManifest() ([]byte, error)    { return d.rawManifest, nil }
func (d *dockerImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	return d.LayerByDiffID(h)
}
func (d *dockerImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range d.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w: no layer %s", ErrBadSource, h)
}

// dockerLayer is an uncompressed layer tar inside the archive: its blob is
// its uncompressed content, and both digests are the config's claim until
// the scanner has hashed it.
type dockerLayer struct {
	ix     *tarIndex
	name   string
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*dockerLayer)(nil)

func (l *dockerLayer) Digest() (v1.Hash, error) { return l.diffID, nil }
func (l *dockerLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *dockerLayer) Size() (int64, error)     { return l.size, nil }
func (l *dockerLayer) MediaType() (types.MediaType, error) {
	return types.DockerUncompressedLayer, nil
}
func (l *dockerLayer) Compressed() (io.ReadCloser, error) { return l.Uncompressed() }
func (l *dockerLayer) Uncompressed() (io.ReadCloser, error) {
	rc, _, err := l.ix.open(l.name)
	return rc, err
}
