package deploy

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/registryauth"
)

type staticKeychain authn.AuthConfig

func (s staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig(s)), nil
}

// TestResolveWithWorkloadCredentials: a registry that needs basic
// credentials; a tag resolved with one workload's credentials is not
// served from the cache to a workload without them.
func TestResolveWithWorkloadCredentials(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	open := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !open && (!ok || u != "alice" || p != "pw") {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/team/app:1"
	tag, _ := name.NewTag(ref)
	img, _ := random.Image(64, 1)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	open = false

	r := NewRegistryResolver(false, remote.WithAuthFromKeychain(authn.NewMultiKeychain()))
	ctx := context.Background()
	alice := registryauth.WithKeychain(ctx, staticKeychain{Username: "alice", Password: "pw"})
	if d, err := r.Resolve(alice, ref); err != nil || d != want.String() {
		t.Fatalf("with the pull secret: %q, %v; want %s", d, err, want)
	}
	if d, err := r.Resolve(ctx, ref); err == nil {
		t.Errorf("without credentials: resolved %s (from another workload's cache entry?)", d)
	}
	mallory := registryauth.WithKeychain(ctx, staticKeychain{Username: "alice", Password: "guess"})
	if d, err := r.Resolve(mallory, ref); err == nil {
		t.Errorf("with wrong credentials: resolved %s", d)
	}
	if d, err := r.Resolve(alice, ref); err != nil || d != want.String() {
		t.Errorf("with the pull secret again: %q, %v", d, err)
	}
}
