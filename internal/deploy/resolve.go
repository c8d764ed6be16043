package deploy

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
	}
}

// Resolve returns the digest ref names now.
func (r *RegistryResolver) Resolve(ctx context.Context, ref string) (string, error) {
	r.mu.Lock()
	if v, ok := r.cache[ref]; ok {
		r.mu.Unlock()
		return v.digest, v.err
	}
	r.mu.Unlock()
	var nopts []name.Option
	if r.insecure {
		nopts = append(nopts, name.Insecure)
	}
	var v resolved
	pr, err := name.ParseReference(ref, nopts...)
	if err != nil {
		v.err = fmt.Errorf("resolve %s: %w", ref, err)
	} else if d, err := remote.Head(pr, append([]remote.Option{remote.WithContext(ctx)}, r.opts...)...); err != nil {
		v.err = fmt.Errorf("resolve %s: %w", ref, err)
	} else {
		v.digest = d.Digest.String()
	}
	if ctx.Err() == nil {
		r.mu.Lock()
		r.cache[ref] = v
		r.mu.Unlock()
	}
	return v.digest, v.err
}
