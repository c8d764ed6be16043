package lineage

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/image"
)

// world is a registry holding an OS base, a runtime base on it, another
// base on the OS base, and an application on the runtime base.
type world struct {
	host                        string
	os, runtime, other, app     v1.Image
	osRef, runtimeRef, otherRef string
	appRef                      string
	osIDs, runtimeIDs, appIDs   []string
	osDigest, runtimeDigest     string
	appDigest                   string
}

func newRegistry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func layers(t testing.TB, n int) []v1.Layer {
	t.Helper()
	var out []v1.Layer
	for range n {
		l, err := random.Layer(256, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func build(t testing.TB, base v1.Image, ls []v1.Layer, ann map[string]string) v1.Image {
	t.Helper()
	if base == nil {
		base = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	img, err := mutate.AppendLayers(base, ls...)
	if err != nil {
		t.Fatal(err)
	}
	if ann != nil {
		img = mutate.Annotations(img, ann).(v1.Image)
	}
	return img
}

func push(t testing.TB, img v1.Image, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func ids(t testing.TB, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

// newWorld pushes the images; annotate says whether app and runtime carry
// base annotations.
func newWorld(t *testing.T, annotate bool) *world {
	t.Helper()
	w := &world{host: newRegistry(t)}
	w.osRef = w.host + "/base/os:1"
	w.runtimeRef = w.host + "/base/runtime:1"
	w.otherRef = w.host + "/base/other:1"
	w.appRef = w.host + "/team/app:1"
	w.os = build(t, nil, layers(t, 2), nil)
	w.osDigest = push(t, w.os, w.osRef)
	var rtAnn, appAnn map[string]string
	if annotate {
		rtAnn = map[string]string{image.AnnotationBaseName: w.osRef, image.AnnotationBaseDigest: w.osDigest}
	}
	w.runtime = build(t, w.os, layers(t, 1), rtAnn)
	w.runtimeDigest = push(t, w.runtime, w.runtimeRef)
	w.other = build(t, w.os, layers(t, 1), nil)
	push(t, w.other, w.otherRef)
	if annotate {
		appAnn = map[string]string{image.AnnotationBaseName: w.runtimeRef, image.AnnotationBaseDigest: w.runtimeDigest}
	}
	w.app = build(t, w.runtime, layers(t, 2), appAnn)
	w.appDigest = push(t, w.app, w.appRef)
	w.osIDs, w.runtimeIDs, w.appIDs = ids(t, w.os), ids(t, w.runtime), ids(t, w.app)
	return w
}

type linkSummary struct {
	Ref        string
	Digest     string
	Method     Method
	Confidence Confidence
	Layers     []string
}

func summarize(c *Chain) []linkSummary {
	var out []linkSummary
	for _, l := range c.Links {
		out = append(out, linkSummary{l.Ref, l.Digest, l.Method, l.Confidence, l.Layers})
	}
	return out
}

func (w *world) want(methods [2]Method, conf [2]Confidence) []linkSummary {
	return []linkSummary{
		{w.appRef, w.appDigest, MethodImage, "", w.appIDs[3:]},
		{w.runtimeRef, w.runtimeDigest, methods[0], conf[0], w.runtimeIDs[2:]},
		{w.osRef, w.osDigest, methods[1], conf[1], w.osIDs},
	}
}

func TestResolveAnnotations(t *testing.T) {
	w := newWorld(t, true)
	c, err := Resolve(context.Background(), w.appRef)
	if err != nil {
		t.Fatal(err)
	}
	want := w.want([2]Method{MethodAnnotation, MethodAnnotation}, [2]Confidence{High, High})
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if !c.Links[1].Verified || !c.Links[2].Verified {
		t.Errorf("links not verified: %+v", c.Links)
	}
	if c.Base().Ref != w.runtimeRef {
		t.Errorf("Base() = %+v", c.Base())
	}
	// Annotations beat a declared base and known bases.
	c, err = Resolve(context.Background(), w.appRef, WithDeclared(map[string]string{w.host + "/team/app": w.otherRef}), WithKnownBases(w.otherRef, w.osRef))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chain with declared and known bases (-want +got):\n%s", diff)
	}
}

func TestResolveAnnotationTagMoved(t *testing.T) {
	w := newWorld(t, true)
	// The runtime tag moves on; the app's annotation still pins the old digest.
	push(t, build(t, w.os, layers(t, 1), nil), w.runtimeRef)
	c, err := Resolve(context.Background(), w.appRef)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Base(); b.Digest != w.runtimeDigest || b.Confidence != High {
		t.Errorf("base = %+v; want the annotated digest, high", b)
	}
}

func TestResolveDeclared(t *testing.T) {
	w := newWorld(t, false)
	decl := map[string]string{
		w.host + "/team/app":   w.runtimeRef,
		w.runtimeRef:           w.osRef, // keyed by the reference as written
		w.host + "/base/other": w.appRef,
	}
	c, err := Resolve(context.Background(), w.appRef, WithDeclared(decl))
	if err != nil {
		t.Fatal(err)
	}
	want := w.want([2]Method{MethodDeclared, MethodDeclared}, [2]Confidence{Medium, Medium})
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	// A declared base whose layers do not match is reported, with low confidence.
	c, err = Resolve(context.Background(), w.appRef, WithDeclared(map[string]string{w.host + "/team/app": w.otherRef}))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Base(); b.Confidence != Low || b.Verified || !strings.Contains(b.Note, "not a prefix") {
		t.Errorf("mismatched declared base = %+v", b)
	}
}

func TestResolveLayerMatchLongestPrefix(t *testing.T) {
	w := newWorld(t, false)
	// Order must not matter: the OS base also matches, but runtime is longer.
	c, err := Resolve(context.Background(), w.appRef, WithKnownBases(w.osRef, w.otherRef, w.runtimeRef, w.host+"/missing/base:1"))
	if err != nil {
		t.Fatal(err)
	}
	want := w.want([2]Method{MethodLayers, MethodLayers}, [2]Confidence{High, High})
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	// No known base matches: the chain is the image alone.
	c, err = Resolve(context.Background(), w.appRef, WithKnownBases(w.otherRef))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Links) != 1 || len(c.Links[0].Layers) != 5 {
		t.Errorf("chain = %+v, want the image alone with its 5 layers", summarize(c))
	}
}

func TestResolveDockerfile(t *testing.T) {
	w := newWorld(t, false)
	df := []byte("ARG BASE=" + w.runtimeRef + "\nFROM --platform=$BUILDPLATFORM golang AS build\nFROM ${BASE}\nCOPY --from=build /x /x\n")
	c, err := Resolve(context.Background(), w.appRef, WithDockerfile(df, nil), WithKnownBases(w.osRef))
	if err != nil {
		t.Fatal(err)
	}
	want := w.want([2]Method{MethodDockerfile, MethodLayers}, [2]Confidence{Medium, High})
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	// The tag moved since the build: layers are attributed by the common prefix.
	push(t, build(t, w.os, layers(t, 1), nil), w.runtimeRef)
	c, err = Resolve(context.Background(), w.appRef, WithDockerfile(df, nil))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Base()
	if b.Verified || b.Confidence != Low || !strings.Contains(b.Note, "may have moved") {
		t.Errorf("moved tag base = %+v", b)
	}
	if got := c.Links[0].Layers; len(got) != 3 {
		t.Errorf("app layers with a moved base = %d, want 3 (beyond the 2 shared OS layers)", len(got))
	}
	// FROM scratch: no base.
	c, err = Resolve(context.Background(), w.appRef, WithDockerfile([]byte("FROM scratch\n"), nil))
	if err != nil || len(c.Links) != 1 {
		t.Errorf("scratch: %v %+v", err, c)
	}
}

func TestResolveFlagAndDepth(t *testing.T) {
	w := newWorld(t, true)
	c, err := Resolve(context.Background(), w.appRef, WithBase(w.osRef))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Base(); b.Method != MethodFlag || b.Confidence != High || b.Digest != w.osDigest || len(c.Links[0].Layers) != 3 || len(c.Links) != 2 {
		t.Errorf("--base chain = %+v", summarize(c))
	}
	c, err = Resolve(context.Background(), w.appRef, WithMaxDepth(1))
	if err != nil || len(c.Links) != 2 {
		t.Errorf("depth 1: %v %+v", err, c)
	}
	if _, err := Resolve(context.Background(), w.host+"/team/missing:1"); err == nil {
		t.Error("missing image: no error")
	}
}
