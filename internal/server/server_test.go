package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/registrytest"
	"github.com/drydock/drydock/internal/server"
	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// countingRegistry is the in-process registry (registrytest) under the
// names this package's tests use.
type countingRegistry struct {
	host  string
	blobs *atomic.Int64
}

func startRegistry(t testing.TB) *countingRegistry {
	r := registrytest.Start(t)
	return &countingRegistry{host: r.Host, blobs: &r.Blobs}
}

var (
	demoLayout = registrytest.DemoLayout
	push       = registrytest.Push
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 90*time.Second, what, cond)
}

type client struct {
	base, token string
}

func (c *client) do(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) get(t *testing.T, path string, v any) int {
	t.Helper()
	code, b := c.do(t, "GET", path, "", "")
	if v != nil && code == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
	}
	return code
}

type imagesResp struct {
	Images []struct {
		Digest    string
		ScannedAt time.Time
		Tags      []string
		Counts    struct{ Total, Fixable int }
	}
}

// startServer runs drydock server (SQLite) on a config and returns its API.
func startServer(t testing.TB, yaml string, dataDir, dbPath string, opts func(*server.Options)) *client {
	t.Helper()
	cfg, err := freshness.ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := server.ParseConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc.Listen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	o := server.Options{Config: cfg, Server: sc, DataDir: dataDir, CacheDir: filepath.Join(dataDir, "cache"), DBPath: dbPath,
		Token: "api-token", EventToken: "event-token", Tool: attest.Scanner{Name: "drydock", Version: "test"}, UserAgent: "drydock-test",
		Listening: func(a net.Addr) { addr <- a }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opts != nil {
		opts(&o)
	}
	go func() { done <- server.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server.Run: %v", err)
			}
		case <-time.After(40 * time.Second):
			t.Error("server did not stop")
		}
	})
	select {
	case a := <-addr:
		return &client{base: "http://" + a.String(), token: "api-token"}
	case err := <-done:
		t.Fatalf("server.Run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	return nil
}

// The server crawls the registry and scans what it finds; a database
// import shows findings on the stored image without a blob download; the
// API answers with them, refuses malformed requests with a reason, and
// needs the token for writes.
func TestServerCrawlScanRematchAPI(t *testing.T) {
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	reg := startRegistry(t)
	app := push(t, lay, "app", reg.host+"/team/app:1")
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "vulndb.sqlite")
	c := startServer(t, fmt.Sprintf(`server:
  registries:
    - registry: %s
      catalog: true
      repositories: ["team/*"]
  crawlInterval: 1s
  dbUpdateInterval: 1s
`, reg.host), dir, dbPath, nil)

	var ims imagesResp
	waitFor(t, "the app image crawled and scanned", func() bool {
		ims = imagesResp{}
		c.get(t, "/api/v1/images", &ims)
		return len(ims.Images) == 1 && !ims.Images[0].ScannedAt.IsZero()
	})
	if ims.Images[0].Digest != app.DigestStr() || ims.Images[0].Counts.Total != 0 {
		t.Fatalf("images = %+v", ims)
	}
	var detail struct {
		Packages []struct{ Name string }
		Lineage  struct{ BaseName string }
	}
	if code := c.get(t, "/api/v1/images/"+app.DigestStr(), &detail); code != 200 || len(detail.Packages) == 0 {
		t.Fatalf("image detail: %d %+v", code, detail)
	}
	if detail.Lineage.BaseName != "demo.local/debian:12" {
		t.Errorf("lineage = %+v", detail.Lineage)
	}

	before := reg.blobs.Load()
	if _, err := vulndb.Import(context.Background(), dbPath, []string{pypi}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "findings after the database import", func() bool {
		ims = imagesResp{}
		c.get(t, "/api/v1/images?fixable=true", &ims)
		return len(ims.Images) == 1 && ims.Images[0].Counts.Total > 0
	})
	if n := reg.blobs.Load() - before; n != 0 {
		t.Errorf("the re-match downloaded %d blob(s); want none", n)
	}
	var full struct {
		Findings []struct{ ID, Package string }
	}
	c.get(t, "/api/v1/images/"+app.DigestStr(), &full)
	if len(full.Findings) == 0 {
		t.Fatal("no findings in the image detail")
	}
	var vuln struct {
		ID     string
		Images []struct{ Digest string }
	}
	if code := c.get(t, "/api/v1/vulnerabilities/"+full.Findings[0].ID, &vuln); code != 200 || len(vuln.Images) == 0 || vuln.Images[0].Digest != app.DigestStr() {
		t.Errorf("vulnerability %s: %d %+v", full.Findings[0].ID, code, vuln)
	}
	var evs struct {
		Events []struct {
			ID   int64
			Kind string
		}
		Next int64
	}
	c.get(t, "/api/v1/events?limit=2", &evs)
	if len(evs.Events) != 2 || evs.Events[0].ID <= evs.Events[1].ID || evs.Next != evs.Events[1].ID {
		t.Errorf("events page = %+v", evs)
	}
	kinds := map[string]bool{}
	var all struct {
		Events []struct{ Kind, Digest string }
	}
	c.get(t, "/api/v1/events?limit=1000", &all)
	for _, e := range all.Events {
		kinds[e.Kind] = true
	}
	for _, k := range []string{"scan", "finding-appeared", "rematch", "db-update"} {
		if !kinds[k] {
			t.Errorf("no %s event in %v", k, kinds)
		}
	}

	// Malformed requests: 4xx with a reason.
	for _, tc := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/api/v1/images/not-a-digest", "", "", 400},
		{"GET", "/api/v1/images?fixable=maybe", "", "", 400},
		{"GET", "/api/v1/images?severity=dreadful", "", "", 400},
		{"GET", "/api/v1/images?limit=0", "", "", 400},
		{"GET", "/api/v1/images?colour=red", "", "", 400},
		{"GET", "/api/v1/images/sha256:" + strings.Repeat("0", 64), "", "", 404},
		{"GET", "/api/v1/vulnerabilities/CVE-1999-0000", "", "", 404},
		{"GET", "/api/v1/vulnerabilities/" + "%3Cscript%3E", "", "", 400},
		{"GET", "/api/v1/events?before=x", "", "", 400},
		{"GET", "/api/v1/nothing", "", "", 404},
		{"POST", "/api/v1/scan", "", `{"ref":"x"}`, 401},
		{"POST", "/api/v1/scan", "wrong", `{"ref":"x"}`, 401},
		{"POST", "/api/v1/scan", "api-token", `{"ref":`, 400},
		{"POST", "/api/v1/scan", "api-token", `{"ref":"UPPER/case"}`, 400},
		{"POST", "/api/v1/scan", "api-token", `{"image":"x"}`, 400},
		{"POST", "/api/v1/scan", "api-token", `{}`, 400},
	} {
		code, body := c.do(t, tc.method, tc.path, tc.token, tc.body)
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		if code != tc.want || e.Error == "" {
			t.Errorf("%s %s %s: %d %s; want %d with a reason", tc.method, tc.path, tc.body, code, body, tc.want)
		}
	}

	// POST /scan of a new tag, then a push event for another: both scanned.
	base := push(t, lay, "base", reg.host+"/other/base:12")
	code, body := c.do(t, "POST", "/api/v1/scan", "api-token", `{"ref":"`+reg.host+`/other/base:12"}`)
	if code != 202 {
		t.Fatalf("POST /scan: %d %s", code, body)
	}
	waitFor(t, "the scan asked for", func() bool {
		var d struct{ ScannedAt time.Time }
		return c.get(t, "/api/v1/images/"+base.DigestStr(), &d) == 200 && !d.ScannedAt.IsZero()
	})
	app2 := push(t, lay, "app", reg.host+"/elsewhere/app:2") // same digest as app, new repository
	ev := fmt.Sprintf(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"repository":"elsewhere/app","tag":"2"},"request":{"host":%q}}]}`, app2.DigestStr(), reg.host)
	resp, err := http.Post(c.base+"/events/distribution?token=event-token", "application/json", bytes.NewBufferString(ev))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("push event: %v %v", err, resp)
	}
	// A push from a registry the server is not configured for is ignored
	// (named in a 2xx reply, so the registry's queue moves on).
	other := fmt.Sprintf(`{"events":[{"action":"push","target":{"digest":%q,"repository":"team/app","tag":"9"},"request":{"host":"unknown.example"}}]}`, app.DigestStr())
	resp, err = http.Post(c.base+"/events/distribution?token=event-token", "application/json", bytes.NewBufferString(other))
	if err != nil {
		t.Fatal(err)
	}
	refusal, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(refusal), `"pushes":0`) || !strings.Contains(string(refusal), "registry unknown.example is not in server.registries") {
		t.Errorf("push from an unconfigured registry: %d %s; want 202 with no push taken and the reason under ignored", resp.StatusCode, refusal)
	}
	type repoRef struct {
		Registry, Repository string
		Tags                 []string
	}
	var d struct {
		Repository   string
		Tags         []string
		Repositories []repoRef
	}
	waitFor(t, "the pushed tag recorded", func() bool {
		c.get(t, "/api/v1/images/"+app.DigestStr(), &d)
		return len(d.Repositories) == 2
	})
	wantRefs := []repoRef{{reg.host, reg.host + "/elsewhere/app", []string{"2"}}, {reg.host, reg.host + "/team/app", []string{"1"}}}
	if diff := cmp.Diff(wantRefs, d.Repositories); diff != "" || d.Repository != reg.host+"/team/app" || strings.Join(d.Tags, " ") != "1" {
		t.Errorf("image in two repositories: %s %v, repositories (-want +got):\n%s", d.Repository, d.Tags, diff)
	}
	// The listing shows the digest under each repository, scanned once;
	// paging a row at a time (next) visits every row once.
	for _, repo := range []string{"team/app", "elsewhere/app"} {
		ims = imagesResp{}
		c.get(t, "/api/v1/images?repository="+reg.host+"/"+repo, &ims)
		if len(ims.Images) != 1 || ims.Images[0].Digest != app.DigestStr() || ims.Images[0].ScannedAt.IsZero() {
			t.Errorf("images in %s = %+v; want the app, scanned", repo, ims.Images)
		}
	}
	var rows []string
	for after, n := "", 0; n < 10; n++ {
		var page struct {
			Images []struct{ Digest, Repository string }
			Next   string
		}
		c.get(t, "/api/v1/images?limit=1&after="+url.QueryEscape(after), &page)
		for _, im := range page.Images {
			rows = append(rows, im.Digest+" "+strings.TrimPrefix(im.Repository, reg.host+"/"))
		}
		if after = page.Next; after == "" {
			break
		}
	}
	wantRows := []string{app.DigestStr() + " elsewhere/app", app.DigestStr() + " team/app", base.DigestStr() + " other/base"}
	if base.DigestStr() < app.DigestStr() {
		wantRows = append(wantRows[2:], wantRows[:2]...)
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("images paged with next (-want +got):\n%s", diff)
	}
	scans := 0
	c.get(t, "/api/v1/events?limit=1000", &all)
	for _, e := range all.Events {
		if e.Kind == "scan" && e.Digest == app.DigestStr() {
			scans++
		}
	}
	if scans != 1 {
		t.Errorf("the app was scanned %d times; want once for its two repositories", scans)
	}

	code, body = c.do(t, "GET", "/metrics", "", "")
	if code != 200 || !bytes.Contains(body, []byte(`drydock_server_images{severity=`)) || !bytes.Contains(body, []byte("drydock_server_job_duration_seconds_count{kind=\"scan\"}")) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := c.do(t, "GET", p, "", ""); code != 200 {
			t.Errorf("%s = %d", p, code)
		}
	}
}

// Beyond loopback the server refuses to start without a token; with one,
// reads need it too.
func TestServerReadsNeedTokenBeyondLoopback(t *testing.T) {
	cfg, _ := freshness.ParseConfig([]byte("server:\n  crawlInterval: 0s\n  dbUpdateInterval: 0s\n"))
	sc, err := server.ParseConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc.Listen = "0.0.0.0:0"
	dir := t.TempDir()
	err = server.Run(context.Background(), server.Options{Config: cfg, Server: sc, DataDir: dir, CacheDir: dir, DBPath: filepath.Join(dir, "v.sqlite")})
	if err == nil || !strings.Contains(err.Error(), "tokenEnv") {
		t.Fatalf("Run on 0.0.0.0 without a token: %v", err)
	}

	api := &server.API{Token: "t", OpenReads: false}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	c := &client{base: srv.URL}
	if code, _ := c.do(t, "GET", "/api/v1/images", "", ""); code != 401 {
		t.Errorf("read without token = %d, want 401", code)
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		yaml, wantErr string
	}{
		{"server:\n  registries:\n    - registry: r.example\n", "repositories"},
		{"server:\n  registries:\n    - registry: r.example\n      repositories: [\"team/*\"]\n", "needs catalog"},
		{"server:\n  crawlInterval: 1ms\n", "crawlInterval"},
		{"server:\n  rematchBatch: -1\n", "rematchBatch"},
		{"server:\n  colour: red\n", "colour"},
		{"server:\n  clusters: [{name: a}, {name: a}]\n", "unique"},
		{"server:\n  dbFrom: oci://r.example/sec/vulndb:latest\n", "server.dbKeys"},
		{"server:\n  dbFrom: r.example/sec/vulndb:latest\n  dbKeys: [k.pub]\n", "want oci://"},
		{"server:\n  dbFrom: oci://r.example/sec/vulndb:latest\n  dbKeys: [k.pub]\n  dbMirror: https://m.example/\n", "choose one"},
		{"server:\n  dbKeys: [k.pub]\n", "only used with server.dbFrom"},
		{"server:\n  dbFrom: oci://r.example/sec/vulndb:latest\n  dbKeys: [k.pub]\n  dbPullInterval: 10s\n", "dbPullInterval"},
		{"server:\n  dbFrom: oci://r.example/sec/vulndb:latest\n  dbKeys: [k.pub]\n  clusters: [{name: a, pullCredentials: true}]\n", ""},
		{"server:\n  registries:\n    - registry: r.example\n      catalog: true\n      repositories: [\"team/*\"]\n      tags: [\"v*\"]\n", ""},
	} {
		cfg, err := freshness.ParseConfig([]byte(tc.yaml))
		if err == nil {
			_, err = server.ParseConfig(cfg)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: err = %v, want one naming %s", tc.yaml, err, tc.wantErr)
		}
	}
}
