// Package registryauth finds the registry credentials drydock uses for a
// workload, the way the kubelet would pull its images: the workload's
// imagePullSecrets (or, when it names none, its ServiceAccount's), in its
// namespace, then the node-style providers (docker config.json, credential
// helpers and the cloud registries' workload identities).
//
// Secrets and ServiceAccounts are read from informers, never with a GET per
// request; only the data of pull secrets (kubernetes.io/dockerconfigjson
// and kubernetes.io/dockercfg) is kept in memory. Credentials are never
// logged: what callers may show is the Source (which secrets were used) and
// an Identity, a keyed hash of the credentials a registry would receive.
package registryauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	k8sauthn "github.com/google/go-containerregistry/pkg/authn/kubernetes"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Workload names what decides a workload's pull credentials.
type Workload struct {
	Namespace string
	// ServiceAccount is spec.serviceAccountName ("default" when empty).
	ServiceAccount string
	// PullSecrets are spec.imagePullSecrets[].name.
	PullSecrets []string
}

// Credentials are one workload's registry credentials.
type Credentials struct {
	// Keychain resolves a repository to what the registry receives.
	Keychain authn.Keychain
	// Source says, for messages, where the credentials came from
	// ("imagePullSecrets a, b of namespace ns"); it names no secret data.
	Source string
}

// Kube reads pull secrets and ServiceAccounts through informers.
type Kube struct {
	secrets  corelisters.SecretLister
	accounts corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	fallback authn.Keychain
}

// pullSecretTypes are the secret types the kubelet reads credentials from.
var pullSecretTypes = []corev1.SecretType{corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg}

// NewKube starts Secret and ServiceAccount informers over cs (the caller
// needs get, list and watch on both, cluster-wide or in the namespaces
// checked); fallback (the node-style providers) is tried after a
// workload's own secrets, as the kubelet does. The informers stop with ctx.
func NewKube(ctx context.Context, cs kubernetes.Interface, fallback authn.Keychain) (*Kube, error) {
	if fallback == nil {
		fallback = authn.DefaultKeychain
	}
	fac := informers.NewSharedInformerFactory(cs, 30*time.Minute)
	si := fac.Core().V1().Secrets()
	// Keep only what a pull needs: every other secret's data, and every
	// secret's managed fields, are dropped before they reach the cache.
	if err := si.Informer().SetTransform(stripSecret); err != nil {
		return nil, fmt.Errorf("registryauth: secret informer: %w", err)
	}
	sa := fac.Core().V1().ServiceAccounts()
	if err := sa.Informer().SetTransform(stripAccount); err != nil {
		return nil, fmt.Errorf("registryauth: service account informer: %w", err)
	}
	k := &Kube{
		secrets: si.Lister(), accounts: sa.Lister(), fallback: fallback,
		synced: []cache.InformerSynced{si.Informer().HasSynced, sa.Informer().HasSynced},
	}
	fac.Start(ctx.Done())
	return k, nil
}

// NewKubeFromListers is NewKube over listers the caller runs (tests, and
// processes that share an informer factory).
func NewKubeFromListers(secrets corelisters.SecretLister, accounts corelisters.ServiceAccountLister, fallback authn.Keychain, synced ...cache.InformerSynced) *Kube {
	if fallback == nil {
		fallback = authn.DefaultKeychain
	}
	return &Kube{secrets: secrets, accounts: accounts, fallback: fallback, synced: synced}
}

func stripSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	s.ManagedFields = nil
	if !slices.Contains(pullSecretTypes, s.Type) {
		s.Data, s.StringData = nil, nil
	}
	return s, nil
}

func stripAccount(obj any) (any, error) {
	if a, ok := obj.(*corev1.ServiceAccount); ok {
		a.ManagedFields = nil
		a.Secrets = nil
	}
	return obj, nil
}

// Synced reports whether both informers have listed once.
func (k *Kube) Synced() bool {
	for _, s := range k.synced {
		if !s() {
			return false
		}
	}
	return true
}

// ErrNotSynced is returned before the informers have listed once.
var ErrNotSynced = errors.New("registryauth: secrets and service accounts not read yet")

// Credentials returns the workload's keychain: its imagePullSecrets, or
// when it names none its ServiceAccount's (what the ServiceAccount
// admission plugin copies into a Pod), then the fallback. A named secret
// that does not exist or is not a pull secret is skipped, as the kubelet
// skips it; a malformed one is an error naming it.
func (k *Kube) Credentials(_ context.Context, w Workload) (Credentials, error) {
	if !k.Synced() {
		return Credentials{}, ErrNotSynced
	}
	names, from := w.PullSecrets, "imagePullSecrets"
	if len(names) == 0 {
		sa := w.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		acct, err := k.accounts.ServiceAccounts(w.Namespace).Get(sa)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return Credentials{}, fmt.Errorf("registryauth: service account %s/%s: %w", w.Namespace, sa, err)
		default:
			for _, r := range acct.ImagePullSecrets {
				names = append(names, r.Name)
			}
			from = "imagePullSecrets of service account " + sa
		}
	}
	var (
		secrets []corev1.Secret
		used    []string
	)
	for _, n := range names {
		s, err := k.secrets.Secrets(w.Namespace).Get(n)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("registryauth: secret %s/%s: %w", w.Namespace, n, err)
		}
		if !slices.Contains(pullSecretTypes, s.Type) {
			continue
		}
		secrets = append(secrets, *s)
		used = append(used, n)
	}
	src := "no pull secret"
	if len(names) > 0 {
		src = from + " " + strings.Join(names, ", ")
		if len(used) < len(names) {
			src += fmt.Sprintf(" (%d of them missing or not of a pull-secret type)", len(names)-len(used))
		}
	}
	src += " in namespace " + w.Namespace + ", then drydock's own credentials"
	if len(secrets) == 0 {
		return Credentials{Keychain: k.fallback, Source: src}, nil
	}
	kc, err := k8sauthn.NewFromPullSecrets(context.Background(), secrets)
	if err != nil {
		return Credentials{}, fmt.Errorf("registryauth: pull secrets %s of namespace %s: %w", strings.Join(used, ", "), w.Namespace, err)
	}
	return Credentials{Keychain: authn.NewMultiKeychain(kc, k.fallback), Source: src}, nil
}

// Identity hashes, with a key made when the process starts, what the
// keychain would send to the registry for repo: two workloads with the same
// identity present the same credentials. "anonymous" when there are none.
// It is safe to log; it reveals nothing about the credentials.
type Identity struct{ key []byte }

// NewIdentity makes a fresh hashing key.
func NewIdentity() *Identity {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails (crypto/rand)
	return &Identity{key: k}
}

// Of returns the identity of kc's credentials for the resource.
func (id *Identity) Of(ctx context.Context, kc authn.Keychain, res authn.Resource) (string, error) {
	if kc == nil {
		return "anonymous", nil
	}
	a, err := authn.Resolve(ctx, kc, res)
	if err != nil {
		return "", fmt.Errorf("registryauth: credentials for %s: %w", res.String(), err)
	}
	if a == authn.Anonymous {
		return "anonymous", nil
	}
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return "", fmt.Errorf("registryauth: credentials for %s: %w", res.String(), err)
	}
	if *cfg == (authn.AuthConfig{}) {
		return "anonymous", nil
	}
	b, _ := json.Marshal(cfg) // strings only
	m := hmac.New(sha256.New, id.key)
	m.Write([]byte(res.RegistryStr()))
	m.Write([]byte{0})
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

type keychainKey struct{}

// WithKeychain returns ctx carrying the keychain of the workload a request
// is for. It is request-scoped data (a review's credentials) that crosses
// interfaces defined without it (admission's Verifier and Resolver), so it
// travels in the context rather than in every signature.
func WithKeychain(ctx context.Context, kc authn.Keychain) context.Context {
	return context.WithValue(ctx, keychainKey{}, kc)
}

// KeychainFrom returns the keychain WithKeychain stored, or nil.
func KeychainFrom(ctx context.Context) authn.Keychain {
	kc, _ := ctx.Value(keychainKey{}).(authn.Keychain)
	return kc
}
