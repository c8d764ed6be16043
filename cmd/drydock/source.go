package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/loop"
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

// loadInventory opens src and scans it into an inventory (internal/loop,
// shared with the server).
func loadInventory(ctx context.Context, g *globals, f *sourceFlags, src string) (*inventory.Inventory, error) {
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
		CacheDir:   g.cacheDir,
		NoCache:    f.noCache,
		TempDir:    tmp,
		Image:      iopts,
		Extractors: f.extractors,
		Base:       f.base,
		Tool:       "drydock " + version,
	}
	if showProgress(f.progress) {
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
