package rebuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/patch"
	"github.com/drydock/drydock/internal/patchexec"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/scanner"
	"github.com/drydock/drydock/internal/vulndb"
)

// Patch upgrades the current image's OS packages in place (one layer on
// top of its unchanged layers, as `drydock patch`) when its base has not
// moved; when the base has moved it hands the request to the on_base_update
// executor with the unpatched original as the current image, so the patch
// layer is not carried onto the new base. Configuration keys:
//
//	select          "findings" (default): packages with fixed findings in the
//	                vulnerability database at db; "all-updates": every package
//	                the package sources have a newer version of
//	db              path of drydock's vulnerability database (required for findings)
//	severity        with findings: only findings at or above this rating
//	sources         extra apt source lines, one per line ("deb URI SUITE COMPONENT")
//	helper_image    distroless images: a Debian image of the same release whose
//	                apt resolves and downloads the packages
//	buildah         buildah binary (default "buildah")
//	work_dir        scratch directory for buildah's storage (default the system's)
//	timeout         Go duration for one patch (default 30m)
//	insecure        "true" allows plain HTTP to registries other than localhost
//	on_base_update  executor kind for a moved base (rebase, build, dispatch);
//	                its keys are given with the prefix "base." ("base.command")
type Patch struct {
	sel       patch.Selection
	db        string
	sources   []string
	buildah   string
	helper    string
	workDir   string
	timeout   time.Duration
	insecure  bool
	onBase    Executor
	imageOpts []image.Option
}

func newPatch(cfg map[string]string) (Executor, error) {
	x := &Patch{db: cfg["db"], buildah: cfg["buildah"], helper: cfg["helper_image"], workDir: cfg["work_dir"], timeout: 30 * time.Minute}
	switch cfg["select"] {
	case "", patch.ModeFindings:
		if x.db == "" {
			return nil, errors.New("patch: db is required with select findings (or set select: all-updates)")
		}
		x.sel.MinSeverity = cfg["severity"]
	case patch.ModeAllUpdates:
		if cfg["severity"] != "" {
			return nil, errors.New("patch: severity applies to select findings only")
		}
		x.sel.AllUpdates = true
	default:
		return nil, fmt.Errorf("patch: select %q: want findings or all-updates", cfg["select"])
	}
	for _, l := range strings.Split(cfg["sources"], "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if !strings.HasPrefix(l, "deb ") {
				return nil, fmt.Errorf("patch: sources line %q: want \"deb URI SUITE COMPONENT...\"", l)
			}
			x.sources = append(x.sources, l)
		}
	}
	var err error
	if v := cfg["timeout"]; v != "" {
		if x.timeout, err = time.ParseDuration(v); err != nil || x.timeout <= 0 {
			return nil, fmt.Errorf("patch: timeout %q: want a positive duration like 30m", v)
		}
	}
	if v := cfg["insecure"]; v != "" {
		if x.insecure, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("patch: insecure: %w", err)
		}
	}
	if kind := cfg["on_base_update"]; kind != "" {
		if kind == "patch" {
			return nil, errors.New("patch: on_base_update cannot be patch: a moved base needs a rebuild")
		}
		sub := map[string]string{}
		for k, v := range cfg {
			if rest, ok := strings.CutPrefix(k, "base."); ok {
				sub[rest] = v
			}
		}
		// Not through the executors map: it lists this constructor, and
		// a patch never delegates to a patch.
		var mk func(map[string]string) (Executor, error)
		switch kind {
		case "rebase":
			mk = newRebase
		case "build":
			mk = newBuild
		case "dispatch":
			mk = newDispatch
		default:
			return nil, fmt.Errorf("patch: on_base_update %q: want rebase, build or dispatch", kind)
		}
		if x.onBase, err = mk(sub); err != nil {
			return nil, fmt.Errorf("patch: on_base_update: %w", err)
		}
	}
	return x, nil
}

func (x *Patch) setImageOptions(opts []image.Option) {
	x.imageOpts = append(x.imageOpts, opts...)
	if s, ok := x.onBase.(interface{ setImageOptions([]image.Option) }); ok {
		s.setImageOptions(opts)
	}
}

// Name is "patch".
func (x *Patch) Name() string { return "patch" }

// Rebuild patches req.Current into req.Target, or, when req.NewBase differs
// from req.OldBase, rebuilds the unpatched original with on_base_update.
func (x *Patch) Rebuild(ctx context.Context, req Request) (Result, error) {
	if req.Current == "" || req.Target == "" {
		return Result{}, fmt.Errorf("patch %s: request needs Current and Target", req.Name)
	}
	opts := append([]image.Option{image.WithInsecure(x.insecure)}, x.imageOpts...)
	ropts := image.RemoteOptions(ctx, opts...)
	cur, err := image.ParseReference(req.Current, x.insecure)
	if err != nil {
		return Result{}, fmt.Errorf("patch: current: %w", err)
	}
	if req.NewBase != "" && req.OldBase != "" && !sameDigest(req.OldBase, req.NewBase) {
		if x.onBase == nil {
			return Result{}, fmt.Errorf("patch %s: the base moved (%s → %s) and a patch cannot move it: set on_base_update (rebase, build or dispatch)", req.Name, req.OldBase, req.NewBase)
		}
		// A patched image is rebuilt from the image it was made from.
		desc, err := remote.Get(cur, ropts...)
		if err != nil {
			return Result{}, fmt.Errorf("patch: read %s: %w", cur, err)
		}
		if img, err := desc.Image(); err == nil {
			if m, err := img.Manifest(); err == nil && m.Annotations[patchexec.AnnotationOriginal] != "" {
				req.Current = cur.Context().Digest(m.Annotations[patchexec.AnnotationOriginal]).String()
			}
		}
		return x.onBase.Rebuild(ctx, req)
	}
	if tr, err := image.ParseReference(req.Target, x.insecure); err == nil {
		// The loop names one platform's manifest as Current: pushing its
		// patch would replace a multi-platform tag with one platform.
		if desc, err := remote.Head(tr, ropts...); err == nil && desc.MediaType.IsIndex() {
			return Result{}, fmt.Errorf("patch %s: %s is a multi-platform index; the loop's patch executor patches single-platform images only (patch the index with drydock patch, which patches every platform)", req.Name, req.Target)
		}
	}
	if done, ok := x.alreadyPatched(req, cur, ropts); ok {
		return Result{Image: done, Tags: []string{req.Target}, Log: fmt.Sprintf("%s is already the patch of %s; nothing run", done, req.Current)}, nil
	}

	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	work, err := os.MkdirTemp(x.workDir, "drydock-patch-")
	if err != nil {
		return Result{}, fmt.Errorf("patch: %w", err)
	}
	defer os.RemoveAll(work)
	img, plan, err := x.plan(ctx, req.Current, work, opts)
	if err != nil {
		return Result{}, err
	}
	defer img.Close()
	b := &patchexec.Buildah{Path: x.buildah, WorkDir: work, Sources: x.sources}
	var res *patchexec.Result
	if plan.Manager == patch.ManagerDpkgStatusD {
		if x.helper == "" {
			return Result{}, fmt.Errorf("patch %s: a distroless image: set helper_image", req.Current)
		}
		h, herr := image.Open(ctx, x.helper, append(opts, image.WithTempDir(work))...)
		if herr != nil {
			return Result{}, fmt.Errorf("patch: helper_image: %w", herr)
		}
		defer h.Close()
		if h.Image == nil {
			return Result{}, fmt.Errorf("patch: helper_image %s is not an image", x.helper)
		}
		res, err = (&patchexec.Distroless{Buildah: b, Helper: h.Image}).Patch(ctx, img.Image, plan)
	} else {
		res, err = b.Patch(ctx, img.Image, plan)
	}
	if err != nil {
		return Result{}, fmt.Errorf("patch %s: %w", req.Current, err)
	}
	defer res.Close()
	ref, err := patchexec.Write(ctx, res.Image, req.Target, x.insecure, x.imageOpts...)
	if err != nil {
		return Result{}, fmt.Errorf("patch: %w", err)
	}
	var ups []string
	for _, u := range res.Upgrades {
		ups = append(ups, fmt.Sprintf("%s %s → %s", u.Package, u.From, u.To))
	}
	return Result{Image: ref, Tags: []string{req.Target}, Log: fmt.Sprintf("patched %s as %s (one layer, %d bytes):\n%s", req.Current, ref, res.LayerSize, strings.Join(ups, "\n"))}, nil
}

// plan opens ref, scans it and plans its patch (the database selection
// matches the scan against db; all-updates takes every OS package).
func (x *Patch) plan(ctx context.Context, ref, work string, opts []image.Option) (*image.Image, *patch.Plan, error) {
	img, err := image.Open(ctx, ref, append(opts, image.WithTempDir(work))...)
	if err != nil {
		return nil, nil, fmt.Errorf("patch: open %s: %w", ref, err)
	}
	fail := func(err error) (*image.Image, *patch.Plan, error) {
		img.Close()
		return nil, nil, err
	}
	if img.Image == nil {
		return fail(fmt.Errorf("patch: %s is not an image", ref))
	}
	inv, err := scanner.Scan(ctx, img, scanner.WithTempDir(work))
	if err != nil {
		return fail(fmt.Errorf("patch: scan %s: %w", ref, err))
	}
	rep := &report.ScanReport{Inventory: inv}
	if !x.sel.AllUpdates {
		db, err := vulndb.Open(ctx, x.db)
		if err != nil {
			return fail(fmt.Errorf("patch: vulnerability database %s: %w", x.db, err))
		}
		res, err := match.Match(ctx, db, inv)
		db.Close()
		if err != nil {
			return fail(fmt.Errorf("patch: match %s: %w", ref, err))
		}
		rep.Findings = res.Findings
	}
	plan, err := patch.Make(rep, x.sel)
	if err != nil {
		return fail(fmt.Errorf("patch %s: %w", ref, err))
	}
	return img, plan, nil
}

// Fixable says why current, whose base has not moved, should be patched:
// with the database selection, which OS packages have findings with a
// fixed version; with all-updates, which packages the sources have a newer
// version of (apt resolves it in a buildah container, nothing is changed).
// It returns "" when there is nothing to patch.
func (x *Patch) Fixable(ctx context.Context, current string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	work, err := os.MkdirTemp(x.workDir, "drydock-patch-check-")
	if err != nil {
		return "", fmt.Errorf("patch: %w", err)
	}
	defer os.RemoveAll(work)
	opts := append([]image.Option{image.WithInsecure(x.insecure)}, x.imageOpts...)
	img, plan, err := x.plan(ctx, current, work, opts)
	if err != nil {
		return "", err
	}
	defer img.Close()
	switch plan.Manager {
	case patch.ManagerApt, patch.ManagerDpkgStatusD:
	default:
		return "", fmt.Errorf("patch %s: %s images cannot be patched yet", current, plan.Manager)
	}
	if !x.sel.AllUpdates {
		if len(plan.Items) == 0 {
			return "", nil
		}
		var ids []string
		for _, it := range plan.Items {
			for _, id := range it.Findings {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		slices.Sort(ids)
		return fmt.Sprintf("%d OS packages have fixes (%s): %s", len(plan.Items), strings.Join(plan.Packages(), ", "), strings.Join(ids, ", ")), nil
	}
	b := &patchexec.Buildah{Path: x.buildah, WorkDir: work, Sources: x.sources}
	var ups []patch.Upgrade
	if plan.Manager == patch.ManagerDpkgStatusD {
		if x.helper == "" {
			return "", fmt.Errorf("patch %s: a distroless image: set helper_image", current)
		}
		h, err := image.Open(ctx, x.helper, append(opts, image.WithTempDir(work))...)
		if err != nil {
			return "", fmt.Errorf("patch: helper_image: %w", err)
		}
		defer h.Close()
		if h.Image == nil {
			return "", fmt.Errorf("patch: helper_image %s is not an image", x.helper)
		}
		ups, err = (&patchexec.Distroless{Buildah: b, Helper: h.Image}).Resolve(ctx, plan)
		if err != nil {
			return "", fmt.Errorf("patch %s: %w", current, err)
		}
	} else if ups, err = b.Resolve(ctx, img.Image, plan); err != nil {
		return "", fmt.Errorf("patch %s: %w", current, err)
	}
	if len(ups) == 0 {
		return "", nil
	}
	var names []string
	for _, u := range ups {
		names = append(names, u.Package)
	}
	return fmt.Sprintf("%d OS packages have updates: %s", len(ups), strings.Join(names, ", ")), nil
}

// alreadyPatched reports whether Target already is the patch of Current
// (a retried request after its push).
func (x *Patch) alreadyPatched(req Request, cur name.Reference, ropts []remote.Option) (string, bool) {
	d, ok := cur.(name.Digest)
	if !ok {
		return "", false
	}
	tr, err := image.ParseReference(req.Target, x.insecure)
	if err != nil {
		return "", false
	}
	desc, err := remote.Get(tr, ropts...)
	if err != nil {
		return "", false
	}
	img, err := desc.Image()
	if err != nil {
		return "", false
	}
	m, err := img.Manifest()
	if err != nil || m.Annotations[patchexec.AnnotationOriginal] != d.DigestStr() {
		return "", false
	}
	return tr.Context().Digest(desc.Digest.String()).String(), true
}

// sameDigest compares two references by their digests when both have one,
// else as strings.
func sameDigest(a, b string) bool {
	if _, da, ok := strings.Cut(a, "@"); ok {
		if _, db, ok := strings.Cut(b, "@"); ok {
			return da == db
		}
	}
	return a == b
}
