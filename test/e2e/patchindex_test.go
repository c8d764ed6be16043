package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
)

// platformImage relabels img for platform p (config and, through the
// index entry, the descriptor).
func platformImage(t *testing.T, img v1.Image, p v1.Platform, env string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Env = append(cf.Config.Env, env)
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pushIndex(t *testing.T, ref string, entries map[string]v1.Image, order ...string) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range order {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: entries[p], Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: pl}})
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
	return idx
}

// fileLayer is one uncompressed-then-gzipped layer holding files.
func fileLayer(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, c := range files {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	tw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPatchIndex patches a two-platform index per platform, signs each
// result and checks the rescan. Only amd64 Debian packages are reachable
// here, so both platforms are amd64 images from the debootstrap rootfs
// (linux/amd64 and linux/amd64/v3, different configs): this proves the
// per-platform plan, patch, index assembly, rescan and signing, not that a
// foreign architecture's packages are fetched. A platform whose packages
// cannot be fetched (an apt source nobody answers) fails the whole patch,
// names the platform, and nothing is pushed.
func TestPatchIndex(t *testing.T) {
	e := setupPatch(t)
	dir := t.TempDir()
	data, cache := filepath.Join(dir, "data"), filepath.Join(dir, "cache")
	ids, _, want := e.importFixAdvisories(t, data)
	_, app := e.appImage(t, "e2e/patch-index-app")
	amd := platformImage(t, app, v1.Platform{OS: "linux", Architecture: "amd64"}, "E2E_PLATFORM=amd64")
	v3 := platformImage(t, app, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, "E2E_PLATFORM=amd64-v3")
	src := e.registry + "/e2e/patch-index:1"
	orig := pushIndex(t, src, map[string]v1.Image{"linux/amd64": amd, "linux/amd64/v3": v3}, "linux/amd64", "linux/amd64/v3")
	e.run(t, "key", "generate", "--output-key-prefix", filepath.Join(dir, "idx"), "--unencrypted")
	key, pub := filepath.Join(dir, "idx.key"), filepath.Join(dir, "idx.pub")

	target := e.registry + "/e2e/patch-index:1-patched"
	stdout, stderr, err := e.runLong(t, "patch", src, "-t", target, "--apt-source", e.source, "--key", key, "--no-policy",
		"-f", "json", "--data-dir", data, "--cache-dir", cache)
	if err != nil {
		t.Fatalf("drydock patch (index): %v\n%s\n%s", err, stdout, stderr)
	}
	var out patch.IndexOutcome
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("patch -f json of an index: %v\n%s", err, stdout)
	}
	tr, _ := name.ParseReference(target, name.Insecure)
	idx, err := remote.Index(tr)
	if err != nil {
		t.Fatalf("the patched index: %v", err)
	}
	im, _ := idx.IndexManifest()
	od, _ := orig.Digest()
	if im.Annotations[patchexec.AnnotationOriginal] != od.String() {
		t.Errorf("index annotation %s = %q, want %s", patchexec.AnnotationOriginal, im.Annotations[patchexec.AnnotationOriginal], od)
	}
	var plats []string
	for _, d := range im.Manifests {
		plats = append(plats, d.Platform.String())
	}
	if d := cmp.Diff([]string{"linux/amd64", "linux/amd64/v3"}, plats); d != "" {
		t.Fatalf("platforms of the patched index (-want +got):\n%s", d)
	}
	for i, src := range []v1.Image{amd, v3} {
		d := im.Manifests[i]
		sd, _ := src.Digest()
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := img.Manifest()
		if m.Annotations[patchexec.AnnotationOriginal] != sd.String() {
			t.Errorf("%s: patched from %q, want the original platform image %s", d.Platform, m.Annotations[patchexec.AnnotationOriginal], sd)
		}
		ol, pl := diffIDs(t, src), diffIDs(t, img)
		if len(pl) != len(ol)+1 || !slices.Equal(pl[:len(ol)], ol) {
			t.Errorf("%s: layers %v, want the original's %v plus one", d.Platform, pl, ol)
		}
		cf, _ := img.ConfigFile()
		if cf.Architecture != d.Platform.Architecture || cf.Variant != d.Platform.Variant || !slices.Contains(cf.Config.Env, "E2E_PLATFORM="+strings.ReplaceAll(strings.TrimPrefix(d.Platform.String(), "linux/"), "/", "-")) {
			t.Errorf("%s: config %s/%s env %v, want the platform's own", d.Platform, cf.Architecture, cf.Variant, cf.Config.Env)
		}
		if got := strings.Split(m.Annotations[patchexec.AnnotationPackages], ","); len(got) != len(want) {
			t.Errorf("%s: upgraded %v, the advisories name %v", d.Platform, got, want)
		}
		po := out.Platforms[i]
		if po.Outcome == nil || po.Outcome.Rescan == nil || !po.Outcome.Rescan.OK() || len(po.Outcome.Verdicts) != 2 {
			t.Errorf("%s: outcome %+v; want a confirming rescan and verdicts for the image and the index", d.Platform, po.Outcome)
		}
		ref := e.registry + "/e2e/patch-index@" + d.Digest.String()
		if left := e.findingIDs(t, data, cache, ref); len(left) > 0 {
			t.Errorf("%s: a rescan still finds %v (advisories %v)", d.Platform, left, ids)
		}
		if o, serr, err := e.runLong(t, "verify", ref, "--key", pub, "--allow-failing", "-f", "json"); err != nil {
			t.Errorf("verify %s: %v\n%s\n%s", ref, err, o, serr)
		}
	}

	// A platform whose packages cannot be fetched fails closed.
	broken, err := mutate.AppendLayers(v3, fileLayer(t, map[string]string{
		"etc/apt/sources.list.d/unreachable.list": "deb http://127.0.0.1:9/debian bookworm main\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	src2 := e.registry + "/e2e/patch-index:2"
	pushIndex(t, src2, map[string]v1.Image{"linux/amd64/v3": broken, "linux/amd64": amd}, "linux/amd64/v3", "linux/amd64")
	target2 := e.registry + "/e2e/patch-index:2-patched"
	stdout, stderr, err = e.runLong(t, "patch", src2, "-t", target2, "--apt-source", e.source, "-f", "json", "--data-dir", data, "--cache-dir", cache)
	if err == nil {
		t.Fatalf("patching an index with an unreachable platform source succeeded:\n%s", stdout)
	}
	if msg := string(stderr); !strings.Contains(msg, "platform linux/amd64/v3") || !strings.Contains(msg, "nothing pushed") {
		t.Errorf("stderr %q; want the failing platform named and nothing pushed", msg)
	}
	t2, _ := name.ParseReference(target2, name.Insecure)
	var terr *transport.Error
	if _, err := remote.Head(t2); !errors.As(err, &terr) || terr.StatusCode != 404 {
		t.Errorf("%s after a failed index patch: %v, want 404", target2, err)
	}
}
