package deploy

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/registryauth"
)

// Resolver turns a tag reference into the digest the registry serves for it
// now.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// RegistryResolver resolves tags with a HEAD request on the manifest (the
// digest of an index for a multi-arch tag, which is what runtimes record
// when they pull by tag). Results, errors included, are cached for the
// resolver's life, so each tag costs one request per run.
type RegistryResolver struct {
	opts     []remote.Option
	insecure bool

	mu    sync.Mutex
	cache map[string]resolved
	ids   *registryauth.Identity
}

type resolved struct {
	digest string
	err    error
}

// NewRegistryResolver uses the default keychain (docker config.json and
// credential helpers) unless opts say otherwise. insecure allows plain HTTP
// to registries other than localhost.
func NewRegistryResolver(insecure bool, opts ...remote.Option) *RegistryResolver {
	return &RegistryResolver{
		opts:     append([]remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...),
		insecure: insecure,
		cache:    map[string]resolved{},
		ids:      registryauth.NewIdentity(),
	}
}

// Resolve returns the digest ref names now, with the workload's
// credentials when ctx carries them (registryauth.WithKeychain); results
// are cached per (reference, credentials identity), so one workload's
// access never answers for another's.
func (r *RegistryResolver) Resolve(ctx context.Context, ref string) (string, error) {
	var nopts []name.Option
	if r.insecure {
		nopts = append(nopts, name.Insecure)
	}
	pr, perr := name.ParseReference(ref, nopts...)
	opts := append([]remote.Option{remote.WithContext(ctx)}, r.opts...)
	key := ref
	if kc := registryauth.KeychainFrom(ctx); kc != nil && perr == nil {
		id, err := r.ids.Of(ctx, kc, pr.Context())
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", ref, err)
		}
		key += "\x00" + id
		opts = append(opts, remote.WithAuthFromKeychain(kc))
	}
	r.mu.Lock()
	if v, ok := r.cache[key]; ok {
		r.mu.Unlock()
		return v.digest, v.err
	}
	r.mu.Unlock()
	var v resolved
	if perr != nil {
		v.err = fmt.Errorf("resolve %s: %w", ref, perr)
	} else if d, err := remote.Head(pr, opts...); err != nil {
		v.err = fmt.Errorf("resolve %s: %w", ref, err)
	} else {
		v.digest = d.Digest.String()
	}
	if ctx.Err() == nil {
		r.mu.Lock()
		r.cache[key] = v
		r.mu.Unlock()
	}
	return v.digest, v.err
}
