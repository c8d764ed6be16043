package hostile

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// This file generates the hostile inputs. Large ones are streamed to disk
// (tar → gzip → file, hashing on the way), never held in memory or committed.

// layerOpts says how a layer's descriptor lies.
type layerOpts struct {
	// plain stores the layer uncompressed (tar), not gzip.
	plain bool
	// wrongBlob changes the blob's bytes after it was named by its digest.
	wrongBlob bool
	// wrongDiffID records a diffID of other content in the config.
	wrongDiffID bool
	// sizeFactor multiplies the size in the manifest's descriptor (0 = true size).
	sizeFactor float64
}

type layerDesc struct {
	digest, diffID string
	size           int64
	mediaType      string
}

// layout writes an OCI image layout directory.
type layout struct {
	t      *testing.T
	dir    string
	layers []layerDesc
}

func newLayout(t *testing.T, dir string) *layout {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &layout{t: t, dir: dir}
}

// hashWriter counts and hashes what passes through it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	return len(p), nil
}

// addLayer streams a layer written by fill into the layout.
func (l *layout) addLayer(fill func(tw *tar.Writer) error, o layerOpts) {
	t := l.t
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Join(l.dir, "blobs", "sha256"), ".gen-")
	if err != nil {
		t.Fatal(err)
	}
	compressed := &hashWriter{h: sha256.New()}
	uncompressed := &hashWriter{h: sha256.New()}
	out := io.MultiWriter(tmp, compressed)
	var gz *gzip.Writer
	var tarOut io.Writer
	if o.plain {
		tarOut = io.MultiWriter(out, uncompressed)
	} else {
		gz, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
		tarOut = io.MultiWriter(gz, uncompressed)
	}
	tw := tar.NewWriter(tarOut)
	if err := fill(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if o.wrongBlob {
		tmp.Write([]byte("tampered"))
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	d := layerDesc{
		digest:    "sha256:" + hex.EncodeToString(compressed.h.Sum(nil)),
		diffID:    "sha256:" + hex.EncodeToString(uncompressed.h.Sum(nil)),
		size:      compressed.n,
		mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
	}
	if o.plain {
		d.mediaType = "application/vnd.oci.image.layer.v1.tar"
	}
	if o.wrongDiffID {
		h := sha256.Sum256([]byte("some other layer"))
		d.diffID = "sha256:" + hex.EncodeToString(h[:])
	}
	if o.sizeFactor != 0 {
		d.size = int64(float64(d.size) * o.sizeFactor)
	}
	if err := os.Rename(tmp.Name(), l.blobPath(d.digest)); err != nil {
		t.Fatal(err)
	}
	l.layers = append(l.layers, d)
}

func (l *layout) blobPath(digest string) string {
	return filepath.Join(l.dir, "blobs", "sha256", digest[len("sha256:"):])
}

// writeBlob stores b and returns its descriptor fields.
func (l *layout) writeBlob(b []byte) (string, int64) {
	h := sha256.Sum256(b)
	d := "sha256:" + hex.EncodeToString(h[:])
	if err := os.WriteFile(l.blobPath(d), b, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return d, int64(len(b))
}

// finish writes config, manifest, index.json and oci-layout; it returns the
// layout directory.
func (l *layout) finish() string {
	t := l.t
	t.Helper()
	diffIDs := []string{}
	for _, d := range l.layers {
		diffIDs = append(diffIDs, d.diffID)
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgDigest, cfgSize := l.writeBlob(cfg)
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	var layers []desc
	for _, d := range l.layers {
		layers = append(layers, desc{d.mediaType, d.digest, d.size})
	}
	man, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        desc{"application/vnd.oci.image.config.v1+json", cfgDigest, cfgSize},
		"layers":        layers,
	})
	manDigest, manSize := l.writeBlob(man)
	idx, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []desc{{"application/vnd.oci.image.manifest.v1+json", manDigest, manSize}},
	})
	if err := os.WriteFile(filepath.Join(l.dir, "index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return l.dir
}

// imageOf is an OCI layout with one layer made of the given entries.
func imageOf(t *testing.T, dir string, o layerOpts, entries ...entry) string {
	t.Helper()
	l := newLayout(t, dir)
	l.addLayer(func(tw *tar.Writer) error { return writeEntries(tw, entries...) }, o)
	return l.finish()
}

// entry is one tar entry; body is its content for regular files.
type entry struct {
	name, link string
	typ        byte
	body       []byte
	mode       int64
}

func file(name, body string) entry { return entry{name: name, body: []byte(body), typ: tar.TypeReg} }

func writeEntries(tw *tar.Writer, entries ...entry) error {
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: mode, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.body); err != nil {
				return err
			}
		}
	}
	return nil
}

// repeatReader yields n copies of b.
func repeatReader(b byte, n int64) io.Reader {
	return io.LimitReader(byteRepeater(b), n)
}

type byteRepeater byte

func (r byteRepeater) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// streamFile writes a regular file of size bytes from r into tw.
func streamFile(tw *tar.Writer, name string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		return err
	}
	_, err := io.CopyN(tw, r, size)
	return err
}

// zipOf builds a zip archive in memory; stored entries are not compressed.
type zipEntry struct {
	name  string
	body  []byte
	store bool
}

func zipOf(t *testing.T, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		m := zip.Deflate
		if e.store {
			m = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipBomb is a zip whose one entry inflates to size bytes of zeros.
func zipBomb(t *testing.T, name string, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, repeatReader(0, size)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nestedJar nests jars depth deep, each holding the next as a stored entry.
func nestedJar(t *testing.T, depth int) []byte {
	t.Helper()
	inner := zipOf(t, zipEntry{name: "META-INF/maven/g/a/pom.properties", body: []byte("groupId=g\nartifactId=a\nversion=1\n")})
	for i := 0; i < depth; i++ {
		inner = zipOf(t, zipEntry{name: fmt.Sprintf("lib/n%d.jar", i), body: inner, store: true})
	}
	return inner
}

func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
