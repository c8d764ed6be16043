package registryauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestGCPMetadataServer(t *testing.T) {
	// Stands for the GCE metadata server (metadata.google.internal), which
	// GKE workload identity also serves: plain HTTP, Metadata-Flavor.
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond)
		if r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" || r.Header.Get("Metadata-Flavor") != "Google" {
			t.Errorf("metadata request %s with Metadata-Flavor %q", r.URL.Path, r.Header.Get("Metadata-Flavor"))
			http.Error(w, "bad", http.StatusForbidden)
			return
		}
		if s := r.URL.Query().Get("scopes"); s != gcpScope {
			t.Errorf("scopes %q, want %q", s, gcpScope)
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.meta", "expires_in": 3599, "token_type": "Bearer"})
	}))
	defer srv.Close()
	g := &GCP{Source: &MetadataServer{Host: strings.TrimPrefix(srv.URL, "http://")}}
	repo, _ := name.NewRepository("europe-docker.pkg.dev/proj/repo/app")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := g.Resolve(repo)
			if err != nil {
				t.Error(err)
				return
			}
			c, _ := a.Authorization()
			if c.Username != "oauth2accesstoken" || c.Password != "ya29.meta" {
				t.Errorf("credentials %q/%q", c.Username, c.Password)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("8 concurrent resolves: %d metadata calls, want 1", n)
	}
	clock := time.Now().Add(56 * time.Minute) // within 5 min of the 1 h expiry
	g.cache.now = func() time.Time { return clock }
	g.Resolve(repo)
	if n := calls.Load(); n != 2 {
		t.Errorf("near expiry: %d metadata calls, want 2", n)
	}
	other, _ := name.NewRepository("registry.example/app")
	a, _ := g.Resolve(other)
	if c, _ := a.Authorization(); c.Password != "" {
		t.Error("a Google token offered to another registry")
	}
}

func TestGCPWorkloadIdentityFederation(t *testing.T) {
	// Stands for Google's Security Token Service (sts.googleapis.com/v1/token,
	// RFC 8693 token exchange) and the IAM Credentials API's
	// generateAccessToken (service account impersonation).
	var stsCalls, impCalls atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/token":
			stsCalls.Add(1)
			r.ParseForm()
			for k, v := range map[string]string{
				"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
				"audience":             "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k8s",
				"scope":                gcpScope,
				"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
				"subject_token":        "k8s-sa-jwt",
				"subject_token_type":   "urn:ietf:params:oauth:token-type:jwt",
			} {
				if got := r.Form.Get(k); got != v {
					t.Errorf("STS %s = %q, want %q", k, got, v)
				}
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "sts-token", "expires_in": 3600, "token_type": "Bearer", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"})
		case "/v1/projects/-/serviceAccounts/puller@proj.iam.gserviceaccount.com:generateAccessToken":
			impCalls.Add(1)
			var body struct{ Scope []string }
			json.NewDecoder(r.Body).Decode(&body)
			if r.Header.Get("Authorization") != "Bearer sts-token" || len(body.Scope) != 1 || body.Scope[0] != gcpScope {
				t.Errorf("impersonation with %q, scope %v", r.Header.Get("Authorization"), body.Scope)
			}
			json.NewEncoder(w).Encode(map[string]any{"accessToken": "ya29.impersonated", "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("k8s-sa-jwt\n"), 0o600)
	cfg, _ := json.Marshal(map[string]any{
		"type":                              "external_account",
		"audience":                          "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k8s",
		"subject_token_type":                "urn:ietf:params:oauth:token-type:jwt",
		"token_url":                         srv.URL + "/v1/token",
		"service_account_impersonation_url": srv.URL + "/v1/projects/-/serviceAccounts/puller@proj.iam.gserviceaccount.com:generateAccessToken",
		"credential_source":                 map[string]any{"file": filepath.Join(dir, "token"), "format": map[string]string{"type": "text"}},
	})
	file := filepath.Join(dir, "credentials.json")
	os.WriteFile(file, cfg, 0o600)
	g := &GCP{Source: &ExternalAccount{File: file, Client: srv.Client()}}
	repo, _ := name.NewRepository("gcr.io/proj/app")
	a, err := g.ResolveContext(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := a.Authorization(); c.Password != "ya29.impersonated" {
		t.Errorf("password %q, want the impersonated token", c.Password)
	}
	g.Resolve(repo)
	if s, i := stsCalls.Load(), impCalls.Load(); s != 1 || i != 1 {
		t.Errorf("%d STS and %d impersonation calls, want 1 and 1 (cached)", s, i)
	}

	// A credential file pointing at a plain-HTTP endpoint is refused.
	bad := strings.Replace(string(cfg), srv.URL, "http://127.0.0.1:1", 1)
	os.WriteFile(file, []byte(bad), 0o600)
	g2 := &GCP{Source: &ExternalAccount{File: file, Client: srv.Client()}}
	if _, err := g2.Resolve(repo); err == nil || !strings.Contains(err.Error(), "is not https") {
		t.Errorf("plain-HTTP token_url: %v", err)
	}
}
