package patchexec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func testIndex(t *testing.T, entries ...mutate.IndexAddendum) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.Annotations(mutate.AppendManifests(idx, entries...), map[string]string{"org.example": "kept"}).(v1.ImageIndex)
}

func randImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.OCIManifestSchema1)
}

func TestAssembleIndex(t *testing.T) {
	amd, arm, att := randImage(t), randImage(t), randImage(t)
	orig := testIndex(t,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Annotations: map[string]string{"a": "1"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}},
	)
	plats, err := Platforms(orig)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range plats {
		got = append(got, d.Platform.String())
	}
	if d := cmp.Diff([]string{"linux/amd64", "linux/arm64/v8"}, got); d != "" {
		t.Fatalf("platforms (-want +got):\n%s", d)
	}
	pAmd, pArm := randImage(t), randImage(t)
	ad, _ := amd.Digest()
	rd, _ := arm.Digest()
	if _, err := AssembleIndex(orig, map[v1.Hash]v1.Image{ad: pAmd}); err == nil || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Errorf("a missing platform: %v, want an error naming linux/arm64/v8", err)
	}
	out, err := AssembleIndex(orig, map[v1.Hash]v1.Image{ad: pAmd, rd: pArm})
	if err != nil {
		t.Fatal(err)
	}
	im, _ := out.IndexManifest()
	od, _ := orig.Digest()
	pad, _ := pAmd.Digest()
	prd, _ := pArm.Digest()
	type entry struct{ Platform, Digest, A string }
	var entries []entry
	for _, d := range im.Manifests {
		entries = append(entries, entry{d.Platform.String(), d.Digest.String(), d.Annotations["a"]})
	}
	want := []entry{{"linux/amd64", pad.String(), "1"}, {"linux/arm64/v8", prd.String(), ""}}
	if d := cmp.Diff(want, entries); d != "" {
		t.Errorf("patched index entries (-want +got):\n%s", d)
	}
	if im.MediaType != types.OCIImageIndex || im.Annotations[AnnotationOriginal] != od.String() || im.Annotations["org.example"] != "kept" {
		t.Errorf("index media type %s, annotations %v", im.MediaType, im.Annotations)
	}
}

func TestPlatformsRefuses(t *testing.T) {
	img := randImage(t)
	nested := testIndex(t, mutate.IndexAddendum{Add: testIndex(t), Descriptor: v1.Descriptor{MediaType: types.OCIImageIndex}})
	noPlat := testIndex(t, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1}})
	twice := testIndex(t,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: randImage(t), Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	for name, tc := range map[string]struct {
		idx  v1.ImageIndex
		want string
	}{
		"nested": {nested, "not a platform image"},
		"noPlat": {noPlat, "has no platform"},
		"twice":  {twice, "platform linux/amd64 twice"},
		"empty":  {testIndex(t), "no platform image"},
	} {
		if _, err := Platforms(tc.idx); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func TestSameArch(t *testing.T) {
	for _, tc := range []struct {
		plat, dpkg string
		ok         bool
	}{
		{"linux/amd64", "amd64", true},
		{"linux/amd64/v3", "amd64", true},
		{"linux/arm64/v8", "arm64", true},
		{"linux/arm/v7", "armhf", true},
		{"linux/ppc64le", "ppc64el", true},
		{"linux/386", "i386", true},
		{"linux/arm64", "amd64", false},
		{"linux/amd64", "i386", false},
	} {
		p, err := v1.ParsePlatform(tc.plat)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameArch(*p, tc.dpkg); (err == nil) != tc.ok {
			t.Errorf("sameArch(%s, %s) = %v, want ok %v", tc.plat, tc.dpkg, err, tc.ok)
		}
	}
}

// TestStartRelativeWorkDir: buildah runs inside the session directory and
// is handed paths under it, so a relative WorkDir (--cache-dir ./cache)
// must become absolute. buildah here is a script that succeeds.
func TestStartRelativeWorkDir(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "buildah")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if err := os.Mkdir("work", 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := (&Buildah{Path: fake, WorkDir: "work"}).start(context.Background(), randImage(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if !filepath.IsAbs(s.dir) || !strings.HasPrefix(s.dir, dir) {
		t.Errorf("session directory %q, want an absolute path under %s", s.dir, dir)
	}
}
