package rebuild

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// testRegistry is the in-process registry behind an HTTP server that counts
// the writes it receives.
type testRegistry struct {
	host string
	puts atomic.Int64
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			reg.puts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

type layerSpec struct {
	createdBy string
	empty     bool
}

// makeImage appends layers (random content) and history to base, then sets
// the config env and labels.
func makeImage(t testing.TB, base v1.Image, specs []layerSpec, env []string, labels map[string]string) v1.Image {
	t.Helper()
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	var adds []mutate.Addendum
	for _, s := range specs {
		a := mutate.Addendum{History: v1.History{CreatedBy: s.createdBy, EmptyLayer: s.empty, Created: v1.Time{Time: time.Unix(1700000000, 0).UTC()}}}
		if !s.empty {
			l, err := random.Layer(300, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			a.Layer = l
		}
		adds = append(adds, a)
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	c.Env = env
	c.Labels = labels
	img, err = mutate.Config(img, c)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushImage(t testing.TB, img v1.Image, ref string) string {
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
	return r.Context().Digest(d.String()).String()
}

func diffIDs(t testing.TB, img v1.Image) []v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// fixture is base v1, an app on it, and base v2 with different layers.
type fixture struct {
	reg                  *testRegistry
	v1, app, v2          v1.Image
	v1Ref, appRef, v2Ref string // digest references
	baseTag, appTag      string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{reg: newTestRegistry(t)}
	f.baseTag = f.reg.host + "/base/debian:12"
	f.appTag = f.reg.host + "/team/app:1"
	f.v1 = makeImage(t, nil, []layerSpec{{createdBy: "ADD rootfs v1"}, {createdBy: "RUN apt-get update v1"}},
		[]string{"PATH=/usr/local/bin:/usr/bin", "LANG=C", "BASEVER=1", "GONE=x"}, map[string]string{"vendor": "base", "version": "1"})
	f.v1Ref = pushImage(t, f.v1, f.baseTag)
	f.app = makeImage(t, f.v1, []layerSpec{{createdBy: "COPY app /app"}, {createdBy: "ENV APP=1", empty: true}, {createdBy: "RUN build"}},
		[]string{"PATH=/app/bin:/usr/local/bin:/usr/bin", "LANG=C", "BASEVER=1", "GONE=x", "APP=1"}, map[string]string{"vendor": "base", "version": "1", "app": "yes"})
	f.appRef = pushImage(t, f.app, f.appTag)
	f.v2 = makeImage(t, nil, []layerSpec{{createdBy: "ADD rootfs v2"}, {createdBy: "RUN apt-get upgrade v2"}},
		[]string{"PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8", "BASEVER=2", "NEW=yes"}, map[string]string{"vendor": "base", "version": "2"})
	f.v2Ref = pushImage(t, f.v2, f.baseTag)
	return f
}

func (f *fixture) request() Request {
	return Request{Name: "app", Target: f.appTag, Current: f.appRef, OldBase: f.v1Ref, NewBase: f.v2Ref, NewBaseTag: f.baseTag, ID: "r1"}
}

func TestRebase(t *testing.T) {
	f := newFixture(t)
	x, err := New("rebase", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending || len(res.Tags) != 1 || res.Tags[0] != f.appTag || !strings.Contains(res.Image, "@sha256:") {
		t.Errorf("result = %+v", res)
	}
	// The tag resolves to the pushed digest.
	tag, _ := name.ParseReference(f.appTag)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	if got := tag.Context().Digest(desc.Digest.String()).String(); got != res.Image {
		t.Errorf("tag resolves to %s, result says %s", got, res.Image)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	// Layers: v2's, then the app's own.
	want := slices.Concat(diffIDs(t, f.v2), diffIDs(t, f.app)[2:])
	if diff := cmp.Diff(want, diffIDs(t, img)); diff != "" {
		t.Errorf("diffIDs (-want +got):\n%s", diff)
	}
	// Compressed layers are the same blobs, not re-encoded.
	gotLayers, _ := img.Layers()
	appLayers, _ := f.app.Layers()
	for i, l := range appLayers[2:] {
		a, _ := l.Digest()
		b, _ := gotLayers[2+i].Digest()
		if a != b {
			t.Errorf("app layer %d re-encoded: %s != %s", i, a, b)
		}
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	v2Digest, _ := f.v2.Digest()
	if m.Annotations[image.AnnotationBaseName] != f.baseTag || m.Annotations[image.AnnotationBaseDigest] != v2Digest.String() {
		t.Errorf("annotations = %v", m.Annotations)
	}
	if m.MediaType != types.OCIManifestSchema1 {
		t.Errorf("media type %s", m.MediaType)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"PATH=/app/bin:/usr/local/bin:/usr/bin", "LANG=C.UTF-8", "BASEVER=2", "APP=1", "NEW=yes"}
	if diff := cmp.Diff(wantEnv, cf.Config.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"vendor": "base", "version": "2", "app": "yes"}, cf.Config.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	var hist []string
	for _, h := range cf.History {
		hist = append(hist, h.CreatedBy)
	}
	if diff := cmp.Diff([]string{"ADD rootfs v2", "RUN apt-get upgrade v2", "COPY app /app", "ENV APP=1", "RUN build"}, hist); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	// Idempotency: a retry pushes nothing and returns the same image.
	before := f.reg.puts.Load()
	res2, err := x.Rebuild(context.Background(), f.request())
	if err != nil {
		t.Fatal(err)
	}
	if n := f.reg.puts.Load() - before; n != 0 {
		t.Errorf("retry made %d PUTs, want 0", n)
	}
	if res2.Image != res.Image || !strings.Contains(res2.Log, "nothing pushed") {
		t.Errorf("retry = %+v, want %s", res2, res.Image)
	}
	// Also when the caller has moved Current on to the rebased image already
	// (the old base is then not a prefix, but the target is done).
	req := f.request()
	req.Current = res.Image
	if res3, err := x.Rebuild(context.Background(), req); err == nil {
		t.Errorf("rebasing an image not on the old base succeeded: %+v", res3)
	} else if !errors.Is(err, ErrNotPrefix) {
		t.Errorf("err = %v, want ErrNotPrefix", err)
	}
}

func TestRebaseNotPrefix(t *testing.T) {
	f := newFixture(t)
	x, err := New("rebase", map[string]string{"insecure": "false"})
	if err != nil {
		t.Fatal(err)
	}
	before := f.reg.puts.Load()
	// The app is not built on v2, so v2 as the old base is refused.
	req := f.request()
	req.OldBase = f.v2Ref
	_, err = x.Rebuild(context.Background(), req)
	if !errors.Is(err, ErrNotPrefix) || !strings.Contains(err.Error(), "layer 1 of 2 differs") {
		t.Errorf("err = %v, want ErrNotPrefix naming the layer", err)
	}
	// An "old base" with more layers than the image.
	big := makeImage(t, f.app, []layerSpec{{createdBy: "x"}}, nil, nil)
	req.OldBase = pushImage(t, big, f.reg.host+"/base/big:1")
	_, err = x.Rebuild(context.Background(), req)
	if !errors.Is(err, ErrNotPrefix) || !strings.Contains(err.Error(), "the image only 4") {
		t.Errorf("err = %v, want ErrNotPrefix: too many layers", err)
	}
	if n := f.reg.puts.Load() - before; n > 3 { // only the big image's own push
		t.Errorf("refusals pushed: %d PUTs", n)
	}
	// Missing fields and an unknown kind.
	if _, err := x.Rebuild(context.Background(), Request{Target: f.appTag}); err == nil {
		t.Error("empty request accepted")
	}
	if _, err := New("magic", nil); err == nil || !strings.Contains(err.Error(), "build, dispatch, patch, rebase") {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestRebaseRefusesIndex(t *testing.T) {
	f := newFixture(t)
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: f.app, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	r, _ := name.ParseReference(f.reg.host + "/team/multi:1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	x, _ := New("rebase", nil)
	req := f.request()
	req.Current = f.reg.host + "/team/multi:1"
	if _, err := x.Rebuild(context.Background(), req); err == nil || !strings.Contains(err.Error(), "multi-platform") {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkRebase measures the rebase path of "a new base was pushed → the
// dependent application images are rebuilt and pushed" against the
// in-process registry: N applications on base v1 are rebased onto v2, one
// after another. ns/image is the time per application image.
func BenchmarkRebase(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run("dependents="+itoa(n), func(b *testing.B) {
			reg := newTestRegistry(b)
			baseTag := reg.host + "/base/debian:12"
			v1img := makeImage(b, nil, []layerSpec{{createdBy: "a"}, {createdBy: "b"}}, []string{"V=1"}, nil)
			v1Ref := pushImage(b, v1img, baseTag)
			var apps []string
			for i := range n {
				app := makeImage(b, v1img, []layerSpec{{createdBy: "app"}, {createdBy: "cfg"}}, []string{"V=1", "APP=" + itoa(i)}, nil)
				apps = append(apps, pushImage(b, app, reg.host+"/team/app"+itoa(i)+":1"))
			}
			x, err := New("rebase", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				b.StopTimer()
				v2 := makeImage(b, nil, []layerSpec{{createdBy: "a2"}, {createdBy: "b2"}}, []string{"V=2"}, nil)
				v2Ref := pushImage(b, v2, baseTag)
				b.StartTimer()
				for i, app := range apps {
					_, err := x.Rebuild(context.Background(), Request{
						Name: "app" + itoa(i), Target: reg.host + "/team/app" + itoa(i) + ":1", Current: app,
						OldBase: v1Ref, NewBase: v2Ref, NewBaseTag: baseTag, ID: itoa(it),
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/image")
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
