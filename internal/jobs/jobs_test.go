package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/jobs"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/registrytest"
	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/store/storetest"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// startRegistry serves the in-process registry with the OCI 1.1
// referrers API (where verdicts are pushed).
func startRegistry(t *testing.T) *registrytest.Registry {
	return registrytest.Start(t, registry.WithReferrersSupport(true))
}

var (
	demoLayout = registrytest.DemoLayout
	push       = registrytest.Push
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, what, cond)
}

type engineCase struct {
	name string
	open func(t *testing.T, ctx context.Context, dir string, d *jobs.Deps, s jobs.Schedule) (*store.DB, *jobs.Engine)
}

var engineCases = []engineCase{
	{"sqlite", func(t *testing.T, ctx context.Context, dir string, d *jobs.Deps, s jobs.Schedule) (*store.DB, *jobs.Engine) {
		st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		d.Store = st
		e, err := jobs.OpenSQLite(ctx, filepath.Join(dir, "jobs.sqlite"), d, s)
		if err != nil {
			t.Fatal(err)
		}
		return st, e
	}},
	{"postgres", func(t *testing.T, ctx context.Context, dir string, d *jobs.Deps, s jobs.Schedule) (*store.DB, *jobs.Engine) {
		u := storetest.PostgresURL(t)
		st, err := store.OpenPostgres(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		d.Store = st
		e, err := jobs.OpenPostgres(ctx, u, d, s)
		if err != nil {
			t.Fatal(err)
		}
		return st, e
	}},
}

// The crawl finds the pushed tag, the scan stores the inventory; a
// database import then shows findings on the stored image through a
// re-match that downloads no blob from the registry.
func TestCrawlScanRematch(t *testing.T) {
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			reg := startRegistry(t)
			app := push(t, lay, "app", reg.Host+"/team/app:1")
			push(t, lay, "base", reg.Host+"/os/debian:12")

			dir := t.TempDir()
			dbPath := filepath.Join(dir, "vulndb.sqlite")
			d := &jobs.Deps{
				DBPath:       dbPath,
				Inventory:    loop.InventoryOptions{CacheDir: filepath.Join(dir, "cache"), TempDir: filepath.Join(dir, "cache", "tmp"), Tool: "drydock test"},
				Targets:      []jobs.Target{{Registry: reg.Host, Repositories: []string{"team/app", "os/debian"}, Tags: []string{"*"}}},
				ImageOptions: []image.Option{image.WithUserAgent("drydock-test")},
				Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
			}
			st, e := ec.open(t, ctx, dir, d, jobs.Schedule{Workers: 2})
			defer st.Close()
			if err := e.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			if _, err := e.Enqueue(ctx, jobs.CrawlAllArgs{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the app image scanned", func() bool {
				ok, _ := st.Scanned(ctx, app.DigestStr())
				return ok
			})
			im, err := st.Image(ctx, app.DigestStr())
			if err != nil {
				t.Fatal(err)
			}
			if im.Counts.Total != 0 || im.Repository != reg.Host+"/team/app" || len(im.Tags) != 1 || im.Tags[0] != "1" {
				t.Fatalf("image before any database = %+v", im)
			}
			if _, err := st.Inventory(ctx, app.DigestStr()); err != nil {
				t.Fatalf("inventory not stored: %v", err)
			}

			if _, err := vulndb.Import(ctx, dbPath, []string{pypi}); err != nil {
				t.Fatal(err)
			}
			before := reg.Blobs.Load()
			if _, err := e.Enqueue(ctx, jobs.DBUpdateArgs{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "findings after the re-match", func() bool {
				im, err := st.Image(ctx, app.DigestStr())
				return err == nil && im.Counts.Total > 0
			})
			if n := reg.Blobs.Load() - before; n != 0 {
				t.Errorf("the re-match downloaded %d blob(s); want none", n)
			}
			evs, err := st.Events(ctx, store.EventFilter{Digest: app.DigestStr(), Kind: store.EventAppeared})
			if err != nil {
				t.Fatal(err)
			}
			fs, _ := st.Findings(ctx, app.DigestStr())
			if len(evs) != len(fs) || len(evs) == 0 {
				t.Errorf("%d finding-appeared events for %d findings", len(evs), len(fs))
			}
			// The same database again: no second re-match.
			if _, err := e.Enqueue(ctx, jobs.DBUpdateArgs{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			dbEvents, _ := st.Events(ctx, store.EventFilter{Kind: store.EventDBUpdate})
			if len(dbEvents) != 1 {
				t.Errorf("%d db-update events; want 1 (an unchanged database is not re-matched)", len(dbEvents))
			}
		})
	}
}

// With a key, each scanned digest gets a verdict; a re-match that changes
// the findings signs a new one; an unchanged result never pushes another.
func TestVerdictsSignedOnceAndReSigned(t *testing.T) {
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := startRegistry(t)
	app := push(t, lay, "app", reg.Host+"/team/app:1")
	key, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := attest.NewSigner(key)
	keys, _ := attest.NewKeys(&key.PublicKey)

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "vulndb.sqlite")
	// A database that has nothing on the app's packages yet.
	if _, err := vulndb.Import(ctx, dbPath, []string{filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "crates.io", "all.zip")}); err != nil {
		t.Fatal(err)
	}
	d := &jobs.Deps{
		DBPath:       dbPath,
		Inventory:    loop.InventoryOptions{CacheDir: filepath.Join(dir, "cache"), TempDir: filepath.Join(dir, "cache", "tmp"), Tool: "drydock test"},
		ImageOptions: []image.Option{image.WithUserAgent("drydock-test")},
		Signer:       signer,
		Evaluator:    loop.FailOn{Threshold: "CRITICAL"},
		Tool:         attest.Scanner{Name: "drydock", Version: "test"},
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	st, e := engineCases[0].open(t, ctx, dir, d, jobs.Schedule{Workers: 2})
	defer st.Close()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	verdicts := func() []*attest.Verdict {
		all, err := attest.VerifyAll(ctx, app, keys)
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	if _, err := e.Enqueue(ctx, jobs.ResolveArgs{Ref: reg.Host + "/team/app:1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first verdict", func() bool { _, err := st.Verdict(ctx, app.DigestStr()); return err == nil })
	first, _ := st.Verdict(ctx, app.DigestStr())
	if got := verdicts(); len(got) != 1 || got[0].Err != nil || !got[0].Passed() {
		t.Fatalf("after the scan: %d verdict(s) %+v", len(got), got)
	}
	// Signing again with the same findings pushes nothing.
	e.Enqueue(ctx, jobs.SignArgs{Digest: app.DigestStr()})
	time.Sleep(time.Second)
	if got := verdicts(); len(got) != 1 {
		t.Fatalf("a repeated signing pushed again: %d verdicts", len(got))
	}
	// New advisories change the findings: a new verdict is signed.
	if _, err := vulndb.Import(ctx, dbPath, []string{pypi}); err != nil {
		t.Fatal(err)
	}
	e.Enqueue(ctx, jobs.DBUpdateArgs{})
	waitFor(t, "a new verdict after the re-match", func() bool {
		v, err := st.Verdict(ctx, app.DigestStr())
		return err == nil && v.Fingerprint != first.Fingerprint
	})
	got := verdicts()
	if len(got) != 2 {
		t.Fatalf("after the re-match: %d verdicts, want 2", len(got))
	}
	if got[0].Statement == nil || len(got[0].Statement.Predicate.Findings) == 0 {
		t.Errorf("the new verdict records no findings: %+v", got[0].Statement)
	}
}

// The embedded queue is a file: work queued before a stop is done after a
// restart on the same data directory.
func TestRestartResumesQueuedWork(t *testing.T) {
	lay := demoLayout(t)
	reg := startRegistry(t)
	app := push(t, lay, "app", reg.Host+"/team/app:1")
	dir := t.TempDir()
	ctx := context.Background()
	deps := func(st *store.DB) *jobs.Deps {
		return &jobs.Deps{Store: st, DBPath: filepath.Join(dir, "vulndb.sqlite"),
			Inventory:    loop.InventoryOptions{CacheDir: filepath.Join(dir, "cache"), TempDir: filepath.Join(dir, "cache", "tmp"), Tool: "drydock test"},
			ImageOptions: []image.Option{image.WithUserAgent("drydock-test")},
			Log:          slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	// First life: the job is queued, the process stops before working it.
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := jobs.OpenSQLite(ctx, filepath.Join(dir, "jobs.sqlite"), deps(st), jobs.Schedule{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Enqueue(ctx, jobs.ResolveArgs{Ref: reg.Host + "/team/app:1"}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Depth(ctx); err != nil || n != 1 {
		t.Fatalf("queue depth = %d, %v; want 1", n, err)
	}
	e.Stop(ctx)
	st.Close()

	// Second life on the same files.
	st, err = store.OpenSQLite(ctx, filepath.Join(dir, "server.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err = jobs.OpenSQLite(ctx, filepath.Join(dir, "jobs.sqlite"), deps(st), jobs.Schedule{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	waitFor(t, "the queued work done after the restart", func() bool {
		ok, _ := st.Scanned(ctx, app.DigestStr())
		return ok
	})
}

// The trend is sampled by a periodic job (once at start, then every
// interval) on both queues; a one-image rebuild runs only that image's
// reconcile and records its role.
func TestTrendJobAndOneImageRebuild(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			var asked []string
			var mu sync.Mutex
			d := &jobs.Deps{DBPath: filepath.Join(dir, "vulndb.sqlite"), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				ReconcileImage: func(_ context.Context, name string) freshness.Item {
					mu.Lock()
					asked = append(asked, name)
					mu.Unlock()
					return freshness.Item{Name: name, Action: freshness.ActionRebuild, RebuildID: "r1", State: freshness.StateDone}
				},
				Reconcile: func(context.Context) []freshness.Item {
					t.Error("the whole loop ran for a one-image rebuild")
					return nil
				},
				Role: func(name string) string {
					if name == "golden" {
						return store.RoleBase
					}
					return store.RoleApp
				}}
			st, e := ec.open(t, ctx, dir, d, jobs.Schedule{Trend: time.Hour})
			defer st.Close()
			if err := e.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			waitFor(t, "the first trend sample", func() bool {
				tr, err := st.Trend(ctx, 10)
				return err == nil && len(tr) == 1
			})
			if _, err := e.Enqueue(ctx, jobs.ReconcileImageArgs{Name: "golden"}); err != nil {
				t.Fatal(err)
			}
			var evs []store.Event
			waitFor(t, "the rebuild event", func() bool {
				evs, _ = st.Events(ctx, store.EventFilter{Kind: store.EventRebuild})
				return len(evs) > 0
			})
			mu.Lock()
			defer mu.Unlock()
			if len(evs) != 1 || evs[0].Role != store.RoleBase || !strings.HasPrefix(evs[0].Detail, "golden:") || len(asked) != 1 || asked[0] != "golden" {
				t.Errorf("events %+v after asking %v; want one rebuild of golden with role base", evs, asked)
			}
		})
	}
}
