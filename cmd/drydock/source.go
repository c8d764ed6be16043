package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drydock/drydock/internal/extract/extractors"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
	"github.com/drydock/drydock/internal/sbomread"
	"github.com/drydock/drydock/internal/scanner"
)

// sourceFlags are the flags of every command that reads an image.
type sourceFlags struct {
	platform   string
	insecure   bool
	base       string
	noCache    bool
	extractors []string
	progress   string
}

func (f *sourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "platform to pick from a multi-arch image, os/arch[/variant] (default linux/<host arch>)")
	fl.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP to the registry (localhost is always allowed)")
	fl.StringVar(&f.base, "base", "", "base image reference; its layers are marked as base (overrides the image's base annotations)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the per-layer cache")
	fl.StringSliceVar(&f.extractors, "extractors", nil, "extractors to run (default: all)")
	fl.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (only on a terminal), always, never")
}

func (f *sourceFlags) imageOptions(tmp string) ([]image.Option, error) {
	opts := []image.Option{image.WithInsecure(f.insecure), image.WithTempDir(tmp), image.WithUserAgent("drydock/" + version)}
	if f.platform != "" {
		p, err := image.ParsePlatform(f.platform)
		if err != nil {
			return nil, err
		}
		opts = append(opts, image.WithPlatform(p))
	}
	return opts, nil
}

// loadInventory opens src and scans it into an inventory. A JSON file is
// an SBOM (drydock's inventory, CycloneDX or SPDX from another tool), read
// as it is.
func loadInventory(ctx context.Context, g *globals, f *sourceFlags, src string) (*inventory.Inventory, error) {
	if fi, err := os.Stat(src); err == nil && fi.Mode().IsRegular() && sbomread.LooksLikeJSON(src) {
		inv, _, err := sbomread.ReadFile(src)
		return inv, err
	}
	tmp, cleanup, err := g.tempDir()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	iopts, err := f.imageOptions(tmp)
	if err != nil {
		return nil, err
	}
	img, err := image.Open(ctx, src, iopts...)
	if err != nil {
		return nil, err
	}
	defer img.Close()

	sopts := []scanner.Option{scanner.WithTempDir(tmp), scanner.WithTool("drydock " + version)}
	if len(f.extractors) > 0 {
		exts, err := extractors.ByName(f.extractors...)
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, scanner.WithExtractors(exts))
	}
	if !f.noCache {
		c, err := layerfs.OpenCache(filepath.Join(g.cacheDir, "layers"))
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, scanner.WithCache(c))
	}
	if f.base != "" {
		b, err := openBase(ctx, f.base, "", "flag", iopts)
		if err != nil {
			return nil, fmt.Errorf("--base: %w", err)
		}
		sopts = append(sopts, scanner.WithBase(b))
	}
	sopts = append(sopts, scanner.WithBaseResolver(func(ctx context.Context, name, digest string) (*scanner.Base, error) {
		if img.LayoutDir != "" && digest != "" {
			if b, err := openBase(ctx, "oci:"+img.LayoutDir+"@"+digest, "", "annotation", iopts); err == nil {
				b.Name, b.Digest = name, digest
				return b, nil
			}
		}
		return openBase(ctx, name, digest, "annotation", iopts)
	}))
	if !g.quiet && showProgress(f.progress) {
		p := &progressLine{w: os.Stderr}
		defer p.finish()
		sopts = append(sopts, scanner.WithProgress(p.update))
	}
	return scanner.Scan(ctx, img, sopts...)
}

// openBase reads a base image's layer chain; a digest pins it.
func openBase(ctx context.Context, name, digest, method string, iopts []image.Option) (*scanner.Base, error) {
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

func showProgress(mode string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	return term.IsTerminal(int(os.Stderr.Fd()))
}

type progressLine struct {
	w       io.Writer
	printed bool
}

func (p *progressLine) update(e scanner.Progress) {
	fmt.Fprintf(p.w, "\rlayers: %d/%d analysed (%d from cache)", e.Done, e.Total, e.Cached)
	p.printed = true
}

func (p *progressLine) finish() {
	if p.printed {
		fmt.Fprintln(p.w)
	}
}

// writeOutput writes to path atomically (temp file + rename), or to stdout
// when path is empty, so a failed run never leaves a half-written report.
func writeOutput(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(os.Stdout)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	werr := write(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// stdoutIsTerminal decides the default output format.
func stdoutIsTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }
