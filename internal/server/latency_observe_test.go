package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock/drydock/internal/store"
)

const (
	vulnDigest  = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fixedDigest = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// The patch latency histogram is observed when the last workload moves
// off the vulnerable digest, with the seconds since the fix was known;
// not while another workload still runs it.
func TestPatchLatencyObserved(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	st.SetClock(func() time.Time { return now })

	for _, d := range []string{vulnDigest, fixedDigest} {
		if _, err := st.PutImage(ctx, store.Image{Digest: d, Registry: "reg.example", Repository: "reg.example/team/app"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutInventory(ctx, d, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SaveFindings(ctx, vulnDigest, []store.Finding{{ID: "CVE-2026-0001", Package: "openssl", Version: "3.0.1", Fixed: "3.0.2", Severity: "HIGH"}}, store.EventScan); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveFindings(ctx, fixedDigest, nil, store.EventScan); err != nil {
		t.Fatal(err)
	}
	web := store.Workload{Cluster: "c", Namespace: "shop", Kind: "Deployment", Name: "web", Container: "app", Image: "reg.example/team/app:1"}
	api := web
	api.Name = "api"
	for _, w := range []store.Workload{web, api} {
		w.Digest = vulnDigest
		if _, _, err := st.SetWorkload(ctx, w); err != nil {
			t.Fatal(err)
		}
	}

	hist := newPatchLatencyHistogram()
	reg := prometheus.NewRegistry()
	reg.MustRegister(hist)
	o := &latencyObserver{st: st, hist: hist, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	observed := func() (count uint64, sum float64) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				count += m.GetHistogram().GetSampleCount()
				sum += m.GetHistogram().GetSampleSum()
			}
		}
		return count, sum
	}

	// web moves to the fixed image an hour later; api still runs the old one.
	now = t0.Add(time.Hour)
	w := web
	w.Digest = fixedDigest
	if _, _, err := st.SetWorkload(ctx, w); err != nil {
		t.Fatal(err)
	}
	o.stopped(ctx, vulnDigest)
	if n, _ := observed(); n != 0 {
		t.Fatalf("observed %d latencies while api still runs the vulnerable digest", n)
	}

	// api goes away two hours after the fix: the latency completes.
	now = t0.Add(2 * time.Hour)
	if err := st.DeleteWorkload(ctx, api); err != nil {
		t.Fatal(err)
	}
	o.stopped(ctx, vulnDigest)
	n, sum := observed()
	if n != 1 || sum != 7200 {
		t.Errorf("patch latency observed %d time(s), sum %v s; want 1 observation of 7200 s", n, sum)
	}
	// The fixed digest stopping completes nothing (it has no finding).
	o.stopped(ctx, fixedDigest)
	if n, _ := observed(); n != 1 {
		t.Errorf("%d observations after the fixed digest stopped; want still 1", n)
	}
}
