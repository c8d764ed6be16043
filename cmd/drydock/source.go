package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drydock/drydock/internal/extract/extractors"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/layerfs"
	"github.com/drydock/drydock/internal/outfile"
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
	// resolveBase allows looking the base named by the image's own
	// annotations up wherever it says.
	resolveBase bool
}

func (f *sourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.platform, "platform", "", "platform to pick from a multi-arch image, os/arch[/variant] (default linux/<host arch>)")
	fl.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP to the registry (localhost is always allowed)")
	fl.StringVar(&f.base, "base", "", "base image reference; its layers are marked as base (overrides the image's base annotations)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not read or write the per-layer cache")
	fl.StringSliceVar(&f.extractors, "extractors", nil, "extractors to run (default: all)")
	fl.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (only on a terminal), always, never")
	fl.BoolVar(&f.resolveBase, "resolve-base", false, "look up the base named by the image's org.opencontainers.image.base.name annotation wherever it points (default: only in the OCI layout, archive or registry being scanned, by base.digest)")
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
	sopts = append(sopts, scanner.WithBaseResolver(baseResolver(img, f.resolveBase, iopts)))
	if !g.quiet && showProgress(f.progress) {
		p := &progressLine{w: os.Stderr}
		defer p.finish()
		sopts = append(sopts, scanner.WithProgress(p.update))
	}
	return scanner.Scan(ctx, img, sopts...)
}

// baseResolver follows an image's base annotations. The annotations are the
// image author's to write, so by default they never make drydock contact a
// host the user did not name: the base is looked up by its base.digest
// only in the OCI layout or archive being scanned, or in the registry the image itself
// was read from. --resolve-base allows any reference the annotation names.
func baseResolver(img *image.Image, resolveAnywhere bool, iopts []image.Option) scanner.BaseResolver {
	return func(ctx context.Context, name, digest string) (*scanner.Base, error) {
		if local := localSource(img); local != "" && digest != "" {
			b, err := openBase(ctx, local+"@"+digest, "", "annotation", iopts)
			if err == nil {
				b.Name, b.Digest = name, digest
				return b, nil
			}
			if !resolveAnywhere {
				return nil, fmt.Errorf("base %s is not in %s (pass --resolve-base to look it up at %s)", digest, strings.TrimPrefix(strings.TrimPrefix(local, "oci:"), "oci-archive:"), name)
			}
		}
		if resolveAnywhere {
			return openBase(ctx, "registry:"+name, digest, "annotation", iopts)
		}
		if img.Source.Kind == image.KindRegistry && digest != "" && image.SameRegistry(img.Source.Ref, name) {
			return openBase(ctx, "registry:"+name, digest, "annotation", iopts)
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

// openBase reads a base image's layer chain; a digest pins it. A name with
// the "registry:" prefix is only ever a registry reference, never a path.
func openBase(ctx context.Context, name, digest, method string, iopts []image.Option) (*scanner.Base, error) {
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

// writeOutput writes to stdout when path is empty or "-", else through
// outfile: atomically for files, in place for /dev/null, FIFOs and
// /dev/stdout, so a failed run never leaves a half-written report and a
// device is never replaced.
func writeOutput(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(os.Stdout)
	}
	return outfile.Write(path, 0o644, write)
}

// stdoutIsTerminal decides the default output format.
func stdoutIsTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }
