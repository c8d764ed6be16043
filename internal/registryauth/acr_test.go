package registryauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
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
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeAzure is one local HTTPS server standing for three real services:
//   - the Microsoft Entra ID token endpoint
//     (login.microsoftonline.com/<tenant>/oauth2/v2.0/token), client
//     credentials grant with a federated client assertion;
//   - the Azure Instance Metadata Service managed identity endpoint
//     (169.254.169.254/metadata/identity/oauth2/token);
//   - an Azure Container Registry: its /oauth2/exchange (Entra access
//     token → ACR refresh token) and /oauth2/token (refresh token →
//     access token per repository scope) endpoints, and the registry API,
//     which demands an access token for the repository.
//
// Every request's form is checked as the real services document them; a
// wrong field fails the test.
type fakeAzure struct {
	t        *testing.T
	srv      *httptest.Server
	host     string
	tenant   string
	clientID string
	jwt      string // the projected service account token

	entraCalls, imdsCalls, exchangeCalls, tokenCalls atomic.Int64
	mu                                               sync.Mutex
	scopes                                           []string
	entraDelay                                       time.Duration
	reg                                              http.Handler
	expectBad                                        atomic.Bool // a rejected request is the point
}

func newFakeAzure(t *testing.T) *fakeAzure {
	f := &fakeAzure{t: t, tenant: "tenant-1", clientID: "client-1", jwt: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZHJ5ZG9jay1zeXN0ZW06ZHJ5ZG9jayJ9.sig"}
	f.reg = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve(f.reg)))
	t.Cleanup(f.srv.Close)
	f.host = strings.TrimPrefix(f.srv.URL, "https://")
	return f
}

func (f *fakeAzure) fail(w http.ResponseWriter, format string, args ...any) {
	if !f.expectBad.Load() {
		f.t.Errorf(format, args...)
	}
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprint(w, `{"error":"invalid_request"}`)
}

func (f *fakeAzure) want(w http.ResponseWriter, r *http.Request, what string, fields map[string]string) bool {
	for k, v := range fields {
		if got := r.Form.Get(k); got != v {
			f.fail(w, "%s: %s = %q, want %q", what, k, got, v)
			return false
		}
	}
	return true
}

// refreshToken is an unsigned JWT whose exp the client reads.
func refreshToken(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"exp": exp.Unix(), "grant_type": "refresh_token"})
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(claims) + ".sig"
}

func (f *fakeAzure) serve(reg http.Handler) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/"+f.tenant+"/oauth2/v2.0/token":
			f.entraCalls.Add(1)
			time.Sleep(f.entraDelay)
			if r.Method != http.MethodPost || !f.want(w, r, "Entra token", map[string]string{
				"grant_type": "client_credentials", "client_id": f.clientID, "client_assertion": f.jwt,
				"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
				"scope":                 "https://containerregistry.azure.net/.default",
			}) {
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": "entra-token"})
		case r.URL.Path == "/metadata/identity/oauth2/token":
			f.imdsCalls.Add(1)
			if r.Method != http.MethodGet || r.Header.Get("Metadata") != "true" || !f.want(w, r, "IMDS", map[string]string{
				"api-version": "2018-02-01", "resource": "https://containerregistry.azure.net", "client_id": f.clientID,
			}) {
				f.t.Errorf("IMDS request %s, Metadata header %q", r.Method, r.Header.Get("Metadata"))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"access_token": "entra-token", "expires_on": fmt.Sprint(time.Now().Add(time.Hour).Unix()), "resource": "https://containerregistry.azure.net"})
		case r.URL.Path == "/oauth2/exchange":
			f.exchangeCalls.Add(1)
			if r.Method != http.MethodPost || !f.want(w, r, "ACR exchange", map[string]string{
				"grant_type": "access_token", "service": f.host, "tenant": f.tenant, "access_token": "entra-token",
			}) {
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"refresh_token": refreshToken(time.Now().Add(3 * time.Hour))})
		case r.URL.Path == "/oauth2/token":
			f.tokenCalls.Add(1)
			if r.Method != http.MethodPost || !f.want(w, r, "ACR token", map[string]string{"grant_type": "refresh_token", "service": f.host}) {
				return
			}
			if exp, ok := jwtExpiry(r.Form.Get("refresh_token")); !ok || exp.Before(time.Now()) {
				f.fail(w, "ACR token: refresh_token %q is not a live refresh token", r.Form.Get("refresh_token"))
				return
			}
			f.mu.Lock()
			f.scopes = append(f.scopes, r.Form.Get("scope"))
			f.mu.Unlock()
			json.NewEncoder(w).Encode(map[string]string{"access_token": "acr:" + r.Form.Get("scope")})
		case strings.HasPrefix(r.URL.Path, "/v2/"):
			auth := r.Header.Get("Authorization")
			repo := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/", 2)[0]
			if r.URL.Path == "/v2/" || !strings.HasPrefix(auth, "Bearer acr:repository:"+repo+":") {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, f.host, f.host))
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			reg.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}
}

func TestACRWorkloadIdentity(t *testing.T) {
	f := newFakeAzure(t)
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	os.WriteFile(tokenFile, []byte(f.jwt+"\n"), 0o600)
	acr := &ACR{
		TenantID:   f.tenant,
		IsRegistry: func(h string) bool { return h == f.host },
		Client:     f.srv.Client(),
		Entra: &WorkloadIdentity{AuthorityHost: f.srv.URL + "/", TenantID: f.tenant, ClientID: f.clientID,
			TokenFile: tokenFile, Client: f.srv.Client()},
	}
	// An image pushed without auth (straight to the registry handler) is
	// then read through the keychain.
	ref, _ := name.NewTag(f.host + "/team/app:1")
	img, _ := random.Image(256, 1)
	writeAuthorized(t, f, ref, img)

	// Concurrent first use: one Entra call, one exchange.
	f.entraDelay = 100 * time.Millisecond
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := remote.Head(ref, remote.WithAuthFromKeychain(acr), remote.WithTransport(f.srv.Client().Transport)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	f.entraDelay = 0
	if e, x := f.entraCalls.Load(), f.exchangeCalls.Load(); e != 1 || x != 1 {
		t.Errorf("8 concurrent pulls: %d Entra calls, %d exchanges; want 1 and 1", e, x)
	}
	f.mu.Lock()
	for _, s := range f.scopes {
		if s != "repository:team/app:pull" {
			t.Errorf("access token scope %q, want repository:team/app:pull", s)
		}
	}
	f.mu.Unlock()

	// Cached while valid.
	if _, err := acr.Resolve(ref.Context()); err != nil {
		t.Fatal(err)
	}
	if e := f.entraCalls.Load(); e != 1 {
		t.Errorf("a resolve within the tokens' lifetime called Entra again (%d calls)", e)
	}
	// 56 minutes on, the Entra token (1 h) is within the margin, the
	// refresh token (3 h) is not: only after 2 h 56 min are both renewed.
	clock := time.Now().Add(56 * time.Minute)
	acr.entra.now = func() time.Time { return clock }
	acr.refresh.now = func() time.Time { return clock }
	acr.Resolve(ref.Context())
	if e, x := f.entraCalls.Load(), f.exchangeCalls.Load(); e != 1 || x != 1 {
		t.Errorf("at 56 min: %d Entra calls, %d exchanges; want 1 and 1 (the refresh token is still good)", e, x)
	}
	clock = time.Now().Add(176 * time.Minute)
	if _, err := acr.Resolve(ref.Context()); err != nil {
		t.Fatal(err)
	}
	if e, x := f.entraCalls.Load(), f.exchangeCalls.Load(); e != 2 || x != 2 {
		t.Errorf("at 2 h 56 min: %d Entra calls, %d exchanges; want 2 and 2", e, x)
	}

	// Other registries are not ACR: anonymous, no token traffic.
	other, _ := name.NewRepository("registry.example/app")
	if a, _ := acr.Resolve(other); a != nil {
		if c, _ := a.Authorization(); c.IdentityToken != "" || c.Password != "" {
			t.Error("credentials offered to a registry that is not ACR")
		}
	}

	// A rejected assertion is an error naming the endpoint, not the token.
	os.WriteFile(tokenFile, []byte("not-the-token"), 0o600)
	bad := &ACR{TenantID: f.tenant, IsRegistry: acr.IsRegistry, Client: f.srv.Client(), Entra: &WorkloadIdentity{
		AuthorityHost: f.srv.URL, TenantID: f.tenant, ClientID: f.clientID, TokenFile: tokenFile, Client: f.srv.Client()}}
	f.expectBad.Store(true)
	_, err := bad.Resolve(ref.Context())
	f.expectBad.Store(false)
	if err == nil || !strings.Contains(err.Error(), "oauth2/v2.0/token: 400") || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("bad assertion: %v", err)
	}
}

func TestACRManagedIdentity(t *testing.T) {
	f := newFakeAzure(t)
	acr := &ACR{
		TenantID:   f.tenant,
		IsRegistry: func(h string) bool { return h == f.host },
		Client:     f.srv.Client(),
		Entra:      &ManagedIdentity{Endpoint: f.srv.URL + "/metadata/identity/oauth2/token", ClientID: f.clientID, Client: f.srv.Client()},
	}
	ref, _ := name.NewTag(f.host + "/team/db:1")
	img, _ := random.Image(256, 1)
	writeAuthorized(t, f, ref, img)
	if _, err := remote.Head(ref, remote.WithAuthFromKeychain(acr), remote.WithTransport(f.srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	if i, x := f.imdsCalls.Load(), f.exchangeCalls.Load(); i != 1 || x != 1 {
		t.Errorf("%d IMDS calls, %d exchanges; want 1 and 1", i, x)
	}
}

// writeAuthorized pushes img into the registry's storage through a plain
// side door (the same handler, no auth), as if a CI job had pushed it.
func writeAuthorized(t *testing.T, f *fakeAzure, ref name.Tag, img v1.Image) {
	t.Helper()
	side := httptest.NewServer(f.reg)
	defer side.Close()
	dst, err := name.NewTag(strings.TrimPrefix(side.URL, "http://") + "/" + ref.Context().RepositoryStr() + ":" + ref.TagStr())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(dst, img); err != nil {
		t.Fatal(err)
	}
}
