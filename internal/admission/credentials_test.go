package admission

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/registryauth"
)

// userKeychain presents one user's basic credentials to every registry.
type userKeychain string

func (u userKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	if u == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: string(u), Password: "pw"}), nil
}

// nsCredentials gives each namespace a user; source names it.
type nsCredentials map[string]string

func (n nsCredentials) Credentials(_ context.Context, w registryauth.Workload) (registryauth.Credentials, error) {
	if w.Namespace == "broken" {
		return registryauth.Credentials{}, errors.New("secret broken/x: invalid .dockerconfigjson")
	}
	return registryauth.Credentials{Keychain: userKeychain(n[w.Namespace]), Source: "user " + n[w.Namespace]}, nil
}

// gatedResolver lets only the user "puller" read anything.
type gatedResolver struct {
	*fakeResolver
	reads atomic.Int64
}

func (g *gatedResolver) CanRead(ctx context.Context, d name.Digest) error {
	g.reads.Add(1)
	kc := registryauth.KeychainFrom(ctx)
	if kc == nil {
		return errors.New("no keychain in the context")
	}
	a, _ := kc.Resolve(d.Context())
	cfg, _ := a.Authorization()
	if cfg.Username != "puller" {
		return fmt.Errorf("%w: HEAD %s: UNAUTHORIZED", registryauth.ErrDenied, d)
	}
	return nil
}

func TestCredentialsNoRideOnCachedVerification(t *testing.T) {
	var gr *gatedResolver
	s, _, ver := newTestServer(t, func(c *Config) {
		gr = &gatedResolver{fakeResolver: c.Resolver.(*fakeResolver)}
		c.Resolver = gr
		c.Credentials = nsCredentials{"team": "puller", "other": "someone", "anon": ""}
	})
	pinned := "registry.test/app:good@" + digestA
	for _, tc := range []struct {
		ns, image  string
		allow      bool
		want       string
		reads      int64 // CanRead calls so far
		verifyCall int64
	}{
		{ns: "team", image: pinned, allow: true, reads: 1, verifyCall: 1},
		// The verdict is cached now: the other namespaces' credentials are
		// still checked, and denied.
		{ns: "other", image: pinned, want: "pull credentials cannot read this image (user someone)", reads: 2, verifyCall: 1},
		{ns: "anon", image: pinned, want: "UNAUTHORIZED", reads: 3, verifyCall: 1},
		// The same credentials again: both answers come from the cache.
		{ns: "team", image: pinned, allow: true, reads: 3, verifyCall: 1},
		{ns: "other", image: pinned, want: "cannot read this image", reads: 3, verifyCall: 1},
		// Credentials that cannot be read: denied, the reason says so.
		{ns: "broken", image: pinned, want: "cannot read the workload's pull credentials: secret broken/x", reads: 3, verifyCall: 1},
	} {
		resp := s.Validate(context.Background(), reviewOf(tc.ns, "Pod", podJSON("p", nil, tc.image)))
		if resp.Allowed != tc.allow {
			t.Errorf("%s: allowed %v, want %v (%v)", tc.ns, resp.Allowed, tc.allow, resp.Result)
		}
		if tc.want != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tc.want)) {
			t.Errorf("%s: message %v, want it to say %q", tc.ns, resp.Result, tc.want)
		}
		if got := gr.reads.Load(); got != tc.reads {
			t.Errorf("%s: %d access checks so far, want %d", tc.ns, got, tc.reads)
		}
		if got := ver.calls.Load(); got != tc.verifyCall {
			t.Errorf("%s: %d verifications so far, want %d", tc.ns, got, tc.verifyCall)
		}
	}
}

func TestCredentialsNeedAccessChecker(t *testing.T) {
	_, err := New(Config{Verifier: &fakeVerifier{}, Resolver: &fakeResolver{}, Credentials: nsCredentials{}})
	if err == nil || !strings.Contains(err.Error(), "AccessChecker") {
		t.Errorf("New with Credentials and a Resolver that cannot check access: %v, want an error", err)
	}
}
