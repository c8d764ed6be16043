package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/store"
)

// fuzzAPI is the API over a small real store; POST /scan parses the
// reference as the server does but queues nothing.
func fuzzAPI(f *testing.F) http.Handler {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(f.TempDir(), "s.sqlite"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	d := "sha256:" + strings.Repeat("a", 64)
	st.PutImage(ctx, store.Image{Digest: d, Registry: "reg.example", Repository: "reg.example/team/app"})
	st.PutInventory(ctx, d, []byte(`{"packages":[]}`))
	st.SaveFindings(ctx, d, []store.Finding{{ID: "CVE-2026-1", Package: "p", Version: "1", Fixed: "2", Severity: "HIGH"}}, store.EventScan)
	a := &API{Store: st, Token: "t", OpenReads: true, Insecure: func(string) bool { return false },
		Enqueue: func(ctx context.Context, ref string, _ bool) error { return nil }}
	return a.Handler()
}

// checkReply fails on a server error: malformed input must get a 4xx
// with a reason, never a 500 (nor a panic, which fails the target too).
func checkReply(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("%s: %d without a reason: %q", what, rec.Code, rec.Body.String())
	}
}

// Query parameters and path segments of every read endpoint.
func FuzzAPIQuery(f *testing.F) {
	h := fuzzAPI(f)
	for _, s := range []string{
		"/api/v1/images?severity=high&fixable=true&running=false&limit=10&after=x",
		"/api/v1/images?registry=reg.example&repository=reg.example/team/app&limit=-1",
		"/api/v1/images/sha256:" + strings.Repeat("a", 64),
		"/api/v1/images/sha256:zz",
		"/api/v1/vulnerabilities/CVE-2026-1",
		"/api/v1/vulnerabilities/%00%ff",
		"/api/v1/workloads?digest=sha256:1",
		"/api/v1/events?before=0&kind=scan&limit=100000&vulnerability=CVE-2026-1",
		"/api/v1/events?before=9223372036854775808",
		"/api/v1/nothing",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/api/") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		req.URL, req.RequestURI = u, target
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkReply(t, rec, "GET "+target)
	})
}

// The body of POST /api/v1/scan.
func FuzzAPIScanBody(f *testing.F) {
	h := fuzzAPI(f)
	for _, s := range []string{
		`{"ref":"reg.example/team/app:1"}`, `{"ref":""}`, `{"ref":"UPPER/case"}`, `{"ref":1}`,
		`{"ref":"reg.example/team/app@sha256:` + strings.Repeat("a", 64) + `"}`, `{"ref":"a","extra":true}`, `[`, ``, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/api/v1/scan", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkReply(t, rec, "POST /scan "+body)
	})
}

// Registry push events, as the server takes them: every reference handed
// on parses strictly, and nothing panics.
func FuzzPushEvents(f *testing.F) {
	for _, s := range []string{
		`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","repository":"os/debian","tag":"12"},"request":{"host":"reg.example:5000"}}]}`,
		`{"events":[{"action":"push","target":{"repository":"../x","tag":"a b"},"request":{"host":"h/o"}}]}`,
		`{"events":null}`, `{`,
	} {
		f.Add("distribution", s)
	}
	f.Add("acr", `{"action":"push","target":{"repository":"r","tag":"t"},"request":{"host":"x.azurecr.io"}}`)
	f.Add("harbor", `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"1","resource_url":"h/p/r:1"}],"repository":{"repo_full_name":"p/r"}}}`)
	f.Add("dockerhub", `{"push_data":{"tag":"1"},"repository":{"repo_name":"library/debian"}}`)
	f.Fuzz(func(t *testing.T, source, body string) {
		h := &freshness.EventHandler{Token: "tok", OnPush: func(_ string, evs []freshness.PushEvent) {
			for _, ev := range evs {
				ref, err := pushRef(ev)
				if err != nil {
					continue
				}
				if _, err := name.ParseReference(ref, name.StrictValidation); err != nil {
					t.Fatalf("pushRef handed on %q: %v", ref, err)
				}
			}
		}}
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(body))
		req.URL = &url.URL{Path: "/events/" + source, RawQuery: "token=tok"}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST /events/%s: %d %s", source, rec.Code, rec.Body.String())
		}
	})
}
