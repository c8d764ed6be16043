package freshness

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Bodies in the shapes each registry sends (trimmed to the fields that matter
// plus some that do not).
var eventBodies = map[string]string{
	SourceDistribution: `{"events":[
 {"id":"1","timestamp":"2024-01-01T00:00:00Z","action":"push","target":{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:aaaa","repository":"base/debian"},"request":{"host":"127.0.0.1:5000"}},
 {"id":"2","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:bbbb","repository":"base/debian","url":"http://127.0.0.1:5000/v2/base/debian/manifests/sha256:bbbb","tag":"12"},"request":{"id":"r","addr":"127.0.0.1:1234","host":"127.0.0.1:5000","method":"PUT","useragent":"go"},"actor":{},"source":{"addr":"x","instanceID":"y"}},
 {"id":"3","action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbb","repository":"base/debian","tag":"12"},"request":{"host":"127.0.0.1:5000"}}]}`,
	SourceACR:       `{"id":"cb8c3971","timestamp":"2017-06-12T16:41:45Z","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":524,"digest":"sha256:cccc","length":524,"repository":"base/debian","tag":"12"},"request":{"id":"3cbb6949","host":"myregistry.azurecr.io","method":"PUT","useragent":"docker/17.03"}}`,
	SourceHarbor:    `{"type":"PUSH_ARTIFACT","occur_at":1680000000,"operator":"admin","event_data":{"resources":[{"digest":"sha256:dddd","tag":"12","resource_url":"harbor.example.com/base/debian:12"}],"repository":{"date_created":1680000000,"name":"debian","namespace":"base","repo_full_name":"base/debian","repo_type":"private"}}}`,
	SourceDockerHub: `{"callback_url":"https://registry.hub.docker.com/u/x/y/hook/1/","push_data":{"pushed_at":1417566161,"pusher":"trustedbuilder","tag":"12"},"repository":{"name":"debian","namespace":"library","repo_name":"debian","repo_url":"https://registry.hub.docker.com/_/debian"}}`,
}

func TestDecoders(t *testing.T) {
	want := map[string][]PushEvent{
		SourceDistribution: {{Host: "127.0.0.1:5000", Repository: "base/debian", Tag: "12", Digest: "sha256:bbbb"}},
		SourceACR:          {{Host: "myregistry.azurecr.io", Repository: "base/debian", Tag: "12", Digest: "sha256:cccc"}},
		SourceHarbor:       {{Host: "harbor.example.com", Repository: "base/debian", Tag: "12", Digest: "sha256:dddd"}},
		SourceDockerHub:    {{Host: "index.docker.io", Repository: "library/debian", Tag: "12"}},
	}
	for src, body := range eventBodies {
		got, err := Decoders[src]([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if !reflect.DeepEqual(got, want[src]) {
			t.Errorf("%s: got %+v, want %+v", src, got, want[src])
		}
	}
	for src, dec := range Decoders {
		for _, bad := range []string{``, `null`, `[]`, `{`, `"x"`, `{}`, `{"events":{}}`, `{"action":5}`, `{"push_data":"x"}`, `{"type":[]}`} {
			if evs, err := dec([]byte(bad)); err == nil && len(evs) > 0 {
				t.Errorf("%s(%q) = %v, want an error or nothing", src, bad, evs)
			}
		}
		if _, err := dec([]byte(`{`)); err == nil {
			t.Errorf("%s: truncated JSON accepted", src)
		}
	}
}

func TestEventHandler(t *testing.T) {
	var got []PushEvent
	h := &EventHandler{Token: "s3cret", OnPush: func(_ string, evs []PushEvent) { got = append(got, evs...) }}
	do := func(method, target, auth, body string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	cases := []struct {
		method, target, auth, body string
		code                       int
	}{
		{"POST", "/events/distribution", "", eventBodies[SourceDistribution], http.StatusUnauthorized},
		{"POST", "/events/distribution", "Bearer wrong", eventBodies[SourceDistribution], http.StatusUnauthorized},
		{"POST", "/events/distribution?token=s3cre", "", eventBodies[SourceDistribution], http.StatusUnauthorized},
		{"POST", "/events/distribution", "Bearer s3cret", `{"events":`, http.StatusBadRequest},
		{"GET", "/events/distribution", "Bearer s3cret", "", http.StatusMethodNotAllowed},
		{"POST", "/events/quay", "Bearer s3cret", "{}", http.StatusNotFound},
		{"POST", "/events/distribution", "Bearer s3cret", eventBodies[SourceDistribution], http.StatusAccepted},
		{"POST", "/events/acr", "bearer s3cret", eventBodies[SourceACR], http.StatusAccepted},
		{"POST", "/events/harbor", "s3cret", eventBodies[SourceHarbor], http.StatusAccepted},
		{"POST", "/events/dockerhub?token=s3cret", "", eventBodies[SourceDockerHub], http.StatusAccepted},
		{"POST", "/events/distribution", "Bearer s3cret", strings.Repeat(" ", MaxEventBody+1), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if code := do(c.method, c.target, c.auth, c.body); code != c.code {
			t.Errorf("%s %s (auth %q): %d, want %d", c.method, c.target, c.auth, code, c.code)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d pushes delivered, want 4 (one per accepted request): %+v", len(got), got)
	}
	// Accept drops the pushes it refuses, names them in the reply, and
	// still answers 2xx (a registry retries a refused notification and
	// holds back every later one).
	got = nil
	h.Accept = func(_ string, ev PushEvent) error {
		if ev.Host != "allowed.example" {
			return fmt.Errorf("registry %q is not configured", ev.Host)
		}
		return nil
	}
	for _, tc := range []struct {
		host    string
		ignored string
	}{{"allowed.example", ""}, {"other.example", `registry \"other.example\" is not configured`}} {
		body := `{"events":[{"action":"push","target":{"repository":"team/app","tag":"1"},"request":{"host":"allowed.example"}},
			{"action":"push","target":{"repository":"team/app","tag":"2"},"request":{"host":"` + tc.host + `"}}]}`
		req := httptest.NewRequest("POST", "/events/distribution", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer s3cret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Errorf("push from %s: %d %s, want 202", tc.host, rec.Code, rec.Body)
		}
		if hasIgnored := strings.Contains(rec.Body.String(), `"ignored"`); hasIgnored != (tc.ignored != "") || !strings.Contains(rec.Body.String(), tc.ignored) {
			t.Errorf("push from %s: reply %s; want ignored %q", tc.host, rec.Body, tc.ignored)
		}
	}
	if len(got) != 3 || slices.ContainsFunc(got, func(ev PushEvent) bool { return ev.Host != "allowed.example" }) {
		t.Errorf("pushes delivered with Accept: %+v; want the 3 from allowed.example only", got)
	}
	// No token configured: everything is refused.
	open := &EventHandler{}
	rec := httptest.NewRecorder()
	open.ServeHTTP(rec, httptest.NewRequest("POST", "/events/distribution?token=", strings.NewReader(eventBodies[SourceDistribution])))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("no token configured: %d, want 401", rec.Code)
	}
}

func FuzzDecoders(f *testing.F) {
	for _, b := range eventBodies {
		f.Add([]byte(b))
	}
	f.Add([]byte(`{"events":[{"action":"push","target":{"tag":"x","repository":"r"}}]}`))
	f.Add([]byte(`{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"tag":"1","resource_url":"/"}],"repository":{"repo_full_name":"a"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for src, dec := range Decoders {
			evs, err := dec(b)
			if err != nil && len(evs) > 0 {
				t.Errorf("%s: events and an error", src)
			}
			for _, e := range evs {
				if e.Tag == "" || e.Repository == "" {
					t.Errorf("%s: event without tag or repository: %+v", src, e)
				}
			}
		}
	})
}
