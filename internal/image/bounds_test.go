package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Layout directories are read under the same bounds as archives (issue
// 17): no symlinks, devices or FIFOs where a file is expected, no file
// over its limit, and every blob the size its descriptor says.
func TestLayoutBounds(t *testing.T) {
	mk := func(t *testing.T) (string, v1.Image) {
		dir := t.TempDir()
		lp, _ := layout.Write(dir, empty.Index)
		img := platformImage(t, amd64)
		if err := lp.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		return dir, img
	}
	blob := func(dir string, h v1.Hash) string { return filepath.Join(dir, "blobs", h.Algorithm, h.Hex) }
	// rewriteIndex changes the descriptor of the one image in index.json.
	rewriteIndex := func(t *testing.T, dir string, f func(*v1.Descriptor)) {
		b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		var im v1.IndexManifest
		if err := json.Unmarshal(b, &im); err != nil {
			t.Fatal(err)
		}
		f(&im.Manifests[0])
		b, _ = json.Marshal(im)
		os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
	}
	tests := []struct {
		name  string
		craft func(t *testing.T, dir string, img v1.Image)
		want  string
	}{
		{"index.json is a symlink to /dev/zero", func(t *testing.T, dir string, img v1.Image) {
			os.Remove(filepath.Join(dir, "index.json"))
			must(t, os.Symlink("/dev/zero", filepath.Join(dir, "index.json")))
		}, "index.json is a symlink"},
		{"index.json is a FIFO", func(t *testing.T, dir string, img v1.Image) {
			os.Remove(filepath.Join(dir, "index.json"))
			must(t, syscall.Mkfifo(filepath.Join(dir, "index.json"), 0o644))
		}, "index.json is not a regular file"},
		{"index.json is huge", func(t *testing.T, dir string, img v1.Image) {
			must(t, os.Truncate(filepath.Join(dir, "index.json"), maxIndexBytes+1))
		}, "over the"},
		{"manifest is a symlink to /dev/zero", func(t *testing.T, dir string, img v1.Image) {
			d, _ := img.Digest()
			os.Remove(blob(dir, d))
			must(t, os.Symlink("/dev/zero", blob(dir, d)))
		}, "is a symlink"},
		{"manifest descriptor lies about its size", func(t *testing.T, dir string, img v1.Image) {
			rewriteIndex(t, dir, func(d *v1.Descriptor) { d.Size-- })
		}, "its descriptor says"},
		{"manifest over the limit", func(t *testing.T, dir string, img v1.Image) {
			d, _ := img.Digest()
			must(t, os.Truncate(blob(dir, d), maxManifestBytes+1))
			rewriteIndex(t, dir, func(d *v1.Descriptor) { d.Size = maxManifestBytes + 1 })
		}, "over the"},
		{"config is a FIFO", func(t *testing.T, dir string, img v1.Image) {
			cd, _ := img.ConfigName()
			os.Remove(blob(dir, cd))
			must(t, syscall.Mkfifo(blob(dir, cd), 0o644))
		}, "not a regular file"},
		{"config larger than the manifest says", func(t *testing.T, dir string, img v1.Image) {
			cd, _ := img.ConfigName()
			b, _ := os.ReadFile(blob(dir, cd))
			must(t, os.WriteFile(blob(dir, cd), append(b, bytes.Repeat([]byte(" "), 1<<20)...), 0o644))
		}, "its descriptor says"},
		{"layer is a symlink", func(t *testing.T, dir string, img v1.Image) {
			ls, _ := img.Layers()
			d, _ := ls[0].Digest()
			os.Remove(blob(dir, d))
			must(t, os.Symlink("/dev/zero", blob(dir, d)))
		}, "is a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, img := mk(t)
			tt.craft(t, dir, img)
			_, err := Open(context.Background(), dir)
			if err == nil {
				t.Fatal("want error")
			}
			if !errors.Is(err, ErrBadSource) && !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("err = %v, want ErrBadSource or ErrDigestMismatch", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A classic docker save archive (uncompressed layer tars) is read in
// place: its layers are the archive's bytes, described as uncompressed
// blobs, and never keyed by their claimed digests.
func TestClassicDockerArchiveInPlace(t *testing.T) {
	img := platformImage(t, amd64)
	ls, _ := img.Layers()
	rc, _ := ls[0].Uncompressed()
	layerTar, _ := io.ReadAll(rc)
	cfg, _ := img.RawConfigFile()
	cn, _ := img.ConfigName()
	out := filepath.Join(t.TempDir(), "save.tar")
	f, _ := os.Create(out)
	tw := tar.NewWriter(f)
	add := func(name string, b []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		tw.Write(b)
	}
	add("abc/layer.tar", layerTar)
	add(cn.Hex+".json", cfg)
	add("manifest.json", []byte(`[{"Config":"`+cn.Hex+`.json","RepoTags":["x/y:1"],"Layers":["abc/layer.tar"]}]`))
	tw.Close()
	f.Close()

	tmp := t.TempDir()
	got, err := Open(context.Background(), out, WithTempDir(tmp))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if _, ok := got.Image.(*dockerImage); !ok {
		t.Fatalf("read with %T, want the in-place reader", got.Image)
	}
	if got.Source.ConfigDigest != cn.String() || !got.PreferUncompressed {
		t.Errorf("source %+v", got.Source)
	}
	gl, _ := got.Image.Layers()
	r, err := gl[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(b, layerTar) {
		t.Errorf("layer content differs from the archive's layer.tar")
	}
	if k, ok := got.LayerKey(0); ok && k.Space != LayerKeyFile {
		t.Errorf("docker archive layer keyed by %+v; only the file's identity may key it", k)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("opening wrote %v", ents)
	}
}

// An archive naming one entry twice is refused with a message that says
// so: which copy a reader sees would depend on the reader.
func TestArchiveDuplicateEntry(t *testing.T) {
	dir := t.TempDir()
	lp, _ := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err := lp.AppendImage(platformImage(t, amd64)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dup.tar")
	tarDir(t, filepath.Join(dir, "layout"), out, map[string]string{"index.json": `{"schemaVersion":2,"manifests":[]}`})
	_, err := Open(context.Background(), out)
	if !errors.Is(err, ErrBadSource) || !strings.Contains(err.Error(), "holds index.json twice") {
		t.Fatalf("err = %v, want one saying the archive holds index.json twice", err)
	}
}
