package vulndb

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// exportServer serves <eco>/all.zip like the OSV bucket, with ETag and
// Last-Modified, and can be told to misbehave per ecosystem.
type exportServer struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte // eco → zip bytes
	etags    map[string]string
	mode     map[string]string // eco → "", "500", "html", "truncate"
	requests []string          // "eco If-None-Match"
}

func newExportServer(t *testing.T) *exportServer {
	s := &exportServer{files: map[string][]byte{}, etags: map[string]string{}, mode: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *exportServer) set(eco string, data []byte, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[eco], s.etags[eco] = data, etag
}

func (s *exportServer) setMode(eco, mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode[eco] = mode
}

func (s *exportServer) takeRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

func (s *exportServer) serve(w http.ResponseWriter, r *http.Request) {
	eco, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
	s.mu.Lock()
	data, etag, mode := s.files[eco], s.etags[eco], s.mode[eco]
	s.requests = append(s.requests, eco+" "+r.Header.Get("If-None-Match"))
	s.mu.Unlock()
	if !ok || data == nil {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case "500":
		http.Error(w, "backend error", http.StatusInternalServerError)
		return
	case "html":
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!DOCTYPE html><html><body>Sign in to continue</body></html>"))
		return
	case "truncate":
		// Promise the whole file, send half, drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("ETag", etag)
		w.Write(data[:len(data)/2])
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/zip")
	http.ServeContent(w, r, "all.zip", time.Date(2026, 8, 21, 0, 0, 0, 0, time.UTC), bytes.NewReader(data))
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	srv := newExportServer(t)
	srv.set("Go", mustRead(t, realZip(t, "Go")), `"go-v1"`)
	srv.set("PyPI", mustRead(t, realZip(t, "PyPI")), `"pypi-v1"`)
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	update := func(opts ...Option) (UpdateStats, error) {
		return Update(ctx, path, []string{"Go", "PyPI"}, append([]Option{WithBaseURL(srv.URL)}, opts...)...)
	}
	goC, pyC := zipCensus(t, realZip(t, "Go")), zipCensus(t, realZip(t, "PyPI"))
	wantCounts := map[string]int{"Go": goC.entries - goC.withdrawn, "PyPI": pyC.entries - pyC.withdrawn}

	// First run downloads everything.
	st, err := update()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Go ", "PyPI "}, srv.takeRequests()); diff != "" {
		t.Errorf("first requests must be unconditional (-want +got):\n%s", diff)
	}
	for _, e := range st.Ecosystems {
		if e.NotModified || e.Bytes == 0 || e.After.Records != wantCounts[e.Ecosystem] || e.URL != srv.URL+"/"+e.Ecosystem+"/all.zip" {
			t.Errorf("first run %s: %+v", e.Ecosystem, e)
		}
	}
	db := openT(t, path)
	status, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range status.Ecosystems {
		if e.Records != wantCounts[e.Ecosystem] || e.Source != srv.URL+"/"+e.Ecosystem+"/all.zip" {
			t.Errorf("status %+v", e)
		}
	}
	advs, err := db.Affecting(ctx, "Go", "golang.org/x/text")
	if err != nil || len(advs) == 0 {
		t.Fatalf("lookup after update: %v %v", ids(advs), err)
	}
	before := stateOf(t, path)

	// Second run: the server says 304 to the remembered ETags.
	st, err = update()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`Go "go-v1"`, `PyPI "pypi-v1"`}, srv.takeRequests()); diff != "" {
		t.Errorf("second requests must send If-None-Match (-want +got):\n%s", diff)
	}
	for _, e := range st.Ecosystems {
		if !e.NotModified || e.Bytes != 0 {
			t.Errorf("second run %s: %+v", e.Ecosystem, e)
		}
	}
	if stateOf(t, path) != before {
		t.Error("an all-304 update rewrote the database")
	}

	// A new Go export that fails in every way leaves the database alone.
	srv.set("Go", mustRead(t, realZip(t, "Go")), `"go-v2"`)
	garbage := writeZip(t, filepath.Join(t.TempDir(), "g.zip"), []zipEntry{{"GO-1.json", []byte("garbage")}, {"GO-2.json", []byte("{\"id\": ")}})
	for _, tc := range []struct {
		mode string
		data []byte
		want string
	}{
		{mode: "truncate", want: "truncated"},
		{mode: "500", want: "500"},
		{mode: "html", want: "not a zip"},
		{data: mustRead(t, garbage), want: "no OSV records"},
		{data: mustRead(t, realZip(t, "crates.io")), want: "wrong content"},
	} {
		t.Run("bad "+tc.mode+tc.want, func(t *testing.T) {
			srv.setMode("Go", tc.mode)
			if tc.data != nil {
				srv.set("Go", tc.data, `"go-bad"`)
			}
			_, err := update()
			if err == nil {
				t.Fatal("Update succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if stateOf(t, path) != before {
				t.Error("database changed")
			}
			if got := leftovers(t, dir); len(got) > 0 {
				t.Errorf("temporary files left: %v", got)
			}
		})
	}
	srv.setMode("Go", "")

	// A good new Go export replaces Go; PyPI is still current (304).
	small := writeZip(t, filepath.Join(t.TempDir(), "small.zip"), dirEntries(t, filepath.Join("testdata", "go-small")))
	srv.set("Go", mustRead(t, small), `"go-v3"`)
	srv.takeRequests()
	st, err = update()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`Go "go-v1"`, `PyPI "pypi-v1"`}, srv.takeRequests()); diff != "" {
		t.Errorf("failed updates must not forget the validators (-want +got):\n%s", diff)
	}
	got := map[string]bool{}
	for _, e := range st.Ecosystems {
		got[e.Ecosystem] = e.NotModified
	}
	if diff := cmp.Diff(map[string]bool{"Go": false, "PyPI": true}, got); diff != "" {
		t.Errorf("not-modified flags (-want +got):\n%s", diff)
	}
	db2 := openT(t, path)
	status, _ = db2.Status(ctx)
	counts := map[string]int{}
	for _, e := range status.Ecosystems {
		counts[e.Ecosystem] = e.Records
	}
	if diff := cmp.Diff(map[string]int{"Go": 2, "PyPI": wantCounts["PyPI"]}, counts); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	// The handle opened before keeps reading the file it opened.
	if advs, err := db.Affecting(ctx, "Go", "golang.org/x/text"); err != nil || len(advs) < 2 {
		t.Errorf("old handle after update: %v %v", ids(advs), err)
	}
	if _, err := update(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{`Go "go-v3"`, `PyPI "pypi-v1"`}, srv.takeRequests()); diff != "" {
		t.Errorf("validators after the new export (-want +got):\n%s", diff)
	}
}

func TestUpdateDownloadCap(t *testing.T) {
	srv := newExportServer(t)
	srv.set("Go", mustRead(t, realZip(t, "Go")), `"x"`)
	path := filepath.Join(t.TempDir(), "db.sqlite")
	_, err := Update(context.Background(), path, []string{"Go"}, WithBaseURL(srv.URL), WithMaxDownloadBytes(1<<20))
	if err == nil || !strings.Contains(err.Error(), "download cap") {
		t.Fatalf("Update over the cap: %v", err)
	}
	if _, err := Open(context.Background(), path); !errors.Is(err, ErrNotFound) {
		t.Errorf("database created: %v", err)
	}
}

func TestUpdateBadArguments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	for _, tc := range []struct {
		ecos []string
		opts []Option
	}{
		{ecos: []string{"Debian:12"}},
		{ecos: []string{"../etc"}},
		{ecos: []string{"Go"}, opts: []Option{WithBaseURL("ftp://example.com")}},
		{ecos: []string{"Go"}, opts: []Option{WithBaseURL("::")}},
	} {
		if _, err := Update(context.Background(), path, tc.ecos, tc.opts...); err == nil {
			t.Errorf("Update(%v) succeeded", tc.ecos)
		}
	}
}

func TestUpdateCancelled(t *testing.T) {
	srv := newExportServer(t)
	srv.set("Go", mustRead(t, realZip(t, "Go")), `"x"`)
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Update(ctx, path, []string{"Go"}, WithBaseURL(srv.URL)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Update: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("database created: %v", err)
	}
}

func TestDefaultEcosystemURLs(t *testing.T) {
	var got []string
	for _, e := range DefaultEcosystems() {
		u, err := exportURL(DefaultBaseURL, e)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, u)
	}
	for _, want := range []string{
		"https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip",
		"https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip",
		"https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip",
	} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("%s not among %v", want, got)
		}
	}
}

// TestUpdateEcosystemsIndependently: one ecosystem missing on the mirror
// (404) is reported while the other is swapped in; progress is reported
// for the download that happened.
func TestUpdateEcosystemsIndependently(t *testing.T) {
	ctx := context.Background()
	srv := newExportServer(t)
	srv.set("Go", mustRead(t, realZip(t, "Go")), `"go-v1"`)
	path := filepath.Join(t.TempDir(), "db.sqlite")
	var mu sync.Mutex
	seen := map[string]int64{}
	st, err := Update(ctx, path, []string{"go", "PyPI"}, WithBaseURL(srv.URL), WithProgress(func(eco string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < seen[eco] {
			t.Errorf("%s progress went back from %d to %d", eco, seen[eco], done)
		}
		seen[eco] = done
	}))
	if !errors.Is(err, ErrPartial) || !strings.Contains(err.Error(), "PyPI") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Update: %v; want ErrPartial naming PyPI's 404", err)
	}
	if strings.Contains(err.Error(), "404 page not found\n") {
		t.Errorf("error carries the response body: %q", err)
	}
	var goRow, pyRow EcosystemUpdate
	for _, e := range st.Ecosystems {
		switch e.Ecosystem {
		case "Go":
			goRow = e
		case "PyPI":
			pyRow = e
		}
	}
	if goRow.Err != nil || goRow.After.Records == 0 || pyRow.Err == nil {
		t.Errorf("stats: Go %+v, PyPI %+v", goRow, pyRow)
	}
	if seen["Go"] != goRow.Bytes || goRow.Bytes == 0 {
		t.Errorf("progress for Go ended at %d of %d bytes", seen["Go"], goRow.Bytes)
	}
	db := openT(t, path)
	if advs, err := db.Affecting(ctx, "Go", "golang.org/x/text"); err != nil || len(advs) == 0 {
		t.Errorf("Go not swapped in: %v %v", ids(advs), err)
	}

	for _, bad := range []string{"Debain", "Debian:12", "../etc", ""} {
		if _, err := Update(ctx, path, []string{bad}, WithBaseURL(srv.URL)); err == nil || !strings.Contains(err.Error(), "known: Debian") {
			t.Errorf("Update(%q): %v; want an error listing the known ecosystems", bad, err)
		}
	}
}
