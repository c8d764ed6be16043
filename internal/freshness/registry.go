package freshness

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Annotations naming an image's base (OCI image spec).
const (
	annotationBaseName   = "org.opencontainers.image.base.name"
	annotationBaseDigest = "org.opencontainers.image.base.digest"
)

// ErrNotFound means a tag does not exist in the registry.
var ErrNotFound = errors.New("not found")

// ImageInfo is what the planner needs to know about one tag.
type ImageInfo struct {
	// Repository is the repository ("registry.example.com/team/app").
	Repository string
	// TagDigest is what the tag points at (an index or a manifest).
	TagDigest string
	// Digest is the platform's image manifest digest (= TagDigest for
	// single-platform images).
	Digest      string
	Annotations map[string]string
	// DiffIDs are the uncompressed layer digests, bottom first.
	DiffIDs []string
}

// Ref is the image's digest reference.
func (i *ImageInfo) Ref() string { return i.Repository + "@" + i.Digest }

// Registry resolves tags. RemoteRegistry is the real one.
type Registry interface {
	Resolve(ctx context.Context, ref string) (*ImageInfo, error)
}

// RemoteRegistry resolves tags with go-containerregistry.
type RemoteRegistry struct {
	Config   *Config
	Platform v1.Platform
	// Options are extra remote options (auth, transport); the context and
	// platform are added per call.
	Options []remote.Option
}

// Resolve fetches the tag's manifest (and the platform's image from an
// index) and its config.
func (r *RemoteRegistry) Resolve(ctx context.Context, ref string) (*ImageInfo, error) {
	tag, err := name.ParseReference(ref, r.Config.NameOptions(ref)...)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	opts := append(append([]remote.Option{}, r.Options...), remote.WithContext(ctx), remote.WithPlatform(r.Platform))
	desc, err := remote.Get(tag, opts...)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
		}
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	info := &ImageInfo{Repository: tag.Context().Name(), TagDigest: desc.Digest.String(), Annotations: map[string]string{}}
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", ref, err)
		}
		for k, v := range im.Annotations {
			info.Annotations[k] = v
		}
		img, err = desc.Image() // picks the platform
		if err != nil {
			return nil, fmt.Errorf("resolve %s for %s: %w", ref, r.Platform, err)
		}
	} else {
		img, err = desc.Image()
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", ref, err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	info.Digest = d.String()
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", ref, err)
	}
	for k, v := range m.Annotations {
		info.Annotations[k] = v
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("resolve %s: config: %w", ref, err)
	}
	for _, id := range cf.RootFS.DiffIDs {
		info.DiffIDs = append(info.DiffIDs, id.String())
	}
	return info, nil
}

// builtOn reports whether img's layers start with base's layers.
func builtOn(img, base *ImageInfo) bool {
	if len(base.DiffIDs) == 0 || len(base.DiffIDs) > len(img.DiffIDs) {
		return false
	}
	for i, d := range base.DiffIDs {
		if img.DiffIDs[i] != d {
			return false
		}
	}
	return true
}

// digestRef joins a repository and a digest.
func digestRef(repo, digest string) string {
	if digest == "" {
		return ""
	}
	return repo + "@" + digest
}
