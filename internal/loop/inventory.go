// Package loop holds the orchestration that drydock rebuild, watch and
// server share: reading an image into an inventory, the rebuild → scan →
// sign → deploy sequence wired onto internal/freshness, signing verdicts,
// and serving watch's event endpoint. It calls scanner, attest, rebuild and
// deploy; none of them calls it.
package loop

import (
	"context"
	"fmt"
	"path/filepath"

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
	sopts = append(sopts, scanner.WithBaseResolver(func(ctx context.Context, name, digest string) (*scanner.Base, error) {
		if img.LayoutDir != "" && digest != "" {
			if b, err := OpenBase(ctx, "oci:"+img.LayoutDir+"@"+digest, "", "annotation", iopts); err == nil {
				b.Name, b.Digest = name, digest
				return b, nil
			}
		}
		return OpenBase(ctx, name, digest, "annotation", iopts)
	}))
	if o.Progress != nil {
		sopts = append(sopts, scanner.WithProgress(o.Progress))
	}
	return scanner.Scan(ctx, img, sopts...)
}

// OpenBase reads a base image's layer chain; a digest pins it.
func OpenBase(ctx context.Context, name, digest, method string, iopts []image.Option) (*scanner.Base, error) {
	ref := name
	if digest != "" {
		if name == "" {
			return nil, fmt.Errorf("base digest %s given without a base name", digest)
		}
		r, err := image.ParseReference(name, false)
		if err != nil {
			return nil, err
		}
		ref = r.Context().Name() + "@" + digest
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
