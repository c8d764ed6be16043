package loop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/internal/report"
)

// PatchOptions say how Patch runs `drydock patch`. What depends on the
// command's flags and globals (the scan with its database and
// suppressions, reading an inventory, the image options) comes in as
// functions, so the command stays flags-to-calls.
type PatchOptions struct {
	// Scan scans ref into a report; platform is the platform to pick from
	// an index ("" once the ref names one image's digest).
	Scan func(ctx context.Context, ref, platform string) (*report.ScanReport, error)
	// Inventory reads ref into an inventory (--all-updates needs no
	// findings); platform as for Scan.
	Inventory func(ctx context.Context, ref, platform string) (*inventory.Inventory, error)
	// ImageOptions are the options image.Open gets (platform, insecure,
	// user agent, temp dir). A function, so a bad --platform fails only
	// when an image is opened, as it always did.
	ImageOptions func() ([]image.Option, error)
	// Platform is the --platform flag: with it an index is narrowed to one
	// platform; without it an index in a registry is patched per platform.
	Platform string
	Insecure bool
	// TempDir is the scratch directory (buildah's storage and work).
	TempDir string
	// Notices receives warnings and notices (io.Discard under -q); Log,
	// when set, buildah's output.
	Notices io.Writer
	Log     io.Writer
	// Tag is where the patched image (or index) is pushed; DryRun plans
	// and resolves only.
	Tag       string
	DryRun    bool
	Selection patch.Selection
	// Sources are extra apt source lines, Buildah the buildah binary,
	// Helper the Debian image that downloads packages for a distroless one.
	Sources []string
	Buildah string
	Helper  string
	// Evaluator and Signer, when Signer is set, sign a verdict for the
	// patched image after the rescan confirms it; Tool names the scanner
	// in it.
	Evaluator attest.Evaluator
	Signer    *attest.Signer
	Tool      attest.Scanner
}

// PatchResult is what Patch reports: exactly one of Plan (a plan only, or
// nothing to patch), Outcome (one image) and Index (an index patched per
// platform) is set.
type PatchResult struct {
	Plan    *patch.Plan
	Outcome *patch.Outcome
	Index   *patch.IndexOutcome
}

// Write renders the result in format (table or json).
func (r *PatchResult) Write(w io.Writer, format string) error {
	switch {
	case r.Index != nil:
		return patch.WriteIndexOutcome(w, r.Index, format)
	case r.Outcome != nil:
		return patch.WriteOutcome(w, r.Outcome, format)
	default:
		return patch.Write(w, r.Plan, format)
	}
}

// Patch runs `drydock patch` on src: one image, or each platform of an
// index in a registry. The result is non-nil with a nil error, and also
// with an error when a rescan did not confirm what was pushed (the result
// then says what it found); any other error returns no result.
func Patch(ctx context.Context, src string, o PatchOptions) (*PatchResult, error) {
	p := &patcher{o: o}
	var idx v1.ImageIndex
	if o.Platform == "" {
		if kind, ref := image.Classify(src); kind == image.KindRegistry {
			var err error
			if idx, err = patchexec.RemoteIndex(ctx, ref, o.Insecure); err != nil {
				return nil, err
			}
		}
	}
	if idx != nil {
		return p.index(ctx, src, idx)
	}
	one, err := p.one(ctx, src, o.Platform)
	if err != nil {
		return nil, err
	}
	defer one.close()
	if one.out == nil {
		return &PatchResult{Plan: one.plan}, nil
	}
	res := &PatchResult{Outcome: one.out}
	if one.res == nil { // a plan only, or nothing to patch
		return res, nil
	}
	ref, err := patchexec.Write(ctx, one.res.Image, o.Tag, o.Insecure, one.iopts...)
	if err != nil {
		return nil, err
	}
	slog.Info("patched", "image", ref, "upgrades", len(one.res.Upgrades), "layer_bytes", one.res.LayerSize)
	one.out.Image = ref
	if err := p.rescan(ctx, one, ref, ""); err != nil {
		return res, err
	}
	return res, nil
}

// patcher runs Patch on one image or on each platform of an index.
type patcher struct {
	o PatchOptions
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

// one scans src (on platform), plans the patch and executes it without
// writing the result.
func (p *patcher) one(ctx context.Context, src, platform string) (*patchedImage, error) {
	pi := &patchedImage{}
	if p.o.Selection.AllUpdates {
		inv, err := p.o.Inventory(ctx, src, platform)
		if err != nil {
			return nil, err
		}
		pi.before = &report.ScanReport{Inventory: inv}
	} else {
		r, err := p.o.Scan(ctx, src, platform)
		if err != nil {
			return nil, err
		}
		pi.before = r
	}
	plan, err := patch.Make(pi.before, p.o.Selection)
	if err != nil {
		return nil, err
	}
	pi.plan = plan
	for _, id := range plan.UnknownIDs {
		fmt.Fprintf(p.o.Notices, "warning: %s: no finding of the image carries this id\n", id)
	}
	if p.o.DryRun && !p.o.Selection.AllUpdates {
		return pi, nil
	}
	switch plan.Manager {
	case patch.ManagerApt:
	case patch.ManagerDpkgStatusD:
		if p.o.Helper == "" {
			return nil, fmt.Errorf("%s is a distroless image (dpkg status.d, no package manager): give --helper-image, a Debian image of the same release whose apt downloads the packages", src)
		}
	default:
		return nil, fmt.Errorf("%s: %s images cannot be patched yet (supported: Debian and Ubuntu images with apt, distroless Debian images)", src, plan.Manager)
	}
	if !p.o.Selection.AllUpdates && len(plan.Items) == 0 {
		fmt.Fprintln(p.o.Notices, "nothing to patch: no selected finding has a fixed OS package")
		return pi, nil
	}
	if pi.iopts, err = p.o.ImageOptions(); err != nil {
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
	if img.Source.IndexDigest != "" && p.o.Platform == "" {
		return fail(fmt.Errorf("%s is a multi-platform index outside a registry: pass --platform os/arch to patch one platform (the result is then a single-platform image; an index in a registry is patched per platform)", src))
	}
	x := &patchexec.Buildah{Path: p.o.Buildah, WorkDir: p.o.TempDir, Sources: p.o.Sources, Log: p.o.Log}
	original := img.Source.Ref
	if img.Source.Digest != "" {
		original = strings.TrimSuffix(img.Source.Ref, "@"+img.Source.Digest) + "@" + img.Source.Digest
	}
	pi.out = &patch.Outcome{Original: original, Plan: plan, DryRun: p.o.DryRun}
	var dl *patchexec.Distroless
	if plan.Manager == patch.ManagerDpkgStatusD {
		h, err := image.Open(ctx, p.o.Helper, pi.iopts...)
		if err != nil {
			return fail(fmt.Errorf("--helper-image: %w", err))
		}
		pi.closer = append(pi.closer, func() { h.Close() })
		if h.Image == nil {
			return fail(fmt.Errorf("--helper-image %s: want an image, not a directory", p.o.Helper))
		}
		dl = &patchexec.Distroless{Buildah: x, Helper: h.Image}
	}
	if p.o.DryRun {
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
// index it was pushed in, whose digest the verdict then covers too),
// checks that the targeted findings are gone and no OS package is new,
// and then, with a signer, pushes a signed verdict for it. A rescan that
// does not confirm the patch is an error and nothing is signed.
func (p *patcher) rescan(ctx context.Context, pi *patchedImage, ref, indexDigest string) error {
	var after *report.ScanReport
	if p.o.Selection.AllUpdates && p.o.Signer == nil {
		// Nothing was selected from the database, and no verdict needs
		// its findings: the inventory says whether a package is new.
		inv, err := p.o.Inventory(ctx, ref, "")
		if err != nil {
			return fmt.Errorf("rescan %s: %w", ref, err)
		}
		after = &report.ScanReport{Inventory: inv}
	} else {
		var err error
		if after, err = p.o.Scan(ctx, ref, ""); err != nil {
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
	if p.o.Signer == nil {
		return nil
	}
	if indexDigest != "" {
		after.Inventory.Source.IndexDigest = indexDigest
	}
	pred, subjects, pushed, err := SignAndPush(ctx, after, p.o.Evaluator, ref, SignOptions{
		Signer: p.o.Signer, Insecure: p.o.Insecure, Tool: p.o.Tool,
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
func (p *patcher) index(ctx context.Context, src string, idx v1.ImageIndex) (*PatchResult, error) {
	plats, err := patchexec.Platforms(idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	od, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	res := &patch.IndexOutcome{Original: src, DryRun: p.o.DryRun}
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
		if r, err := image.ParseReference(ref, p.o.Insecure); err == nil {
			repo = r.Context().String()
		}
	}
	if repo == "" {
		return nil, fmt.Errorf("%s: only an index in a registry is patched per platform: pass --platform", src)
	}
	res.Original = repo + "@" + od.String()
	for _, d := range plats {
		// Each platform image by its digest: a platform string such as
		// linux/amd64 would also match linux/amd64/v3.
		pi, err := p.one(ctx, repo+"@"+d.Digest.String(), p.o.Platform)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w (nothing pushed)", d.Platform, err)
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
			return nil, fmt.Errorf("platform %s: %w", d.Platform, err)
		}
		patched[d.Digest] = img
	}
	result := &PatchResult{Index: res}
	if p.o.DryRun || !changed {
		return result, nil
	}
	out, err := patchexec.AssembleIndex(idx, patched)
	if err != nil {
		return nil, err
	}
	iopts, err := p.o.ImageOptions()
	if err != nil {
		return nil, err
	}
	ref, err := patchexec.WriteIndex(ctx, out, p.o.Tag, p.o.Insecure, iopts...)
	if err != nil {
		return nil, err
	}
	res.Image = ref
	slog.Info("patched index", "image", ref, "platforms", len(plats))
	nd, err := out.Digest()
	if err != nil {
		return nil, err
	}
	for i, pi := range all {
		if pi.res == nil {
			continue
		}
		pd, err := pi.res.Image.Digest()
		if err != nil {
			return nil, err
		}
		pref := strings.TrimSuffix(ref, "@"+nd.String()) + "@" + pd.String()
		if err := p.rescan(ctx, pi, pref, nd.String()); err != nil {
			return result, fmt.Errorf("platform %s: %w", res.Platforms[i].Platform, err)
		}
	}
	return result, nil
}
