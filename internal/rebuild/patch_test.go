package rebuild

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/patchexec"
)

func TestNewPatchConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]string
		err  string
	}{
		{"findings need a database", map[string]string{}, "patch: db is required with select findings (or set select: all-updates)"},
		{"findings with a database", map[string]string{"db": "/var/lib/drydock/vuln.db", "severity": "high"}, ""},
		{"all updates", map[string]string{"select": "all-updates", "sources": "deb http://mirror/debian-security bookworm-security main\n"}, ""},
		{"all updates with a severity", map[string]string{"select": "all-updates", "severity": "high"}, "patch: severity applies to select findings only"},
		{"unknown select", map[string]string{"select": "everything"}, `patch: select "everything": want findings or all-updates`},
		{"bad source", map[string]string{"select": "all-updates", "sources": "http://mirror bookworm main"}, `patch: sources line "http://mirror bookworm main": want "deb URI SUITE COMPONENT..."`},
		{"bad timeout", map[string]string{"select": "all-updates", "timeout": "-1m"}, `patch: timeout "-1m": want a positive duration like 30m`},
		{"patch on base update", map[string]string{"select": "all-updates", "on_base_update": "patch"}, "patch: on_base_update cannot be patch: a moved base needs a rebuild"},
		{"unknown on base update", map[string]string{"select": "all-updates", "on_base_update": "magic"}, `patch: on_base_update "magic": want rebase, build or dispatch`},
		{"on base update's own keys are checked", map[string]string{"select": "all-updates", "on_base_update": "build"}, "patch: on_base_update: build: command is required"},
		{"on base update build", map[string]string{"select": "all-updates", "on_base_update": "build", "base.command": `["true"]`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := New("patch", tc.cfg)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if x.Name() != "patch" {
				t.Errorf("Name() = %q", x.Name())
			}
		})
	}
	if !slices.Contains(Kinds(), "patch") {
		t.Errorf("Kinds() = %v, want patch among them", Kinds())
	}
}

// patchedApp is f.app plus one layer, annotated as drydock patch does.
func patchedApp(t *testing.T, f *fixture) (v1.Image, string) {
	t.Helper()
	img := makeImage(t, f.app, []layerSpec{{createdBy: "drydock patch: apt-get install --only-upgrade zlib1g=1:1.2.13.dfsg-1+deb12u1"}}, nil, nil)
	ad, err := f.app.Digest()
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.Annotations(img, map[string]string{patchexec.AnnotationOriginal: ad.String(), patchexec.AnnotationPackages: "zlib1g=1:1.2.13.dfsg-1+deb12u1"}).(v1.Image)
	return img, pushImage(t, img, f.reg.host+"/team/app:1-patched")
}

// TestPatchBaseMovedRebuildsTheOriginal: when the base moves, the patch
// executor rebases the image the patch was made from, so the patch layer
// is not carried onto the new base.
func TestPatchBaseMovedRebuildsTheOriginal(t *testing.T) {
	f := newFixture(t)
	_, patchedRef := patchedApp(t, f)
	req := f.request()
	req.Current = patchedRef

	x, err := New("patch", map[string]string{"select": "all-updates", "buildah": "/nonexistent/buildah"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "set on_base_update") {
		t.Fatalf("without on_base_update: error = %v, want one saying to set it", err)
	}

	x, err = New("patch", map[string]string{"select": "all-updates", "buildah": "/nonexistent/buildah", "on_base_update": "rebase"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	app := diffIDs(t, f.app)
	want := append(slices.Clone(diffIDs(t, f.v2)), app[len(diffIDs(t, f.v1)):]...)
	if !slices.Equal(diffIDs(t, got), want) {
		t.Errorf("rebuilt layers %v, want the new base's plus the original app's %v (no patch layer)", diffIDs(t, got), want)
	}
}

// TestPatchRetryReturnsThePushedPatch: a request retried after its push
// finds Target already patched from Current and runs nothing (the buildah
// path does not exist, so running would fail).
func TestPatchRetryReturnsThePushedPatch(t *testing.T) {
	f := newFixture(t)
	_, patchedRef := patchedApp(t, f)
	x, err := New("patch", map[string]string{"select": "all-updates", "buildah": "/nonexistent/buildah"})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Name: "app", Current: f.appRef, Target: f.reg.host + "/team/app:1-patched", OldBase: f.v1Ref, NewBase: f.v1Ref, ID: "p1"}
	res, err := x.Rebuild(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image != patchedRef {
		t.Errorf("Image = %s, want the pushed patch %s", res.Image, patchedRef)
	}
	// Another current image is not that patch: the executor must scan and
	// plan it, and this one (random layers) has no OS to patch.
	req.Current = f.v1Ref
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "no operating system detected") {
		t.Errorf("error = %v, want the plan's refusal", err)
	}
}

// TestPatchRefusesIndexTarget: the loop names one platform's manifest as
// Current; its patch must not replace a multi-platform tag with a single
// platform image.
func TestPatchRefusesIndexTarget(t *testing.T) {
	f := newFixture(t)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: f.app, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	target := f.reg.host + "/team/multi:1"
	r, err := name.ParseReference(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	x, err := New("patch", map[string]string{"select": "all-updates", "buildah": "/nonexistent/buildah"})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Name: "multi", Current: f.appRef, Target: target, OldBase: f.v1Ref, NewBase: f.v1Ref, ID: "p2"}
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "is a multi-platform index") {
		t.Fatalf("error = %v, want the refusal of an index target", err)
	}
	if desc, err := remote.Head(r); err != nil || !desc.MediaType.IsIndex() {
		t.Errorf("the target is no longer the index: %v %v", desc, err)
	}
}
