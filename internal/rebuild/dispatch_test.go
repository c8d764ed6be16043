package rebuild

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const secret = "s3cr3t-t0ken-value"

var dispatchReq = Request{
	Name:       "app",
	Target:     "reg.example/team/app:1",
	Current:    "reg.example/team/app@sha256:aaa",
	OldBase:    "reg.example/base/debian@sha256:old",
	NewBase:    "reg.example/base/debian@sha256:new",
	NewBaseTag: "reg.example/base/debian:12",
	ID:         "rb-42",
}

// seen is one request as the server got it.
type seen struct {
	Method, Path, RawQuery string
	EscapedPath            string
	Header                 http.Header
	Body                   string
}

func recorder(t *testing.T, status int, respBody string, respHeader map[string]string) (*httptest.Server, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.EscapedPath(), r.Header.Clone(), string(b)})
		if r.URL.Path == "/crumbIssuer/api/json" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"_class":"hudson.security.csrf.DefaultCrumbIssuer","crumb":"c-123","crumbRequestField":"Jenkins-Crumb"}`)
			return
		}
		for k, v := range respHeader {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, respBody)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func jsonEqual(t *testing.T, want, got string) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON body (-want +got):\n%s", diff)
	}
}

func formEqual(t *testing.T, want url.Values, got string) {
	t.Helper()
	g, err := url.ParseQuery(got)
	if err != nil {
		t.Fatalf("body is not a form: %v", err)
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("form body (-want +got):\n%s", diff)
	}
}

func header(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func TestDispatchGitHub(t *testing.T) {
	t.Setenv("TEST_GH_TOKEN", secret)
	srv, got := recorder(t, http.StatusNoContent, "", nil)
	x, err := New("dispatch", map[string]string{
		"provider": "github", "url": srv.URL, "owner": "acme", "repo": "app", "workflow": "rebuild.yml", "ref": "release",
		"token_env": "TEST_GH_TOKEN", "params": `{"new_base":"{{.NewBase}}","rebuild_id":"{{.ID}}"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), dispatchReq)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pending || res.Image != "" || strings.Contains(res.Log, secret) {
		t.Errorf("result = %+v", res)
	}
	if len(*got) != 1 {
		t.Fatalf("%d requests", len(*got))
	}
	r := (*got)[0]
	if r.Method != "POST" || r.Path != "/repos/acme/app/actions/workflows/rebuild.yml/dispatches" || r.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	header(t, r.Header, map[string]string{
		"Authorization": "Bearer " + secret, "Accept": "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json",
	})
	jsonEqual(t, `{"ref":"release","inputs":{"new_base":"reg.example/base/debian@sha256:new","rebuild_id":"rb-42"}}`, r.Body)
}

func TestDispatchAzure(t *testing.T) {
	t.Setenv("TEST_AZ_PAT", secret)
	srv, got := recorder(t, http.StatusOK, `{"id":7,"_links":{"web":{"href":"https://az.example/run/7"}}}`, nil)
	x, err := New("dispatch", map[string]string{
		"provider": "azure", "url": srv.URL + "/", "org": "acme", "project": "shop", "pipeline": "12", "ref": "refs/heads/release",
		"token_env": "TEST_AZ_PAT", "params": `{"baseImage":"{{.NewBase}}"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), dispatchReq)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pending || !strings.Contains(res.Log, "https://az.example/run/7") {
		t.Errorf("result = %+v", res)
	}
	r := (*got)[0]
	if r.Method != "POST" || r.Path != "/acme/shop/_apis/pipelines/12/runs" || r.RawQuery != "api-version=7.1" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	header(t, r.Header, map[string]string{"Authorization": basic("", secret), "Content-Type": "application/json"})
	jsonEqual(t, `{"resources":{"repositories":{"self":{"refName":"refs/heads/release"}}},"templateParameters":{"baseImage":"reg.example/base/debian@sha256:new"}}`, r.Body)
}

func TestDispatchJenkins(t *testing.T) {
	t.Setenv("TEST_JENKINS_TOKEN", secret)
	srv, got := recorder(t, http.StatusCreated, "", map[string]string{"Location": "http://jenkins.example/queue/item/9/"})
	x, err := New("dispatch", map[string]string{
		"provider": "jenkins", "url": srv.URL, "job": "team/app rebuild", "user": "drydock", "token_env": "TEST_JENKINS_TOKEN", "crumb": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), dispatchReq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Log, "queue/item/9") {
		t.Errorf("log = %q", res.Log)
	}
	if len(*got) != 2 {
		t.Fatalf("%d requests, want crumb + build", len(*got))
	}
	c, r := (*got)[0], (*got)[1]
	if c.Method != "GET" || c.Header.Get("Authorization") != basic("drydock", secret) {
		t.Errorf("crumb request %s %s auth %q", c.Method, c.Path, c.Header.Get("Authorization"))
	}
	if r.Method != "POST" || r.Path != "/job/team/job/app rebuild/buildWithParameters" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	header(t, r.Header, map[string]string{"Authorization": basic("drydock", secret), "Jenkins-Crumb": "c-123", "Content-Type": "application/x-www-form-urlencoded"})
	formEqual(t, url.Values{
		"DRYDOCK_NEW_BASE": {dispatchReq.NewBase}, "DRYDOCK_NEW_BASE_TAG": {dispatchReq.NewBaseTag}, "DRYDOCK_OLD_BASE": {dispatchReq.OldBase},
		"DRYDOCK_TARGET": {dispatchReq.Target}, "DRYDOCK_CURRENT": {dispatchReq.Current}, "DRYDOCK_REBUILD_ID": {"rb-42"},
	}, r.Body)
}

func TestDispatchGitLab(t *testing.T) {
	t.Setenv("TEST_GL_TRIGGER", secret)
	srv, got := recorder(t, http.StatusCreated, `{"id":1001,"web_url":"https://gl.example/acme/app/-/pipelines/1001"}`, nil)
	x, err := New("dispatch", map[string]string{
		"provider": "gitlab", "url": srv.URL, "project": "acme/app", "ref": "main", "token_env": "TEST_GL_TRIGGER",
		"params": `{"BASE_IMAGE":"{{.NewBase}}"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.Rebuild(context.Background(), dispatchReq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Log, "pipelines/1001") || strings.Contains(res.Log, secret) {
		t.Errorf("log = %q", res.Log)
	}
	r := (*got)[0]
	// The project path is one escaped segment.
	if r.Method != "POST" || r.EscapedPath != "/api/v4/projects/acme%2Fapp/trigger/pipeline" {
		t.Errorf("request %s %s", r.Method, r.EscapedPath)
	}
	header(t, r.Header, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""})
	formEqual(t, url.Values{"token": {secret}, "ref": {"main"}, "variables[BASE_IMAGE]": {dispatchReq.NewBase}}, r.Body)
}

func TestDispatchWebhook(t *testing.T) {
	t.Setenv("TEST_HOOK_TOKEN", secret)
	srv, got := recorder(t, http.StatusAccepted, "", nil)
	x, err := New("dispatch", map[string]string{
		"provider": "webhook", "url": srv.URL + "/hooks/rebuild?team=web",
		"body":      `{"image":{{json .Target}},"base":{{json .NewBase}},"flavour":{{json .Env.flavour}},"retry":false}`,
		"headers":   `{"X-Source":"drydock"}`,
		"token_env": "TEST_HOOK_TOKEN", "token_header": "X-Hook-Token",
	})
	if err != nil {
		t.Fatal(err)
	}
	req := dispatchReq
	req.Env = map[string]string{"flavour": `sl"im`}
	if _, err := x.Rebuild(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	r := (*got)[0]
	if r.Method != "POST" || r.Path != "/hooks/rebuild" || r.RawQuery != "team=web" {
		t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
	}
	header(t, r.Header, map[string]string{"X-Hook-Token": secret, "X-Source": "drydock", "Content-Type": "application/json", "Authorization": ""})
	jsonEqual(t, `{"image":"reg.example/team/app:1","base":"reg.example/base/debian@sha256:new","flavour":"sl\"im","retry":false}`, r.Body)

	// The default body carries every field; the token goes in a bearer header.
	x, _ = New("dispatch", map[string]string{"provider": "webhook", "url": srv.URL, "token_env": "TEST_HOOK_TOKEN"})
	if _, err := x.Rebuild(context.Background(), dispatchReq); err != nil {
		t.Fatal(err)
	}
	r = (*got)[1]
	header(t, r.Header, map[string]string{"Authorization": "Bearer " + secret})
	jsonEqual(t, `{"name":"app","target":"reg.example/team/app:1","current":"reg.example/team/app@sha256:aaa","oldBase":"reg.example/base/debian@sha256:old","newBase":"reg.example/base/debian@sha256:new","newBaseTag":"reg.example/base/debian:12","id":"rb-42"}`, r.Body)

	// A body template that is not JSON is refused before sending.
	x, _ = New("dispatch", map[string]string{"provider": "webhook", "url": srv.URL, "body": `{"image":{{.Target}}}`})
	if _, err := x.Rebuild(context.Background(), dispatchReq); err == nil || !strings.Contains(err.Error(), "valid JSON") {
		t.Errorf("bad body: %v", err)
	}
	if len(*got) != 2 {
		t.Errorf("invalid body was sent")
	}
}

func TestDispatchErrorsKeepSecrets(t *testing.T) {
	t.Setenv("TEST_TOKEN", secret)
	// A server that echoes the token back in its error.
	srv, _ := recorder(t, http.StatusUnauthorized, `{"message":"bad credentials `+secret+`"}`, nil)
	x, err := New("dispatch", map[string]string{"provider": "github", "url": srv.URL, "owner": "o", "repo": "r", "workflow": "w", "token_env": "TEST_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.Rebuild(context.Background(), dispatchReq)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), secret) {
		t.Errorf("err = %v", err)
	}
	// Unreachable webhook whose URL holds a secret: the error names the host only.
	x, _ = New("dispatch", map[string]string{"provider": "webhook", "url": "http://127.0.0.1:1/hook/" + secret})
	_, err = x.Rebuild(context.Background(), dispatchReq)
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable: %v", err)
	}
	// The token may be given as a value (resolved by the caller).
	srv2, got2 := recorder(t, http.StatusCreated, `{}`, nil)
	x, err = New("dispatch", map[string]string{"provider": "gitlab", "url": srv2.URL, "project": "7", "token": "tok-value"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Rebuild(context.Background(), dispatchReq); err != nil {
		t.Fatal(err)
	}
	if f, _ := url.ParseQuery((*got2)[0].Body); f.Get("token") != "tok-value" {
		t.Errorf("token value not used: %v", f)
	}
	// An empty token variable is named, not guessed at.
	t.Setenv("TEST_EMPTY", "")
	x, _ = New("dispatch", map[string]string{"provider": "gitlab", "url": srv.URL, "project": "1", "token_env": "TEST_EMPTY"})
	if _, err := x.Rebuild(context.Background(), dispatchReq); err == nil || !strings.Contains(err.Error(), "TEST_EMPTY") {
		t.Errorf("empty token: %v", err)
	}
	// Redirects are not followed with credentials.
	redir := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redir.Close()
	x, _ = New("dispatch", map[string]string{"provider": "jenkins", "url": redir.URL, "job": "j", "user": "u", "token_env": "TEST_TOKEN"})
	if _, err := x.Rebuild(context.Background(), dispatchReq); err == nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Errorf("redirect: %v", err)
	}
	for _, cfg := range []map[string]string{
		{"provider": "teamcity"},
		{"provider": "github", "owner": "o", "repo": "r", "workflow": "w"},
		{"provider": "jenkins", "job": "j", "user": "u", "token_env": "T"},
		{"provider": "gitlab", "project": "1", "token_env": "T", "params": `["x"]`},
		{"provider": "webhook", "url": "http://x", "timeout": "-1s"},
	} {
		if _, err := New("dispatch", cfg); err == nil {
			t.Errorf("config %v accepted", cfg)
		}
	}
}
