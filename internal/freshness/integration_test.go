package freshness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/rebuild"
)

// testRegistry is go-containerregistry's in-process registry behind a
// handler that records manifest PUTs.
type testRegistry struct {
	host string
	mu   sync.Mutex
	puts []string // "repo:tag" of manifest PUTs by tag
}

func newTestRegistry(t testing.TB) *testRegistry {
	tr := &testRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			p := strings.TrimPrefix(r.URL.Path, "/v2/")
			i := strings.Index(p, "/manifests/")
			ref := p[i+len("/manifests/"):]
			if !strings.HasPrefix(ref, "sha256:") {
				tr.mu.Lock()
				tr.puts = append(tr.puts, p[:i]+":"+ref)
				tr.mu.Unlock()
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (tr *testRegistry) putsOf(repoTag string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, p := range tr.puts {
		if p == repoTag {
			n++
		}
	}
	return n
}

func (tr *testRegistry) push(t testing.TB, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

func randomImage(t testing.TB) v1.Image {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// onBase is base plus one random layer, annotated with base's name and digest.
func onBase(t testing.TB, base v1.Image, baseName string) v1.Image {
	l, err := random.Layer(256, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := base.Digest()
	return mutate.Annotations(img, map[string]string{annotationBaseName: baseName, annotationBaseDigest: d.String()}).(v1.Image)
}

// testRebase is a minimal rebase executor for these tests (the product one
// lives in internal/rebuild): mutate.Rebase, base annotations, push; a
// target already on the new base is left alone.
type testRebase struct{ calls atomic.Int32 }

func (x *testRebase) Name() string { return "rebase" }

func (x *testRebase) Rebuild(ctx context.Context, req rebuild.Request) (rebuild.Result, error) {
	x.calls.Add(1)
	get := func(ref string) (v1.Image, error) {
		r, err := name.ParseReference(ref)
		if err != nil {
			return nil, err
		}
		return remote.Image(r, remote.WithContext(ctx))
	}
	cur, err := get(req.Current)
	if err != nil {
		return rebuild.Result{}, err
	}
	oldB, err := get(req.OldBase)
	if err != nil {
		return rebuild.Result{}, err
	}
	newB, err := get(req.NewBase)
	if err != nil {
		return rebuild.Result{}, err
	}
	img, err := mutate.Rebase(cur, oldB, newB)
	if err != nil {
		return rebuild.Result{}, fmt.Errorf("%w: %v", rebuild.ErrNotPrefix, err)
	}
	img = mutate.Annotations(img, map[string]string{annotationBaseName: req.NewBaseTag, annotationBaseDigest: digestOf(req.NewBase)}).(v1.Image)
	tag, err := name.NewTag(req.Target)
	if err != nil {
		return rebuild.Result{}, err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return rebuild.Result{}, err
	}
	d, _ := img.Digest()
	return rebuild.Result{Image: tag.Context().Name() + "@" + d.String(), Tags: []string{req.Target}, Log: "rebased"}, nil
}

type fixture struct {
	reg   *testRegistry
	cfg   *Config
	store *Store
	exec  *testRebase
	r     *Reconciler
}

func newFixture(t testing.TB, yamlText string, storePath string) *fixture {
	t.Helper()
	f := &fixture{reg: newTestRegistry(t), exec: &testRebase{}}
	cfg, err := ParseConfig([]byte(strings.ReplaceAll(yamlText, "REG", f.reg.host)))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	f.store, err = OpenStore(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.r = &Reconciler{
		Config: cfg, Store: f.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:    &RemoteRegistry{Config: cfg, Platform: v1.Platform{OS: "linux", Architecture: "amd64"}},
		NewExecutor: func(string, map[string]string) (rebuild.Executor, error) { return f.exec, nil },
	}
	return f
}

const chainConfig = `
watch: {debounce: 200ms, pollInterval: 0s}
images:
  - {name: app, image: REG/team/app:1, base: REG/base/runtime:3, rebuild: {kind: rebase}}
  - {name: runtime, image: REG/base/runtime:3, base: REG/base/os:12, rebuild: {kind: rebase}}
`

func diffIDsOf(t testing.TB, host, ref string) []v1.Hash {
	t.Helper()
	r, _ := name.ParseReference(host + "/" + ref)
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

func TestReconcileThreeLevelChain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, chainConfig, "")
	osV1 := randomImage(t)
	f.reg.push(t, "base/os:12", osV1)
	runtime := onBase(t, osV1, f.reg.host+"/base/os:12")
	f.reg.push(t, "base/runtime:3", runtime)
	f.reg.push(t, "team/app:1", onBase(t, runtime, f.reg.host+"/base/runtime:3"))

	plan, err := f.r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range plan {
		if it.Action != ActionUpToDate {
			t.Errorf("before the base moves: %s is %s (%s %s)", it.Name, it.Action, it.Reason, it.Error)
		}
	}

	osV2 := randomImage(t)
	f.reg.push(t, "base/os:12", osV2)
	plan, _ = f.r.Plan(ctx)
	if len(plan) != 2 || plan[0].Name != "runtime" || plan[0].Action != ActionRebuild || plan[1].Name != "app" || plan[1].Action != ActionAfter || plan[1].After != "runtime" {
		t.Fatalf("plan = %+v; want runtime rebuild, then app after runtime", plan)
	}
	if plan[0].BaseFrom != BaseByAnnotation {
		t.Errorf("runtime's recorded base found by %q, want annotation", plan[0].BaseFrom)
	}
	before := len(f.reg.puts)
	items := f.r.Reconcile(ctx)
	for _, it := range items {
		if it.State != StateDone || it.Error != "" {
			t.Errorf("%s: state %s error %s", it.Name, it.State, it.Error)
		}
	}
	puts := f.reg.puts[before:]
	if len(puts) != 2 || puts[0] != "base/runtime:3" || puts[1] != "team/app:1" {
		t.Errorf("tag pushes = %v, want runtime then app", puts)
	}
	osIDs := diffIDsOf(t, f.reg.host, "base/os:12")
	appIDs := diffIDsOf(t, f.reg.host, "team/app:1")
	rtIDs := diffIDsOf(t, f.reg.host, "base/runtime:3")
	if len(appIDs) != 3 || appIDs[0] != osIDs[0] || appIDs[1] != rtIDs[1] {
		t.Errorf("app layers %v do not start with the new os %v and runtime %v", appIDs, osIDs, rtIDs)
	}
	// Nothing more to do.
	for _, it := range f.r.Reconcile(ctx) {
		if it.Action != ActionUpToDate || it.RebuildID != "" {
			t.Errorf("second reconcile: %s %s", it.Name, it.Action)
		}
	}
	if n := f.exec.calls.Load(); n != 2 {
		t.Errorf("executor called %d times, want 2", n)
	}
	recs, _ := f.store.Rebuilds(ctx, StateDone)
	if len(recs) != 2 {
		t.Errorf("%d done rebuilds in the store, want 2", len(recs))
	}
}

func TestWatchBurstOfTenPushesOneRebuild(t *testing.T) {
	f := newFixture(t, `
watch: {debounce: 300ms, pollInterval: 0s, events: {tokenEnv: T}}
images:
  - {name: app, image: REG/team/app:1, base: REG/base/os:12, rebuild: {kind: rebase}}
`, filepath.Join(t.TempDir(), "watch.sqlite"))
	base := randomImage(t)
	f.reg.push(t, "base/os:12", base)
	f.reg.push(t, "team/app:1", onBase(t, base, f.reg.host+"/base/os:12"))

	reconciled := make(chan []Item, 16)
	w := &Watcher{R: f.r, Token: "tok", OnReconcile: func(_ []string, items []Item) { reconciled <- items }}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	<-reconciled // the start-up reconcile

	for i := 0; i < 10; i++ {
		d := f.reg.push(t, "base/os:12", randomImage(t))
		body := fmt.Sprintf(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"repository":"base/os","tag":"12"},"request":{"host":%q}}]}`, d, f.reg.host)
		resp, err := http.Post(srv.URL+"/events/distribution?token=tok", "application/json", bytes.NewBufferString(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("event %d: %v %v", i, resp.Status, err)
		}
		resp.Body.Close()
	}
	select {
	case items := <-reconciled:
		if len(items) != 1 || items[0].State != StateDone {
			t.Fatalf("reconcile after the burst: %+v", items)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconcile after the burst")
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	if n := f.reg.putsOf("team/app:1"); n != 2 { // the initial push and one rebuild
		t.Errorf("app tag pushed %d times, want 2 (setup + one rebuild)", n)
	}
	if n := f.exec.calls.Load(); n != 1 {
		t.Errorf("executor ran %d times for a burst of ten, want 1", n)
	}
	ds, _ := f.store.Detections(context.Background())
	if len(ds) != 10 {
		t.Errorf("%d detections recorded, want 10", len(ds))
	}
	// The rebuilt image is on the last base pushed.
	last := diffIDsOf(t, f.reg.host, "base/os:12")
	if app := diffIDsOf(t, f.reg.host, "team/app:1"); app[0] != last[0] {
		t.Error("app is not on the newest base")
	}
}

// TestResumeAfterCrash leaves rebuilds "running" in the store, as a kill
// would, and restarts: one whose image was pushed before the crash is not
// rebuilt again; one whose push never happened is run again with the same ID.
func TestResumeAfterCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "watch.sqlite")
	f := newFixture(t, `
images:
  - {name: pushed, image: REG/team/pushed:1, base: REG/base/os:12, rebuild: {kind: rebase}}
  - {name: notpushed, image: REG/team/notpushed:1, base: REG/base/os:12, rebuild: {kind: rebase}}
`, path)
	base := randomImage(t)
	f.reg.push(t, "base/os:12", base)
	f.reg.push(t, "team/pushed:1", onBase(t, base, f.reg.host+"/base/os:12"))
	f.reg.push(t, "team/notpushed:1", onBase(t, base, f.reg.host+"/base/os:12"))
	f.reg.push(t, "base/os:12", randomImage(t))

	plan, _ := f.r.Plan(ctx)
	ids := map[string]string{}
	for _, it := range plan {
		if it.Action != ActionRebuild {
			t.Fatalf("%s: %s", it.Name, it.Action)
		}
		rec := RebuildRecord{ID: RebuildID(it.Name, digestOf(it.Current), digestOf(it.LatestBase)), Image: it.Name, Target: it.Image,
			Current: it.Current, OldBase: it.RecordedBase, NewBase: it.LatestBase, NewBaseTag: it.Base, Kind: it.Kind}
		ids[it.Name] = rec.ID
		f.store.Plan(ctx, rec)
		f.store.Transition(ctx, rec.ID, StateRunning, "", "")
		if it.Name == "pushed" { // the executor pushed, then the process died
			if _, err := f.exec.Rebuild(ctx, rebuild.Request{Name: it.Name, Target: it.Image, Current: it.Current, OldBase: it.RecordedBase, NewBase: it.LatestBase, NewBaseTag: it.Base, ID: rec.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.store.Close()
	f.exec.calls.Store(0)

	// Restart with the same store.
	g := newFixture(t, "images: [{name: x, image: r.io/x:1, base: r.io/y:1, rebuild: {kind: rebase}}]", path)
	g.reg, g.cfg = f.reg, f.cfg
	g.r.Config = f.cfg
	g.r.Registry = f.r.Registry
	items := g.r.Resume(ctx)
	if len(items) != 2 {
		t.Fatalf("resumed %d rebuilds, want 2: %+v", len(items), items)
	}
	for _, it := range items {
		if it.State != StateDone || it.RebuildID != ids[it.Name] {
			t.Errorf("%s: state %s id %s (want done, %s) err %s", it.Name, it.State, it.RebuildID, ids[it.Name], it.Error)
		}
	}
	if n := g.exec.calls.Load(); n != 1 {
		t.Errorf("executor ran %d times after restart, want 1 (only the rebuild that never pushed)", n)
	}
	if n := f.reg.putsOf("team/pushed:1"); n != 2 {
		t.Errorf("pushed:1 tag pushed %d times, want 2 (setup + the rebuild before the crash)", n)
	}
	if n := f.reg.putsOf("team/notpushed:1"); n != 2 {
		t.Errorf("notpushed:1 tag pushed %d times, want 2", n)
	}
	for _, it := range g.r.Reconcile(ctx) {
		if it.Action != ActionUpToDate {
			t.Errorf("after resume %s is %s", it.Name, it.Action)
		}
	}
}
