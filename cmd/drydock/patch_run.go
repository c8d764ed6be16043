package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/internal/report"
)

// patcher runs `drydock patch` on one image or on each platform of an index.
type patcher struct {
	g       *globals
	sf      scanFlags
	tmp     string
	stderr  io.Writer
	notices io.Writer // warnings and notices: io.Discard under -q
	log     io.Writer
	dryRun  bool
	sel     patch.Selection
	sources []string
	buildah string
	helper  string
}

// patchedImage is one image's plan and, unless it was a plan only or
// there was nothing to patch, its patched image (res).
type patchedImage struct {
	plan   *patch.Plan
	before *report.ScanReport
	out    *patch.Outcome
	res    *patchexec.Result
	iopts  []image.Option
	closer []func()
}

func (p *patchedImage) close() {
	if p.res != nil {
		p.res.Close()
	}
	for _, c := range p.closer {
		c()
	}
}

// one scans src (the platform in sf), plans the patch and executes it
// without writing the result.
func (p *patcher) one(ctx context.Context, src string, sf scanFlags) (*patchedImage, error) {
	pi := &patchedImage{}
	if p.sel.AllUpdates {
		inv, err := loadInventory(ctx, p.g, &sf.source, src)
		if err != nil {
			return nil, err
		}
		pi.before = &report.ScanReport{Inventory: inv}
	} else {
		r, err := runScan(ctx, p.g, &sf, src, p.stderr)
		if err != nil {
			return nil, err
		}
		pi.before = r
	}
	plan, err := patch.Make(pi.before, p.sel)
	if err != nil {
		return nil, err
	}
	pi.plan = plan
	for _, id := range plan.UnknownIDs {
		fmt.Fprintf(p.notices, "warning: %s: no finding of the image carries this id\n", id)
	}
	if p.dryRun && !p.sel.AllUpdates {
		return pi, nil
	}
	switch plan.Manager {
	case patch.ManagerApt:
	case patch.ManagerDpkgStatusD:
		if p.helper == "" {
			return nil, fmt.Errorf("%s is a distroless image (dpkg status.d, no package manager): give --helper-image, a Debian image of the same release whose apt downloads the packages", src)
		}
	default:
		return nil, fmt.Errorf("%s: %s images cannot be patched yet (supported: Debian and Ubuntu images with apt, distroless Debian images)", src, plan.Manager)
	}
	if !p.sel.AllUpdates && len(plan.Items) == 0 {
		fmt.Fprintln(p.notices, "nothing to patch: no selected finding has a fixed OS package")
		return pi, nil
	}
	if pi.iopts, err = sf.source.imageOptions(p.tmp); err != nil {
		return nil, err
	}
	img, err := image.Open(ctx, src, pi.iopts...)
	if err != nil {
		return nil, err
	}
	pi.closer = append(pi.closer, func() { img.Close() })
	fail := func(err error) (*patchedImage, error) {
		pi.close()
		return nil, err
	}
	if img.Image == nil {
		return fail(fmt.Errorf("%s is a root filesystem directory: patch needs an image (registry reference, OCI layout or archive)", src))
	}
	if img.Source.IndexDigest != "" && sf.source.platform == "" {
		return fail(fmt.Errorf("%s is a multi-platform index outside a registry: pass --platform os/arch to patch one platform (the result is then a single-platform image; an index in a registry is patched per platform)", src))
	}
	x := &patchexec.Buildah{Path: p.buildah, WorkDir: p.tmp, Sources: p.sources, Log: p.log}
	original := img.Source.Ref
	if img.Source.Digest != "" {
		original = strings.TrimSuffix(img.Source.Ref, "@"+img.Source.Digest) + "@" + img.Source.Digest
	}
	pi.out = &patch.Outcome{Original: original, Plan: plan, DryRun: p.dryRun}
	var dl *patchexec.Distroless
	if plan.Manager == patch.ManagerDpkgStatusD {
		h, err := image.Open(ctx, p.helper, pi.iopts...)
		if err != nil {
			return fail(fmt.Errorf("--helper-image: %w", err))
		}
		pi.closer = append(pi.closer, func() { h.Close() })
		if h.Image == nil {
			return fail(fmt.Errorf("--helper-image %s: want an image, not a directory", p.helper))
		}
		dl = &patchexec.Distroless{Buildah: x, Helper: h.Image}
	}
	if p.dryRun {
		var ups []patch.Upgrade
		if dl != nil {
			ups, err = dl.Resolve(ctx, plan)
		} else {
			ups, err = x.Resolve(ctx, img.Image, plan)
		}
		if err != nil {
			return fail(err)
		}
		pi.out.Upgrades = ups
		return pi, nil
	}
	slog.Info("patching", "image", original, "packages", len(plan.Items), "mode", plan.Mode)
	if dl != nil {
		pi.res, err = dl.Patch(ctx, img.Image, plan)
	} else {
		pi.res, err = x.Patch(ctx, img.Image, plan)
	}
	if err != nil {
		return fail(err)
	}
	pi.out.Upgrades, pi.out.LayerSize = pi.res.Upgrades, pi.res.LayerSize
	return pi, nil
}

// rescan scans the written result (ref, one image; indexDigest names the
// index it was pushed in, whose digest the verdict then covers too), checks that the targeted findings are gone and no OS package is new, and
// then, with a signer, pushes a signed verdict for it. A rescan that does
// not confirm the patch is an error and nothing is signed.
func (p *patcher) rescan(ctx context.Context, pi *patchedImage, ref, indexDigest string, ev attest.Evaluator, signer *attest.Signer) error {
	sf := p.sf
	sf.source.platform = ""
	var after *report.ScanReport
	if p.sel.AllUpdates && signer == nil {
		// Nothing was selected from the database, and no verdict needs
		// its findings: the inventory says whether a package is new.
		inv, err := loadInventory(ctx, p.g, &sf.source, ref)
		if err != nil {
			return fmt.Errorf("rescan %s: %w", ref, err)
		}
		after = &report.ScanReport{Inventory: inv}
	} else {
		var err error
		if after, err = runScan(ctx, p.g, &sf, ref, p.stderr); err != nil {
			return fmt.Errorf("rescan %s: %w", ref, err)
		}
	}
	rs, err := patch.CheckRescan(pi.plan, pi.before, after)
	if err != nil {
		return err
	}
	pi.out.Rescan = rs
	if err := rs.Err(); err != nil {
		return fmt.Errorf("%s: %w (no verdict signed)", ref, err)
	}
	if signer == nil {
		return nil
	}
	if indexDigest != "" {
		after.Inventory.Source.IndexDigest = indexDigest
	}
	pred, subjects, pushed, err := loop.SignAndPush(ctx, after, ev, ref, loop.SignOptions{
		Signer: signer, Insecure: p.sf.source.insecure, Tool: attest.Scanner{Name: "drydock", Version: version},
	})
	if err != nil {
		return fmt.Errorf("sign the verdict for %s: %w", ref, err)
	}
	for i := range pushed {
		pi.out.Verdicts = append(pi.out.Verdicts, patch.Verdict{Subject: subjects[i].String(), Result: pred.Outcome(), Ref: pushed[i]})
		slog.Info("signed", "image", subjects[i].String(), "verdict", pushed[i], "result", pred.Outcome())
	}
	return nil
}

// index patches every platform image of idx, and pushes a new index with
// the same platforms only when all of them were patched (a platform with
// nothing to patch keeps its image). The error names the platform.
func (p *patcher) index(ctx context.Context, src string, idx v1.ImageIndex, tag, format, output string, ev attest.Evaluator, signer *attest.Signer) error {
	plats, err := patchexec.Platforms(idx)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	od, err := idx.Digest()
	if err != nil {
		return err
	}
	res := &patch.IndexOutcome{Original: src, DryRun: p.dryRun}
	patched := map[v1.Hash]v1.Image{}
	var all []*patchedImage
	defer func() {
		for _, pi := range all {
			pi.close()
		}
	}()
	changed := false
	repo := ""
	if kind, ref := image.Classify(src); kind == image.KindRegistry {
		if r, err := image.ParseReference(ref, p.sf.source.insecure); err == nil {
			repo = r.Context().String()
		}
	}
	if repo == "" {
		return fmt.Errorf("%s: only an index in a registry is patched per platform: pass --platform", src)
	}
	res.Original = repo + "@" + od.String()
	for _, d := range plats {
		// Each platform image by its digest: a platform string such as
		// linux/amd64 would also match linux/amd64/v3.
		pi, err := p.one(ctx, repo+"@"+d.Digest.String(), p.sf)
		if err != nil {
			return fmt.Errorf("platform %s: %w (nothing pushed)", d.Platform, err)
		}
		all = append(all, pi)
		po := patch.PlatformOutcome{Platform: d.Platform.String(), Plan: pi.plan, Outcome: pi.out}
		res.Platforms = append(res.Platforms, po)
		if pi.res != nil {
			patched[d.Digest] = pi.res.Image
			changed = true
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("platform %s: %w", d.Platform, err)
		}
		patched[d.Digest] = img
	}
	write := func() error {
		return writeOutput(output, func(w io.Writer) error { return patch.WriteIndexOutcome(w, res, format) })
	}
	if p.dryRun || !changed {
		return write()
	}
	out, err := patchexec.AssembleIndex(idx, patched)
	if err != nil {
		return err
	}
	iopts, err := p.sf.source.imageOptions(p.tmp)
	if err != nil {
		return err
	}
	ref, err := patchexec.WriteIndex(ctx, out, tag, p.sf.source.insecure, iopts...)
	if err != nil {
		return err
	}
	res.Image = ref
	slog.Info("patched index", "image", ref, "platforms", len(plats))
	nd, err := out.Digest()
	if err != nil {
		return err
	}
	for i, pi := range all {
		if pi.res == nil {
			continue
		}
		pd, err := pi.res.Image.Digest()
		if err != nil {
			return err
		}
		pref := strings.TrimSuffix(ref, "@"+nd.String()) + "@" + pd.String()
		if err := p.rescan(ctx, pi, pref, nd.String(), ev, signer); err != nil {
			_ = write()
			return fmt.Errorf("platform %s: %w", res.Platforms[i].Platform, err)
		}
	}
	return write()
}
