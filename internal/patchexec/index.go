package patchexec

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/image"
)

// RemoteIndex returns the image index ref names in a registry, or nil when
// ref names a single image.
func RemoteIndex(ctx context.Context, ref string, insecure bool, opts ...image.Option) (v1.ImageIndex, error) {
	r, err := image.ParseReference(ref, insecure)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, image.RemoteOptions(ctx, append([]image.Option{image.WithInsecure(insecure)}, opts...)...)...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r, err)
	}
	if !desc.MediaType.IsIndex() {
		return nil, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", r, err)
	}
	return idx, nil
}

// Platforms lists the platform images of an index, in its order. Entries
// that are not platform images (the "unknown/unknown" attestation manifests
// of build tools) are skipped: they describe the original images, not the
// patched ones. A nested index or an image entry without a platform is an
// error, so nothing is patched halfway.
func Platforms(idx v1.ImageIndex) ([]v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index manifest: %w", err)
	}
	var out []v1.Descriptor
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue
		}
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("index entry %s is a %s, not a platform image: patch each image with --platform", d.Digest, d.MediaType)
		}
		if d.Platform == nil {
			return nil, fmt.Errorf("index entry %s has no platform", d.Digest)
		}
		p := d.Platform.String()
		if seen[p] {
			return nil, fmt.Errorf("the index lists platform %s twice", p)
		}
		seen[p] = true
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the index lists no platform image")
	}
	return out, nil
}

// AssembleIndex is the original index with each platform image replaced by
// its patch (keyed by the original's digest), the same platforms, entry
// annotations and index media type, and the original index's digest
// recorded as AnnotationOriginal. Every platform must have a patch.
func AssembleIndex(orig v1.ImageIndex, patched map[v1.Hash]v1.Image) (v1.ImageIndex, error) {
	im, err := orig.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index manifest: %w", err)
	}
	od, err := orig.Digest()
	if err != nil {
		return nil, err
	}
	plats, err := Platforms(orig)
	if err != nil {
		return nil, err
	}
	mt := im.MediaType
	if mt == "" {
		mt = types.OCIImageIndex
	}
	out := mutate.IndexMediaType(empty.Index, mt)
	var adds []mutate.IndexAddendum
	for _, d := range plats {
		img, ok := patched[d.Digest]
		if !ok {
			return nil, fmt.Errorf("platform %s has no patched image", d.Platform)
		}
		nd := v1.Descriptor{Platform: d.Platform, Annotations: d.Annotations}
		if mt, err := img.MediaType(); err == nil {
			nd.MediaType = mt
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: nd})
	}
	out = mutate.AppendManifests(out, adds...)
	ann := map[string]string{}
	for k, v := range im.Annotations {
		ann[k] = v
	}
	ann[AnnotationOriginal] = od.String()
	return mutate.Annotations(out, ann).(v1.ImageIndex), nil
}

// WriteIndex pushes idx to target, or appends it to an OCI layout ("oci:DIR"
// or "oci:DIR:TAG"), and returns the digest reference written.
func WriteIndex(ctx context.Context, idx v1.ImageIndex, target string, insecure bool, opts ...image.Option) (string, error) {
	d, err := idx.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of the patched index: %w", err)
	}
	return write(ctx, d, target, insecure,
		func(p layout.Path, lopts ...layout.Option) error { return p.AppendIndex(idx, lopts...) },
		func(ref name.Reference, ropts ...remote.Option) error { return remote.WriteIndex(ref, idx, ropts...) },
		opts...)
}
