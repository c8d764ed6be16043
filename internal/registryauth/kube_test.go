package registryauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func dockerConfigJSON(ns, nm, host, user, pass string) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": auth}}})
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: nm}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: b}}
}

func dockercfg(ns, nm, host, user, pass string) *corev1.Secret {
	b, _ := json.Marshal(map[string]any{host: map[string]string{"username": user, "password": pass}})
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: nm}, Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: b}}
}

// fallback is the node-style provider in these tests: one user for every
// registry.
type fallback struct{}

func (fallback) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: "node", Password: "node-pw"}), nil
}

func startKube(t testing.TB) *Kube {
	t.Helper()
	cs := fake.NewClientset(
		dockerConfigJSON("a", "regcred", "reg.test", "alice", "pw-a"),
		dockercfg("a", "legacy", "reg.test", "lena", "pw-l"),
		dockerConfigJSON("a", "sa-cred", "reg.test", "sam", "pw-s"),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "opaque"}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"password": []byte("not-for-drydock")}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "builder"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k, err := NewKube(ctx, cs, fallback{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !k.Synced() {
		if time.Now().After(deadline) {
			t.Fatal("informers never synced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return k
}

func userFor(t *testing.T, kc authn.Keychain, repo string) string {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.Resolve(context.Background(), kc, r)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := authn.Authorization(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username == "" && cfg.Auth != "" {
		b, _ := base64.StdEncoding.DecodeString(cfg.Auth)
		u, _, _ := strings.Cut(string(b), ":")
		return u
	}
	return cfg.Username
}

func TestKubeCredentials(t *testing.T) {
	k := startKube(t)
	for _, tc := range []struct {
		name       string
		w          Workload
		repo, user string
		source     string
	}{
		{"pull secret", Workload{Namespace: "a", PullSecrets: []string{"regcred"}}, "reg.test/app", "alice", "imagePullSecrets regcred in namespace a"},
		{"legacy dockercfg", Workload{Namespace: "a", PullSecrets: []string{"legacy"}}, "reg.test/app", "lena", "imagePullSecrets legacy"},
		{"first secret wins", Workload{Namespace: "a", PullSecrets: []string{"regcred", "legacy"}}, "reg.test/app", "alice", "regcred, legacy"},
		{"other registry falls back", Workload{Namespace: "a", PullSecrets: []string{"regcred"}}, "other.test/app", "node", "then drydock's own credentials"},
		{"service account", Workload{Namespace: "a", ServiceAccount: "builder"}, "reg.test/app", "sam", "imagePullSecrets of service account builder sa-cred"},
		{"pod's secrets override the service account's", Workload{Namespace: "a", ServiceAccount: "builder", PullSecrets: []string{"regcred"}}, "reg.test/app", "alice", "imagePullSecrets regcred"},
		{"missing secret", Workload{Namespace: "a", PullSecrets: []string{"nope"}}, "reg.test/app", "node", "(1 of them missing or not of a pull-secret type)"},
		{"opaque secret is not a pull secret", Workload{Namespace: "a", PullSecrets: []string{"opaque"}}, "reg.test/app", "node", "missing or not of a pull-secret type"},
		{"other namespace", Workload{Namespace: "b", PullSecrets: []string{"regcred"}}, "reg.test/app", "node", "in namespace b"},
		{"no default service account", Workload{Namespace: "a"}, "reg.test/app", "node", "no pull secret in namespace a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := k.Credentials(context.Background(), tc.w)
			if err != nil {
				t.Fatal(err)
			}
			if got := userFor(t, c.Keychain, tc.repo); got != tc.user {
				t.Errorf("user %q, want %q", got, tc.user)
			}
			if !strings.Contains(c.Source, tc.source) {
				t.Errorf("source %q, want it to say %q", c.Source, tc.source)
			}
			for _, secret := range []string{"pw-a", "pw-l", "pw-s"} {
				if strings.Contains(c.Source, secret) {
					t.Errorf("source %q names a password", c.Source)
				}
			}
		})
	}
	// Other secrets' data never reaches the cache.
	s, err := k.secrets.Secrets("a").Get("opaque")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data) != 0 {
		t.Errorf("opaque secret's data kept in the informer cache: %v", s.Data)
	}
}

func TestIdentity(t *testing.T) {
	k := startKube(t)
	id := NewIdentity()
	repo, _ := name.NewRepository("reg.test/app")
	of := func(w Workload) string {
		c, err := k.Credentials(context.Background(), w)
		if err != nil {
			t.Fatal(err)
		}
		s, err := id.Of(context.Background(), c.Keychain, repo)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := of(Workload{Namespace: "a", PullSecrets: []string{"regcred"}})
	if again := of(Workload{Namespace: "a", PullSecrets: []string{"regcred", "legacy"}}); again != alice {
		t.Errorf("same credentials, identities %s and %s", alice, again)
	}
	if sam := of(Workload{Namespace: "a", ServiceAccount: "builder"}); sam == alice {
		t.Errorf("different credentials, same identity %s", sam)
	}
	if node := of(Workload{Namespace: "b"}); node == alice {
		t.Errorf("fallback and secret share identity %s", node)
	}
	if got, _ := id.Of(context.Background(), authn.NewMultiKeychain(), repo); got != "anonymous" {
		t.Errorf("empty keychain identity %q, want anonymous", got)
	}
	if other := NewIdentity(); func() string {
		c, _ := k.Credentials(context.Background(), Workload{Namespace: "a", PullSecrets: []string{"regcred"}})
		s, _ := other.Of(context.Background(), c.Keychain, repo)
		return s
	}() == alice {
		t.Error("identities from two processes match: the hash is not keyed")
	}
}
