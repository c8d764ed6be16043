// Package loop holds the orchestration that drydock rebuild, watch and
// server share: reading an image into an inventory, the rebuild → scan →
// sign → deploy sequence wired onto internal/freshness, signing verdicts,
// serving watch's event endpoint, and drydock patch's scan → plan → patch →
// push → rescan → sign sequence. It calls scanner, attest, patchexec,
// rebuild and deploy; none of them calls it.
package loop

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/drydock/drydock/internal/extract/extractors"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
	"github.com/drydock/drydock/internal/scanner"
)

// InventoryOptions say how an image is read into an inventory.
type InventoryOptions struct {
	// CacheDir is drydock's cache directory; the per-layer cache lives in
	// its "layers" subdirectory unless NoCache is set.
	CacheDir string
	NoCache  bool
	// TempDir is the scratch directory (inside drydock's own directories).
	TempDir string
	// Image are the options image.Open gets (platform, insecure, user agent).
	Image []image.Option
	// Extractors names the extractors to run (default: all).
	Extractors []string
	// Base names the base image explicitly (the --base flag).
	Base string
	// ResolveBase lets the image's base annotation name any registry to
	// look the base up in (--resolve-base); otherwise only the source being
	// scanned, or the registry the image came from, is asked.
	ResolveBase bool
	// Progress, when set, receives a call after each layer.
	Progress func(scanner.Progress)
	// Tool is recorded in the inventory ("drydock <version>").
	Tool string
}

// Inventory opens src and scans it into an inventory, reusing the per-layer
// cache and following the image's base annotations.
func Inventory(ctx context.Context, src string, o InventoryOptions) (*inventory.Inventory, error) {
	iopts := append(append([]image.Option{}, o.Image...), image.WithTempDir(o.TempDir))
	img, err := image.Open(ctx, src, iopts...)
	if err != nil {
		return nil, err
	}
	defer img.Close()

	sopts := []scanner.Option{scanner.WithTempDir(o.TempDir), scanner.WithTool(o.Tool)}
	if len(o.Extractors) > 0 {
		exts, err := extractors.ByName(o.Extractors...)
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, scanner.WithExtractors(exts))
	}
	if !o.NoCache {
		c, err := layerfs.OpenCache(filepath.Join(o.CacheDir, "layers"))
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, scanner.WithCache(c))
	}
	if o.Base != "" {
		b, err := OpenBase(ctx, o.Base, "", "flag", iopts)
		if err != nil {
			return nil, fmt.Errorf("--base: %w", err)
		}
		sopts = append(sopts, scanner.WithBase(b))
	}
	sopts = append(sopts, scanner.WithBaseResolver(baseResolver(img, o.ResolveBase, iopts)))
	if o.Progress != nil {
		sopts = append(sopts, scanner.WithProgress(o.Progress))
	}
	return scanner.Scan(ctx, img, sopts...)
}

// baseResolver follows an image's base annotations. The annotations are the
// image author's to write, so by default they never make drydock contact a
// host the user did not name: the base is looked up by its base.digest
// only in the OCI layout or archive being scanned, or in the registry the
// image itself was read from. resolveAnywhere allows any reference the
// annotation names.
func baseResolver(img *image.Image, resolveAnywhere bool, iopts []image.Option) scanner.BaseResolver {
	return func(ctx context.Context, name, digest string) (*scanner.Base, error) {
		if local := localSource(img); local != "" && digest != "" {
			b, err := OpenBase(ctx, local+"@"+digest, "", "annotation", iopts)
			if err == nil {
				b.Name, b.Digest = name, digest
				return b, nil
			}
			if !resolveAnywhere {
				return nil, fmt.Errorf("base %s is not in %s (pass --resolve-base to look it up at %s)", digest, strings.TrimPrefix(strings.TrimPrefix(local, "oci:"), "oci-archive:"), name)
			}
		}
		if resolveAnywhere {
			return OpenBase(ctx, "registry:"+name, digest, "annotation", iopts)
		}
		if img.Source.Kind == image.KindRegistry && digest != "" && image.SameRegistry(img.Source.Ref, name) {
			return OpenBase(ctx, "registry:"+name, digest, "annotation", iopts)
		}
		return nil, fmt.Errorf("not looked up: the image's annotation names %q, outside the source being scanned (pass --resolve-base to contact it)", name)
	}
}

// localSource is the layout or OCI archive the image came from, as a
// source prefix, or "".
func localSource(img *image.Image) string {
	switch {
	case img.LayoutDir != "":
		return "oci:" + img.LayoutDir
	case img.OCIArchive != "":
		return "oci-archive:" + img.OCIArchive
	}
	return ""
}

// OpenBase reads a base image's layer chain; a digest pins it. A name with
// the "registry:" prefix is only ever a registry reference, never a path.
func OpenBase(ctx context.Context, name, digest, method string, iopts []image.Option) (*scanner.Base, error) {
	prefix := ""
	if strings.HasPrefix(name, "registry:") {
		prefix, name = "registry:", strings.TrimPrefix(name, "registry:")
	}
	ref := prefix + name
	if digest != "" {
		if name == "" {
			return nil, fmt.Errorf("base digest %s given without a base name", digest)
		}
		r, err := image.ParseReference(name, false)
		if err != nil {
			return nil, err
		}
		ref = prefix + r.Context().Name() + "@" + digest
	}
	b, err := image.Open(ctx, ref, iopts...)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if b.Image == nil {
		return nil, fmt.Errorf("base %s is a directory, not an image", ref)
	}
	cf, err := b.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read base config: %w", err)
	}
	return &scanner.Base{Name: name, Digest: b.Source.Digest, DiffIDs: cf.RootFS.DiffIDs, Method: method}, nil
}
