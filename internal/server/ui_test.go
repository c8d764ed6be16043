package server_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// hostile is what an attacker puts in a package name and a layer's
// history: it must reach the page as text.
const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`

// chromium starts headless Chromium (Debian's chromium package) for one
// test, or skips naming it.
func chromium(t testing.TB) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("DRYDOCK_REQUIRE_PARTS") == "1" {
			t.Fatal("needs real part: chromium: apt-get install chromium (scripts/test.sh does)")
		}
		t.Skip("needs real part: chromium: apt-get install chromium (scripts/test.sh does)")
	}
	// A fresh profile, removed after the browser is gone: its helper
	// processes may still write there for a moment after it exits, which
	// t.TempDir's cleanup would report as a failure.
	profile, err := os.MkdirTemp("", "drydock-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1366, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 6*time.Minute)
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// evilImage is the demo app with one more layer: a Python distribution
// whose name, and a history entry whose text, are hostile markup.
func evilImage(t *testing.T, lay string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := p.ImageIndex()
	im, _ := idx.IndexManifest()
	var base v1.Image
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "app" {
			base, err = idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if base == nil {
		t.Fatal("no app image in the demo layout")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	meta := "Metadata-Version: 2.1\nName: " + hostile + "\nVersion: 1.0\n"
	for _, dir := range []string{"usr/", "usr/lib/", "usr/lib/python3/", "usr/lib/python3/dist-packages/", "usr/lib/python3/dist-packages/evil-1.0.dist-info/"} {
		tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Name: "usr/lib/python3/dist-packages/evil-1.0.dist-info/METADATA", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(meta))})
	tw.Write([]byte(meta))
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "RUN " + hostile}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config.DeepCopy()
	cfg.Labels = map[string]string{"org.example.note": hostile, "org.opencontainers.image.title": "evil"}
	if img, err = mutate.Config(img, *cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

func writeImage(t *testing.T, img v1.Image, ref string) name.Digest {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return tag.Context().Digest(d.String())
}

func shot(t testing.TB, ctx context.Context, dir, file string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Errorf("screenshot %s: %v", file, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
		t.Error(err)
	}
}

// The web UI in headless Chromium against a server that crawled and
// scanned real images from the in-process registry (the OCI distribution
// protocol) and matched them against the PyPI OSV data: the overview
// agrees with the API, a CVE is followed by clicking from the image to the
// running workload, a search by alias finds it, the activity page shows a
// new scan without a reload, hostile markup from an image stays text, and
// the token entered for an action never reaches the HTML.
func TestWebUI(t *testing.T) {
	ctx := chromium(t)
	shots := os.Getenv("DRYDOCK_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	lay := demoLayout(t)
	reg := startRegistry(t)
	app := push(t, lay, "app", reg.host+"/team/app:1")
	evil := writeImage(t, evilImage(t, lay), reg.host+"/team/evil:1")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "vulndb.sqlite")
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, err := vulndb.Import(context.Background(), dbPath, []string{pypi}); err != nil {
		t.Fatal(err)
	}
	c := startServer(t, fmt.Sprintf(`server:
  registries:
    - registry: %s
      repositories: ["team/app", "team/evil"]
  crawlInterval: 1h
`, reg.host), dir, dbPath, nil)
	waitFor(t, "both images scanned with findings", func() bool {
		var ims imagesResp
		c.get(t, "/api/v1/images?fixable=true", &ims)
		return len(ims.Images) == 2
	})

	// A workload running the app image. The cluster watch that records it
	// in production is tested against the real kube-apiserver in
	// cluster_test.go; here the record is written through the store API.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "server.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.SetWorkload(context.Background(), store.Workload{Cluster: "prod", Namespace: "payments", Kind: "Deployment",
		Name: "checkout", Container: "web", Image: reg.host + "/team/app:1", Digest: app.DigestStr()}); err != nil {
		t.Fatal(err)
	}

	var sum struct {
		Images, RunningWorkloads, VerdictsMissing int
		Findings                                  map[string]struct{ Fixable, NotFixable int }
	}
	c.get(t, "/api/v1/summary", &sum)
	if sum.Images != 2 || sum.RunningWorkloads != 1 {
		t.Fatalf("summary = %+v", sum)
	}

	// The trend is sampled by the periodic job (it runs once at start),
	// not by reading the summary.
	var trend1, trend2 struct{ Trend []struct{ Value int } }
	waitFor(t, "the trend job's first sample", func() bool {
		c.get(t, "/api/v1/summary", &trend1)
		return len(trend1.Trend) > 0
	})
	c.get(t, "/api/v1/summary", &trend2)
	if len(trend2.Trend) != len(trend1.Trend) {
		t.Errorf("reading the summary sampled the trend: %d points, then %d", len(trend1.Trend), len(trend2.Trend))
	}

	// Overview: the counts on the page are the API's.
	var images, workloads string
	var rows []string
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/"),
		chromedp.Text("#count-images", &images, chromedp.ByQuery),
		chromedp.Text("#count-workloads", &workloads, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#severities tbody tr")).map(r => r.dataset.severity + "=" + r.cells[1].textContent + "/" + r.cells[2].textContent)`, &rows),
	); err != nil {
		t.Fatalf("overview: %v", err)
	}
	got := append([]string{"images=" + images, "workloads=" + workloads}, rows...)
	want := []string{fmt.Sprintf("images=%d", sum.Images), fmt.Sprintf("workloads=%d", sum.RunningWorkloads)}
	total := 0
	for _, sev := range []string{"critical", "high", "medium", "low", "unknown"} {
		f := sum.Findings[sev]
		total += f.Fixable + f.NotFixable
		want = append(want, fmt.Sprintf("%s=%d/%d", sev, f.Fixable, f.NotFixable))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || total == 0 {
		t.Errorf("overview counts = %v; the API says %v (findings %d)", got, want, total)
	}
	shot(t, ctx, shots, "overview.png")

	// Images → image → finding → vulnerability → workload, by clicking.
	var digest, vulnID, vulnPage, wlText, location string
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/images?sort=high&order=desc"),
		chromedp.WaitVisible("#images", chromedp.ByQuery),
	); err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, shots, "images.png")
	if err := chromedp.Run(ctx,
		chromedp.Click(fmt.Sprintf(`#images a[href="/images/%s"]`, app.DigestStr()), chromedp.ByQuery),
		chromedp.WaitVisible("#image-digest", chromedp.ByQuery),
		chromedp.Text("#image-digest", &digest, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("images → image: %v", err)
	}
	if digest != app.DigestStr() {
		t.Fatalf("image page digest = %q; want %q", digest, app.DigestStr())
	}
	shot(t, ctx, shots, "image.png")
	// The base (from the app's annotation) is not stored: shown, not linked.
	var baseUnknown, baseLinks int
	var imageLinks []string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelectorAll("#base-unknown").length`, &baseUnknown),
		chromedp.Evaluate(`document.querySelectorAll("#base-link").length`, &baseLinks),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('a[href^="/images/"]')).map(a => a.getAttribute("href"))`, &imageLinks),
	); err != nil {
		t.Fatal(err)
	}
	if baseUnknown != 1 || baseLinks != 0 {
		t.Errorf("unstored base: %d plain, %d linked; want it plain", baseUnknown, baseLinks)
	}
	checkLinks(t, c, imageLinks)
	if err := chromedp.Run(ctx,
		chromedp.Text(`table.findings tbody tr:first-child td:first-child a`, &vulnID, chromedp.ByQuery),
		chromedp.Click(`table.findings tbody tr:first-child td:first-child a`, chromedp.ByQuery),
		chromedp.WaitVisible("#vuln-id", chromedp.ByQuery),
		chromedp.Text("#vuln-id", &vulnPage, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("image → vulnerability: %v", err)
	}
	if vulnID == "" || vulnPage != vulnID {
		t.Fatalf("vulnerability page shows %q after clicking %q", vulnPage, vulnID)
	}
	shot(t, ctx, shots, "vulnerability.png")
	var steps []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("#timeline li")).map(li => li.dataset.step + "=" + li.dataset.state)`, &steps)); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 || !strings.HasPrefix(steps[0], "fix-available=") || !strings.HasPrefix(steps[1], "base-rebuilt=") ||
		!strings.HasPrefix(steps[2], "app-rebuilt=") || steps[3] != "rolled-out=pending" {
		t.Errorf("timeline steps = %v; want fix available, base rebuilt, app rebuilt, rolled out (pending: a pod runs it)", steps)
	}
	// The vulnerability's images are paged by the server.
	var p1, p2 struct {
		Images      []struct{ Digest, Package string }
		ImagesTotal int
	}
	c.get(t, "/api/v1/vulnerabilities/"+vulnID+"?limit=1", &p1)
	c.get(t, "/api/v1/vulnerabilities/"+vulnID+"?limit=1&offset=1", &p2)
	if p1.ImagesTotal < 2 || len(p1.Images) != 1 || len(p2.Images) != 1 || p1.Images[0] == p2.Images[0] {
		t.Errorf("vulnerability pages: %+v then %+v", p1, p2)
	}
	if err := chromedp.Run(ctx,
		chromedp.Click(`#vuln-workloads a[href^="/workloads"]`, chromedp.ByQuery),
		chromedp.WaitVisible("table.workloads", chromedp.ByQuery),
		chromedp.Text("table.workloads", &wlText, chromedp.ByQuery),
		chromedp.Location(&location),
	); err != nil {
		t.Fatalf("vulnerability → workload: %v", err)
	}
	if !strings.Contains(wlText, "Deployment/checkout") || !strings.HasSuffix(location, "/workloads?namespace=payments") ||
		!strings.Contains(wlText, reg.host+"/team/app:1") || strings.Contains(wlText, "{") {
		t.Errorf("workloads page at %s shows %q; want Deployment/checkout", location, wlText)
	}
	shot(t, ctx, shots, "workloads.png")
	var wlLinks []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll('a[href^="/images/"]')).map(a => a.getAttribute("href"))`, &wlLinks)); err != nil {
		t.Fatal(err)
	}
	if len(wlLinks) == 0 {
		t.Error("the workloads page links to no image")
	}
	checkLinks(t, c, wlLinks)

	// Search by an alias finds the vulnerability.
	var vuln struct {
		ID      string
		Aliases []string
	}
	c.get(t, "/api/v1/vulnerabilities/"+vulnID, &vuln)
	alias := ""
	for _, a := range vuln.Aliases {
		if strings.HasPrefix(a, "CVE-") {
			alias = a
		}
	}
	if alias == "" {
		t.Fatalf("%s has no CVE alias: %+v", vulnID, vuln)
	}
	var results string
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/vulnerabilities"),
		chromedp.SendKeys("#vq", alias, chromedp.ByQuery),
		chromedp.Submit("#vq", chromedp.ByQuery),
		chromedp.WaitVisible("#vuln-results", chromedp.ByQuery),
		chromedp.Text("#vuln-results", &results, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("search %s: %v", alias, err)
	}
	if !strings.Contains(results, vulnID) || !strings.Contains(results, alias) {
		t.Errorf("search for %s: results %q lack %s", alias, results, vulnID)
	}

	// Activity: a scan queued through the API appears without a reload.
	push(t, lay, "app", reg.host+"/team/other:1")
	var marker bool
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/activity"),
		chromedp.WaitVisible("#events-body", chromedp.ByQuery),
		chromedp.Evaluate(`window.__noReload = true; true`, &marker),
		chromedp.Poll(`document.getElementById("live-state").dataset.mode === "stream" && document.getElementById("live-state").textContent === "live"`,
			nil, chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		t.Fatalf("activity stream did not open: %v", err)
	}
	if code, body := c.do(t, "POST", "/api/v1/scan", c.token, `{"ref":"`+reg.host+`/team/other:1"}`); code != 202 {
		t.Fatalf("POST /scan: %d %s", code, body)
	}
	newScanRow(t, ctx, "stream")
	shot(t, ctx, shots, "activity.png")

	// Without EventSource (or once the stream keeps failing) the page polls.
	noES, err := chromedpAddScript(ctx, "delete window.EventSource;")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/activity"),
		chromedp.WaitVisible("#events-body", chromedp.ByQuery),
		chromedp.Evaluate(`window.__noReload = true; true`, &marker),
		chromedp.Poll(`document.getElementById("live-state").dataset.mode === "polling"`, nil, chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		t.Fatalf("activity polling fallback: %v", err)
	}
	if code, body := c.do(t, "POST", "/api/v1/scan", c.token, `{"ref":"`+reg.host+`/team/other:1"}`); code != 202 {
		t.Fatalf("POST /scan: %d %s", code, body)
	}
	newScanRow(t, ctx, "polling")
	if err := chromedp.Run(ctx, page.RemoveScriptToEvaluateOnNewDocument(noES)); err != nil {
		t.Fatal(err)
	}

	// Hostile markup from an image is text: no dialog, no injected element.
	var dialogs atomic.Int32
	chromedp.ListenTarget(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
		}
	})
	var pkgNames []string
	var injected int
	var created string
	if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/images/"+evil.DigestStr()),
		chromedp.WaitVisible("#packages-table", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("td.pkg-name")).map(e => e.textContent)`, &pkgNames),
		chromedp.Evaluate(`document.querySelectorAll('img[src="x"], main script').length`, &injected),
		chromedp.Text(`code.created`, &created, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("hostile image page: %v", err)
	}
	shot(t, ctx, shots, "hostile.png")
	found := false
	for _, n := range pkgNames {
		found = found || n == hostile
	}
	if !found || injected != 0 || dialogs.Load() != 0 {
		t.Errorf("hostile package name: shown as text %v (names %q), injected elements %d, dialogs %d", found, pkgNames, injected, dialogs.Load())
	}
	if !strings.Contains(created, hostile) {
		t.Errorf("hostile layer history shown as %q", created)
	}
	var labelValues []string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`Array.from(document.querySelectorAll("#labels-table td.label-value")).map(e => e.textContent)`, &labelValues)); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(labelValues, hostile) || !slices.Contains(labelValues, "evil") {
		t.Errorf("labels shown as %q; want the hostile one as text", labelValues)
	}
	var evilAPI struct{ Labels map[string]string }
	c.get(t, "/api/v1/images/"+evil.DigestStr(), &evilAPI)
	if evilAPI.Labels["org.example.note"] != hostile {
		t.Errorf("API labels = %v", evilAPI.Labels)
	}

	// Once the base is stored its digest links to its page.
	push(t, lay, "base", reg.host+"/os/debian:12")
	if code, body := c.do(t, "POST", "/api/v1/scan", c.token, `{"ref":"`+reg.host+`/os/debian:12"}`); code != 202 {
		t.Fatalf("POST /scan base: %d %s", code, body)
	}
	var baseHref string
	waitFor(t, "the base scanned and linked from the app's page", func() bool {
		var n int
		if err := chromedp.Run(ctx, chromedp.Navigate(c.base+"/images/"+app.DigestStr()),
			chromedp.WaitVisible("#image-digest", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("#base-link").length`, &n)); err != nil || n != 1 {
			return false
		}
		return chromedp.Run(ctx, chromedp.AttributeValue("#base-link", "href", &baseHref, nil, chromedp.ByQuery)) == nil
	})
	checkLinks(t, c, []string{baseHref})

	// An action with a token: the token stays out of the page.
	const token = "api-token"
	var status, html string
	if err := chromedp.Run(ctx,
		chromedp.SendKeys("#token", token, chromedp.ByQuery),
		chromedp.Click(`#token-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.Click(`button[data-action="rescan"]`, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("action-status").textContent.startsWith("Queued")`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text("#action-status", &status, chromedp.ByQuery),
		chromedp.OuterHTML("html", &html, chromedp.ByQuery),
	); err != nil {
		t.Fatalf("rescan with a token: %v (status %q)", err, status)
	}
	if strings.Contains(html, token) {
		t.Error("the API token appears in the page's HTML")
	}

	// Headers: a strict policy on every page.
	resp, err := http.Get(c.base + "/images")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers = %v", resp.Header)
	}
	t.Logf("screenshots in %s", shots)

	// The endpoints added for the UI: malformed requests get a 4xx with a
	// reason; the table's sort, paging and count agree with each other.
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/api/v1/images?sort=colour", "", "", 400},
		{"GET", "/api/v1/images?order=sideways", "", "", 400},
		{"GET", "/api/v1/images?offset=-1", "", "", 400},
		{"GET", "/api/v1/images?base=latest", "", "", 400},
		{"GET", "/api/v1/images?q=" + strings.Repeat("a", 300), "", "", 400},
		{"GET", "/api/v1/summary?x=1", "", "", 400},
		{"GET", "/api/v1/vulnerabilities", "", "", 400},
		{"GET", "/api/v1/vulnerabilities?q=CVE&colour=red", "", "", 400},
		{"POST", "/api/v1/rebuild", "", `{"digest":"` + app.DigestStr() + `"}`, 401},
		{"POST", "/api/v1/rebuild", c.token, `{"digest":"latest"}`, 400},
		{"POST", "/api/v1/rebuild", c.token, `{"digest":"sha256:` + strings.Repeat("0", 64) + `"}`, 404},
		{"POST", "/api/v1/rebuild", c.token, `{"digest":"` + app.DigestStr() + `"}`, 503}, // no freshness loop configured
	} {
		code, body := c.do(t, tc.method, tc.path, tc.token, tc.body)
		if code != tc.want || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s %s: %d %s; want %d with a reason", tc.method, tc.path, code, body, tc.want)
		}
	}
	var page1, page2 struct {
		Images []struct{ Digest, Repository string }
		Total  int
	}
	c.get(t, "/api/v1/images?sort=repository&order=desc&limit=1&total=true", &page1)
	c.get(t, "/api/v1/images?sort=repository&order=desc&limit=1&offset=1&q=team", &page2)
	// The app is listed under team/app and team/other (the same digest
	// pushed to both), beside the evil image and the base: four rows.
	if page1.Total != 4 || len(page1.Images) != 1 || len(page2.Images) != 1 || page1.Images[0].Repository <= page2.Images[0].Repository {
		t.Errorf("sorted pages: %+v then %+v", page1, page2)
	}
	if code, body := c.do(t, "GET", "/nothing-here", "", ""); code != 404 || !strings.Contains(string(body), "no such page") {
		t.Errorf("GET /nothing-here: %d", code)
	}
}

// checkLinks follows links to image pages: none may answer 404.
func checkLinks(t *testing.T, c *client, hrefs []string) {
	t.Helper()
	for _, h := range hrefs {
		resp, err := http.Get(c.base + h)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("link %s answers %d", h, resp.StatusCode)
		}
	}
}

// newScanRow waits (generously: the scan runs on a loaded machine) for a
// new scan row on the activity page, added without a reload, while the
// page stays in mode.
func newScanRow(t *testing.T, ctx context.Context, mode string) {
	t.Helper()
	var ok bool
	js := `window.__noReload === true && document.getElementById("live-state").dataset.mode === "` + mode + `" &&
		Array.from(document.querySelectorAll("#events-body tr.new")).some(r => r.cells[1].textContent === "scan")`
	for deadline := time.Now().Add(90 * time.Second); !ok && time.Now().Before(deadline); {
		if err := chromedp.Run(ctx, chromedp.Evaluate(js, &ok)); err != nil {
			t.Fatal(err)
		}
		if !ok {
			time.Sleep(300 * time.Millisecond)
		}
	}
	if !ok {
		t.Errorf("no new scan row on the activity page (%s) after POST /api/v1/scan", mode)
	}
}

// chromedpAddScript runs js in every document before its own scripts.
func chromedpAddScript(ctx context.Context, js string) (page.ScriptIdentifier, error) {
	var id page.ScriptIdentifier
	err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		id, err = page.AddScriptToEvaluateOnNewDocument(js).Do(ctx)
		return err
	}))
	return id, err
}

// A vulnerability in many images is paged by the server: the page lists
// 100 affected images and links to the next page, which lists the rest.
func TestVulnerabilityPagePaged(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "server.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 230
	for i := 0; i < n; i++ {
		digest := fmt.Sprintf("sha256:%064x", i+1)
		if _, err := st.PutImage(ctx, store.Image{Digest: digest, Registry: "reg.example", Repository: fmt.Sprintf("reg.example/team/app%03d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SaveFindings(ctx, digest, []store.Finding{{ID: "GHSA-many", Package: "libx", Version: "1", Fixed: "2", Severity: "HIGH"}}, store.EventScan); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	c := startServer(t, "server:\n  crawlInterval: 1h\n", dir, filepath.Join(dir, "vulndb.sqlite"), nil)
	rows := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(c.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		html := string(b)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		i := strings.Index(html, `id="vuln-images"`)
		j := strings.Index(html[i:], "</table>")
		next := ""
		if k := strings.Index(html, `rel="next" href="`); k >= 0 {
			next = html[k+len(`rel="next" href="`):]
			next = strings.ReplaceAll(next[:strings.Index(next, `"`)], "&amp;", "&")
		}
		return strings.Count(html[i:i+j], "<tr><td>"), next
	}
	got1, next := rows("/vulnerabilities/GHSA-many")
	if got1 != 100 || next == "" {
		t.Fatalf("first page: %d rows, next %q; want 100 and a next page", got1, next)
	}
	got2, next := rows(next)
	got3, last := rows(next)
	if got2 != 100 || got3 != n-200 || last != "" {
		t.Errorf("pages: %d, %d, %d rows (then %q); want 100, 100, %d", got1, got2, got3, last, n-200)
	}
}
