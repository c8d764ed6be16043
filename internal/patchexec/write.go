package patchexec

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/image"
)

// Write pushes img to target, a registry reference, or with the prefix
// "oci:" appends it to an OCI layout directory ("oci:DIR" or
// "oci:DIR:TAG", the tag recorded as org.opencontainers.image.ref.name).
// It returns the digest reference of what was written.
func Write(ctx context.Context, img v1.Image, target string, insecure bool, opts ...image.Option) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("digest of the patched image: %w", err)
	}
	return write(ctx, d, target, insecure,
		func(p layout.Path, lopts ...layout.Option) error { return p.AppendImage(img, lopts...) },
		func(ref name.Reference, ropts ...remote.Option) error { return remote.Write(ref, img, ropts...) },
		opts...)
}

// write is Write and WriteIndex once the artefact is known: appendTo adds
// it to a layout, push sends it to a registry.
func write(ctx context.Context, d v1.Hash, target string, insecure bool,
	appendTo func(layout.Path, ...layout.Option) error, push func(name.Reference, ...remote.Option) error,
	opts ...image.Option) (string, error) {
	if dir, ok := strings.CutPrefix(target, "oci:"); ok {
		tag := ""
		if i := strings.LastIndex(dir, ":"); i > 0 && !strings.Contains(dir[i+1:], "/") {
			dir, tag = dir[:i], dir[i+1:]
		}
		if dir == "" {
			return "", fmt.Errorf("--tag %q: want oci:DIR or oci:DIR:TAG", target)
		}
		p, err := layout.FromPath(dir)
		if err != nil {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("write OCI layout %s: %w", dir, err)
			}
			if p, err = layout.Write(dir, empty.Index); err != nil {
				return "", fmt.Errorf("write OCI layout %s: %w", dir, err)
			}
		}
		var lopts []layout.Option
		if tag != "" {
			lopts = append(lopts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag}))
		}
		if err := appendTo(p, lopts...); err != nil {
			return "", fmt.Errorf("write OCI layout %s: %w", dir, err)
		}
		return "oci:" + dir + "@" + d.String(), nil
	}
	ref, err := image.ParseReference(target, insecure)
	if err != nil {
		return "", fmt.Errorf("--tag: %w", err)
	}
	if err := push(ref, image.RemoteOptions(ctx, append([]image.Option{image.WithInsecure(insecure)}, opts...)...)...); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	return ref.Context().Digest(d.String()).String(), nil
}
