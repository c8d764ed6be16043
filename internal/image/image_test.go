package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func newRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func multiArch(t *testing.T, ps ...v1.Platform) (v1.ImageIndex, map[string]v1.Hash) {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	digests := map[string]v1.Hash{}
	for _, p := range ps {
		img := platformImage(t, p)
		d, _ := img.Digest()
		digests[platformString(p)] = d
		p := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return idx, digests
}

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	armv7 = v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
)

func TestOpenRegistryIndexPicksPlatform(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	idx, digests := multiArch(t, amd64, arm64, armv7)
	ref, _ := name.ParseReference(reg + "/team/app:1.2")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	tests := []struct {
		platform v1.Platform
		want     string
	}{
		{amd64, "linux/amd64"},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64/v8"},
		{armv7, "linux/arm/v7"},
	}
	for _, tt := range tests {
		img, err := Open(ctx, reg+"/team/app:1.2", WithPlatform(tt.platform))
		if err != nil {
			t.Fatalf("Open(%v): %v", tt.platform, err)
		}
		got := []string{img.Source.Kind, img.Source.Platform, img.Source.Digest, img.Source.IndexDigest, img.Source.Name}
		want := []string{KindRegistry, tt.want, digests[tt.want].String(), idxDigest.String(), reg + "/team/app"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("platform %v (-want +got):\n%s", tt.platform, diff)
		}
	}
	_, err := Open(ctx, reg+"/team/app:1.2", WithPlatform(v1.Platform{OS: "linux", Architecture: "s390x"}))
	if !errors.Is(err, ErrPlatformNotFound) {
		t.Fatalf("want ErrPlatformNotFound, got %v", err)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7"} {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not list %s", err, p)
		}
	}
	// By digest, too.
	img, err := Open(ctx, reg+"/team/app@"+idxDigest.String(), WithPlatform(amd64))
	if err != nil || img.Source.Digest != digests["linux/amd64"].String() {
		t.Fatalf("open by digest: %v %+v", err, img)
	}
}

func TestOpenRegistryErrors(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	if _, err := Open(ctx, reg+"/missing/image:1"); err == nil {
		t.Error("missing image: want error")
	}
	if _, err := Open(ctx, "127.0.0.1:1/nothing/listens:1"); err == nil {
		t.Error("unreachable registry: want error")
	}
	if _, err := Open(ctx, "UPPER/Case:bad tag"); err == nil {
		t.Error("malformed reference: want error")
	}
}

func TestOpenLayoutAndArchives(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	img := platformImage(t, amd64)
	want, _ := img.Digest()

	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(dir, "docker.tar")
	tag, _ := name.NewTag("example.com/app:1")
	if err := tarball.WriteToFile(dockerTar, tag, img); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "layout"), ociTar, nil)

	tests := []struct{ src, kind string }{
		{filepath.Join(dir, "layout"), KindLayout},
		{"oci:" + filepath.Join(dir, "layout"), KindLayout},
		{dockerTar, KindArchive},
		{ociTar, KindArchive},
		{"oci-archive:" + ociTar, KindArchive},
	}
	for _, tt := range tests {
		got, err := Open(ctx, tt.src, WithTempDir(t.TempDir()))
		if err != nil {
			t.Fatalf("Open(%s): %v", tt.src, err)
		}
		if got.Source.Kind != tt.kind || got.Source.Digest != want.String() {
			t.Errorf("Open(%s) = kind %s digest %s; want %s %s", tt.src, got.Source.Kind, got.Source.Digest, tt.kind, want)
		}
		got.Close()
	}

	rootfs := t.TempDir()
	got, err := Open(ctx, rootfs)
	if err != nil || got.RootDir != rootfs || got.Source.Kind != KindRootfs {
		t.Fatalf("rootfs: %+v %v", got, err)
	}
}

// tarDir writes dir into a tar, adding extra raw entries (hostile names).
func tarDir(t *testing.T, dir, out string, extra map[string]string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for n, body := range extra {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
		tw.Write([]byte(body))
	}
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Typeflag: tar.TypeReg, Size: int64(len(b)), Mode: 0o644})
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOCIArchiveHostileEntriesStayInside(t *testing.T) {
	dir := t.TempDir()
	lp, _ := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err := lp.AppendImage(platformImage(t, amd64)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "evil.tar")
	tarDir(t, filepath.Join(dir, "layout"), out, map[string]string{
		"../../escaped":            "x",
		"/abs-escaped":             "x",
		"blobs/sha256/../../evil2": "x",
	})
	tmp := t.TempDir()
	img, err := Open(context.Background(), out, WithTempDir(tmp))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	img.Close()
	for _, p := range []string{filepath.Join(dir, "..", "escaped"), "/abs-escaped", filepath.Join(tmp, "evil2")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("Close must remove the unpacked archive, left %v", ents)
	}
}

// TestOCIArchiveDuplicateEntry: an archive holding index.json twice (the
// first from extra, the second from the layout) is ambiguous. It used to
// fail with the temp file's "index.json: file exists".
func TestOCIArchiveDuplicateEntry(t *testing.T) {
	dir := t.TempDir()
	lp, _ := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err := lp.AppendImage(platformImage(t, amd64)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dup.tar")
	tarDir(t, filepath.Join(dir, "layout"), out, map[string]string{"./index.json": `{"schemaVersion":2,"manifests":[]}`})
	tmp := t.TempDir()
	_, err := Open(context.Background(), out, WithTempDir(tmp))
	if !errors.Is(err, ErrBadSource) || !strings.Contains(err.Error(), "the archive holds index.json twice") || strings.Contains(err.Error(), "file exists") {
		t.Fatalf("err = %v, want ErrBadSource naming the duplicate index.json", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("the unpacked archive was left behind: %v", ents)
	}
}

func TestLayoutDigestMismatch(t *testing.T) {
	dir := t.TempDir()
	lp, _ := layout.Write(dir, empty.Index)
	img := platformImage(t, amd64)
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	// Rewrite the config blob in place: the manifest still names the old
	// digest, so the layout lies.
	cd, _ := img.ConfigName()
	p := filepath.Join(dir, "blobs", "sha256", cd.Hex)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(b, []byte(`"amd64"`), []byte(`"arm64"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dir)
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("want ErrDigestMismatch, got %v", err)
	}
}

func TestBadSources(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.tar")
	os.WriteFile(junk, []byte("this is not a tar archive at all, not even close"), 0o644)
	empty := filepath.Join(dir, "empty.tar")
	tarDir(t, t.TempDir(), empty, map[string]string{"hello.txt": "hi"})
	for _, src := range []string{junk, empty, "rootfs:" + junk, "oci:" + dir} {
		if _, err := Open(context.Background(), src); err == nil {
			t.Errorf("Open(%s): want error", src)
		}
	}
}
