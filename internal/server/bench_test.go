package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/jobs"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/server"
	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/store/storetest"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkCrawlScan: DRYDOCK_BENCH_REPOS repositories (200), each an app
// layer on the one shared base, crawled and scanned on the embedded
// engine. Reports images per second and blob downloads per image (the
// base's layers come from the per-layer cache after the first).
func BenchmarkCrawlScan(b *testing.B) {
	n := envInt("DRYDOCK_BENCH_REPOS", 200)
	lay := demoLayout(b)
	for i := 0; i < b.N; i++ {
		reg := startRegistry(b)
		base := push(b, lay, "base", reg.host+"/os/debian:12")
		baseImg, err := remote.Image(base)
		if err != nil {
			b.Fatal(err)
		}
		for r := 0; r < n; r++ {
			l, _ := random.Layer(2048, "application/vnd.oci.image.layer.v1.tar+gzip")
			img, _ := mutate.AppendLayers(baseImg, l)
			tag, _ := name.NewTag(fmt.Sprintf("%s/apps/app%03d:1", reg.host, r))
			if err := remote.Write(tag, img); err != nil {
				b.Fatal(err)
			}
		}
		dir := b.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		d := &jobs.Deps{Store: st, DBPath: filepath.Join(dir, "vulndb.sqlite"),
			Inventory:    loop.InventoryOptions{CacheDir: filepath.Join(dir, "cache"), TempDir: filepath.Join(dir, "cache", "tmp"), Tool: "bench"},
			ImageOptions: []image.Option{image.WithUserAgent("bench")},
			Targets:      []jobs.Target{{Registry: reg.host, Catalog: true, Repositories: []string{"apps/*"}}},
			Log:          quiet()}
		e, err := jobs.OpenSQLite(ctx, filepath.Join(dir, "jobs.sqlite"), d, jobs.Schedule{Workers: 4})
		if err != nil {
			b.Fatal(err)
		}
		reg.blobs.Store(0)
		b.ResetTimer()
		start := time.Now()
		e.Start(ctx)
		e.Enqueue(ctx, jobs.CrawlAllArgs{})
		for {
			c, err := st.SeverityCounts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if c["none"] >= n {
				break
			}
			time.Sleep(250 * time.Millisecond) // the poll itself costs the process CPU
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(n)/el.Seconds(), "images/s")
		b.ReportMetric(float64(reg.blobs.Load())/float64(n), "blob-GETs/image")
		e.Stop(context.Background())
		st.Close()
		cancel()
	}
}

// fillStore stores n copies of the demo app's inventory under made-up
// digests, matched against an empty database (no findings yet).
func fillStore(b *testing.B, st *store.DB, n int) {
	b.Helper()
	ctx := context.Background()
	lay := demoLayout(b)
	tmp := b.TempDir()
	inv, err := loop.Inventory(ctx, "oci:"+lay+":app", loop.InventoryOptions{CacheDir: tmp, TempDir: tmp, Tool: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		digest := fmt.Sprintf("sha256:%x", sum)
		cp := *inv
		cp.Source = inventory.Source{Kind: "registry", Name: fmt.Sprintf("reg.example/apps/app%05d", i), Digest: digest}
		j, _ := json.Marshal(&cp)
		if _, err := st.PutImage(ctx, store.Image{Digest: digest, Registry: "reg.example", Repository: cp.Source.Name}); err != nil {
			b.Fatal(err)
		}
		if err := st.PutInventory(ctx, digest, j); err != nil {
			b.Fatal(err)
		}
		if _, err := st.SaveFindings(ctx, digest, nil, store.EventScan); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRematch: DRYDOCK_BENCH_INVENTORIES stored inventories (10,000)
// re-matched after a database import, one replica.
func benchRematch(b *testing.B, open func(b *testing.B, dir string) *store.DB, openEngine func(ctx context.Context, dir string, d *jobs.Deps) (*jobs.Engine, error)) {
	n := envInt("DRYDOCK_BENCH_INVENTORIES", 10000)
	pypi := filepath.Join(testenv.VulnData(b), "osv-bucket-layout", "PyPI", "all.zip")
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		st := open(b, dir)
		fillStore(b, st, n)
		dbPath := filepath.Join(dir, "vulndb.sqlite")
		ctx, cancel := context.WithCancel(context.Background())
		d := &jobs.Deps{Store: st, DBPath: dbPath, RematchBatch: 250, Log: quiet()}
		e, err := openEngine(ctx, dir, d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := vulndb.Import(ctx, dbPath, []string{pypi}); err != nil {
			b.Fatal(err)
		}
		e.Start(ctx)
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuSeconds()
		e.Enqueue(ctx, jobs.DBUpdateArgs{})
		for {
			c, err := st.SeverityCounts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if c["none"] == 0 {
				break
			}
			time.Sleep(250 * time.Millisecond) // the poll itself costs the process CPU
		}
		b.ReportMetric(time.Since(start).Seconds(), "rematch-s")
		// CPU time of this process (matcher, store, SQLite engine; not a
		// PostgreSQL server's): comparable on a machine shared with others.
		b.ReportMetric(cpuSeconds()-cpu0, "rematch-cpu-s")
		b.StopTimer()
		e.Stop(context.Background())
		if b.Name() == "BenchmarkRematchSQLite" {
			apiLatency(b, st)
		}
		st.Close()
		cancel()
	}
}

func BenchmarkRematchSQLite(b *testing.B) {
	benchRematch(b, func(b *testing.B, dir string) *store.DB {
		st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "server.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		return st
	}, func(ctx context.Context, dir string, d *jobs.Deps) (*jobs.Engine, error) {
		return jobs.OpenSQLite(ctx, filepath.Join(dir, "jobs.sqlite"), d, jobs.Schedule{Workers: 2})
	})
}

func BenchmarkRematchPostgres(b *testing.B) {
	u := storetest.PostgresURL(b)
	benchRematch(b, func(b *testing.B, dir string) *store.DB {
		st, err := store.OpenPostgres(context.Background(), u)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}, func(ctx context.Context, dir string, d *jobs.Deps) (*jobs.Engine, error) {
		return jobs.OpenPostgres(ctx, u, d, jobs.Schedule{Workers: 2})
	})
}

// apiLatency times GET /api/v1/vulnerabilities/{id} for an id every stored
// image has, and reports p50/p99 and the process's peak RSS.
func apiLatency(b *testing.B, st *store.DB) {
	ctx := context.Background()
	ims, _ := st.Images(ctx, store.ImageFilter{Limit: 1})
	fs, _ := st.Findings(ctx, ims[0].Digest)
	if len(fs) == 0 {
		b.Fatal("no findings to look up")
	}
	srv := httptest.NewServer((&server.API{Store: st, OpenReads: true}).Handler())
	defer srv.Close()
	var lat []time.Duration
	for i := 0; i < 30; i++ {
		t0 := time.Now()
		resp, err := http.Get(srv.URL + "/api/v1/vulnerabilities/" + fs[0].ID)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "vuln-p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "vuln-p99-ms")
	if s, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(s), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				kb, _ := strconv.Atoi(strings.Fields(l)[1])
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
			}
		}
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
