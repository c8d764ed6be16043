package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/loop"
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
	o := loop.InventoryOptions{
		CacheDir:    g.cacheDir,
		NoCache:     f.noCache,
		TempDir:     tmp,
		Image:       iopts,
		Extractors:  f.extractors,
		Base:        f.base,
		ResolveBase: f.resolveBase,
		Tool:        "drydock " + version,
	}
	if !g.quiet && showProgress(f.progress) {
		p := &progressLine{w: os.Stderr}
		defer p.finish()
		o.Progress = p.update
	}
	return loop.Inventory(ctx, src, o)
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
