package freshness

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/rebuild"
)

// testPatch stands in for rebuild.Patch (tested against real Debian images
// in test/e2e): an image without the "patched" annotation has something to
// fix; a request whose base did not move appends one layer and that
// annotation; one whose base moved is handed to a rebase.
type testPatch struct {
	rebase  testRebase
	checks  atomic.Int32
	patches atomic.Int32
}

var _ InPlaceFixer = (*testPatch)(nil)

func (x *testPatch) Name() string { return "patch" }

func (x *testPatch) Fixable(ctx context.Context, current string) (string, error) {
	x.checks.Add(1)
	img, err := remoteImage(ctx, current)
	if err != nil {
		return "", err
	}
	m, err := img.Manifest()
	if err != nil {
		return "", err
	}
	if m.Annotations["test.patched"] != "" {
		return "", nil
	}
	return "1 OS package has fixes", nil
}

func (x *testPatch) Rebuild(ctx context.Context, req rebuild.Request) (rebuild.Result, error) {
	if req.OldBase != req.NewBase {
		return x.rebase.Rebuild(ctx, req)
	}
	x.patches.Add(1)
	cur, err := remoteImage(ctx, req.Current)
	if err != nil {
		return rebuild.Result{}, err
	}
	l, _ := random.Layer(128, "application/vnd.oci.image.layer.v1.tar+gzip")
	img, err := mutate.AppendLayers(cur, l)
	if err != nil {
		return rebuild.Result{}, err
	}
	img = mutate.Annotations(img, map[string]string{"test.patched": "1"}).(v1.Image)
	tag, _ := name.NewTag(req.Target)
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return rebuild.Result{}, err
	}
	d, _ := img.Digest()
	return rebuild.Result{Image: tag.Context().Name() + "@" + d.String(), Log: "patched"}, nil
}

func remoteImage(ctx context.Context, ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return remote.Image(r, remote.WithContext(ctx))
}

// TestReconcileInPlace: with an executor that fixes in place, an image
// whose base has not moved is patched once (the check finds nothing after),
// and a later base update rebuilds it normally.
func TestReconcileInPlace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
images:
  - {name: app, image: REG/team/app:1, base: REG/base/os:12, rebuild: {kind: patch}}
  - {name: plain, image: REG/team/plain:1, base: REG/base/os:12, rebuild: {kind: rebase}}
`, "")
	x := &testPatch{}
	f.r.NewExecutor = func(kind string, _ map[string]string) (rebuild.Executor, error) {
		if kind == "patch" {
			return x, nil
		}
		return f.exec, nil
	}
	osV1 := randomImage(t)
	f.reg.push(t, "base/os:12", osV1)
	app := onBase(t, osV1, f.reg.host+"/base/os:12")
	f.reg.push(t, "team/app:1", app)
	f.reg.push(t, "team/plain:1", onBase(t, osV1, f.reg.host+"/base/os:12"))

	plan, err := f.r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range plan {
		got[it.Name] = it.Action + ": " + it.Reason
	}
	if !strings.HasPrefix(got["app"], ActionRebuild+": base "+f.reg.host+"/base/os:12 unchanged; 1 OS package has fixes") || got["plain"] != ActionUpToDate+": " {
		t.Fatalf("plan = %v; want app patched (base unchanged), plain up to date", got)
	}
	if f.reg.putsOf("team/app:1") != 1 {
		t.Fatal("the plan pushed something")
	}

	items := f.r.Reconcile(ctx)
	for _, it := range items {
		if it.Name == "app" && (it.State != StateDone || it.Error != "") {
			t.Fatalf("app: state %s error %s", it.State, it.Error)
		}
	}
	if n := x.patches.Load(); n != 1 {
		t.Fatalf("patched %d times, want 1", n)
	}
	if n := f.reg.putsOf("team/app:1"); n != 2 {
		t.Fatalf("app tag pushed %d times, want 2 (setup, patch)", n)
	}
	patchedIDs := diffIDsOf(t, f.reg.host, "team/app:1")
	if len(patchedIDs) != 3 {
		t.Fatalf("patched app has %d layers, want base + app + patch", len(patchedIDs))
	}
	recs, _ := f.store.Rebuilds(ctx, StateDone)
	if len(recs) != 1 || recs[0].OldBase != recs[0].NewBase {
		t.Fatalf("done rebuilds %+v, want one patch that keeps the base", recs)
	}

	// Patched: nothing more to do, and the check ran on the patched image.
	for _, it := range f.r.Reconcile(ctx) {
		if it.Action != ActionUpToDate || it.RebuildID != "" {
			t.Errorf("second reconcile: %s %s %s %s", it.Name, it.Action, it.Reason, it.Error)
		}
	}
	if n := x.patches.Load(); n != 1 {
		t.Errorf("patched %d times after the second reconcile, want 1", n)
	}

	// The base moves: a normal rebuild (here a rebase), not a patch.
	osV2 := randomImage(t)
	f.reg.push(t, "base/os:12", osV2)
	checks := x.checks.Load()
	for _, it := range f.r.Reconcile(ctx) {
		if it.Name == "app" && (it.State != StateDone || !strings.Contains(it.Reason, "moved")) {
			t.Errorf("app after the base moved: %s %s %s %s", it.Action, it.State, it.Reason, it.Error)
		}
	}
	if n := x.patches.Load(); n != 1 {
		t.Errorf("patched %d times after the base moved, want still 1", n)
	}
	if x.checks.Load() != checks {
		t.Error("a moved base was checked for in-place fixes; it needs a rebuild")
	}
	ids := diffIDsOf(t, f.reg.host, "team/app:1")
	osIDs := diffIDsOf(t, f.reg.host, "base/os:12")
	if ids[0] != osIDs[0] {
		t.Errorf("app layers %v do not start with the new base's %v", ids, osIDs)
	}
}

// TestReconcileInPlaceCheckError: a failing check is an error on the item,
// never a silent "up to date".
func TestReconcileInPlaceCheckError(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
images:
  - {name: app, image: REG/team/app:1, base: REG/base/os:12, rebuild: {kind: patch}}
`, "")
	f.r.NewExecutor = func(string, map[string]string) (rebuild.Executor, error) { return failingFixer{}, nil }
	osV1 := randomImage(t)
	f.reg.push(t, "base/os:12", osV1)
	f.reg.push(t, "team/app:1", onBase(t, osV1, f.reg.host+"/base/os:12"))
	items := f.r.Reconcile(ctx)
	if len(items) != 1 || items[0].Action != ActionError || !strings.Contains(items[0].Error, "apk images cannot be patched") {
		t.Fatalf("items = %+v; want an error naming the check's failure", items)
	}
}

type failingFixer struct{}

func (failingFixer) Name() string { return "patch" }
func (failingFixer) Rebuild(context.Context, rebuild.Request) (rebuild.Result, error) {
	return rebuild.Result{}, nil
}
func (failingFixer) Fixable(context.Context, string) (string, error) {
	return "", errorString("apk images cannot be patched yet")
}

type errorString string

func (e errorString) Error() string { return string(e) }
