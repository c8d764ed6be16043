package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drydock/drydock/internal/store"
)

// seedImages stores n images (10,000 for the benchmark) with a few findings
// each through the store API, as the scan job would, without scanning.
func seedImages(b *testing.B, st *store.DB, n int) {
	b.Helper()
	ctx := context.Background()
	sevs := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}
	for i := 0; i < n; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprint("ui-bench-", i)))
		digest := fmt.Sprintf("sha256:%x", sum)
		repo := fmt.Sprintf("reg.example/team%02d/app%05d", i%50, i)
		if _, err := st.PutImage(ctx, store.Image{Digest: digest, Registry: "reg.example", Repository: repo}); err != nil {
			b.Fatal(err)
		}
		if err := st.SetTag(ctx, repo, "1.0", digest); err != nil {
			b.Fatal(err)
		}
		var fs []store.Finding
		for k := 0; k < 1+i%4; k++ {
			f := store.Finding{Digest: digest, ID: fmt.Sprintf("GHSA-bench-%04d", (i+k)%500), Aliases: []string{fmt.Sprintf("CVE-2024-%05d", (i+k)%500)},
				Package: "pkg" + fmt.Sprint(k), Version: "1.0", Severity: sevs[(i+k)%4], FixPath: "app"}
			if k%2 == 0 {
				f.Fixed = "1.1"
			}
			fs = append(fs, f)
		}
		// One vulnerability in every image: its page must stay one page.
		fs = append(fs, store.Finding{Digest: digest, ID: "GHSA-bench-all", Aliases: []string{"CVE-2024-99999"}, Package: "libeverywhere",
			Version: "1.0", Fixed: "1.1", Severity: "HIGH", FixPath: "base"})
		if _, err := st.SaveFindings(ctx, digest, fs, store.EventScan); err != nil {
			b.Fatal(err)
		}
	}
}

// navTiming is the page's Navigation Timing, in ms from navigationStart.
type navTiming struct {
	Response, DOMContentLoaded, Load float64
}

func measure(b *testing.B, ctx context.Context, url string) navTiming {
	b.Helper()
	var nt navTiming
	err := chromedp.Run(ctx, chromedp.Navigate(url),
		chromedp.Poll(`performance.timing.loadEventEnd > 0`, nil, chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Evaluate(`(() => { const t = performance.timing; return {Response: t.responseStart - t.navigationStart,
			DOMContentLoaded: t.domContentLoadedEventEnd - t.navigationStart, Load: t.loadEventEnd - t.navigationStart}; })()`, &nt))
	if err != nil {
		b.Fatalf("%s: %v", url, err)
	}
	return nt
}

// BenchmarkUI: time to first byte, to DOMContentLoaded (first render) and
// to the load event (interactive: the script has run) of the overview and
// the images table at DRYDOCK_BENCH_UI_IMAGES images (10,000), in headless
// Chromium; the median of 5 loads each.
func BenchmarkUI(b *testing.B) {
	n := envInt("DRYDOCK_BENCH_UI_IMAGES", 10000)
	ctx := chromium(b)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "server.sqlite"))
		if err != nil {
			b.Fatal(err)
		}
		seedImages(b, st, n)
		st.Close()
		c := startServer(b, "server:\n  crawlInterval: 1h\n", dir, filepath.Join(dir, "vulndb.sqlite"), nil)
		b.ResetTimer()
		for _, p := range []struct{ name, path string }{
			{"overview", "/"},
			{"images", "/images"},
			{"images-sorted-p100", "/images?sort=critical&order=desc&page=100"},
			{"vulnerability-in-all", "/vulnerabilities/GHSA-bench-all"},
		} {
			var ts []navTiming
			for k := 0; k < 5; k++ {
				ts = append(ts, measure(b, ctx, c.base+p.path))
			}
			med := func(f func(navTiming) float64) float64 {
				v := make([]float64, len(ts))
				for i, t := range ts {
					v[i] = f(t)
				}
				sort.Float64s(v)
				return v[len(v)/2]
			}
			b.ReportMetric(med(func(t navTiming) float64 { return t.Response }), p.name+"-ttfb-ms")
			b.ReportMetric(med(func(t navTiming) float64 { return t.DOMContentLoaded }), p.name+"-dcl-ms")
			b.ReportMetric(med(func(t navTiming) float64 { return t.Load }), p.name+"-load-ms")
		}
		b.StopTimer()
		if dir := os.Getenv("DRYDOCK_SCREENSHOTS"); dir != "" {
			measure(b, ctx, c.base+"/images?sort=critical&order=desc&page=100")
			shot(b, ctx, dir, fmt.Sprintf("images-%d.png", n))
			measure(b, ctx, c.base+"/")
			shot(b, ctx, dir, fmt.Sprintf("overview-%d.png", n))
		}
	}
}
