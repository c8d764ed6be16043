package freshness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/drydock/drydock/internal/rebuild"
)

// Actions in a plan.
const (
	ActionUpToDate = "up-to-date"
	ActionRebuild  = "rebuild"
	ActionAfter    = "rebuild-after" // its tracked base is rebuilt first
	ActionError    = "error"
)

// How the recorded base of an image was found.
const (
	BaseByLayers     = "layers"     // the base tag's layers are a prefix of the image
	BaseByAnnotation = "annotation" // org.opencontainers.image.base.digest
	BaseByStore      = "store"      // drydock's own record of the last rebuild
)

// Item is one tracked image in a plan or a reconcile report.
type Item struct {
	Name   string `json:"name"`
	Image  string `json:"image"`
	Base   string `json:"base"`
	Kind   string `json:"kind"`
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	// After names the tracked image rebuilt first (ActionAfter).
	After string `json:"after,omitempty"`
	// Current is the image's digest reference now.
	Current string `json:"current,omitempty"`
	// RecordedBase is the base digest the image was built on ("" when unknown), found by BaseFrom.
	RecordedBase string `json:"recordedBase,omitempty"`
	BaseFrom     string `json:"baseFrom,omitempty"`
	// LatestBase is the base tag's digest reference now.
	LatestBase string `json:"latestBase,omitempty"`

	// Filled by Reconcile.
	RebuildID string `json:"rebuildId,omitempty"`
	State     State  `json:"state,omitempty"`
	Result    string `json:"result,omitempty"`
	Log       string `json:"log,omitempty"`
	Scan      string `json:"scan,omitempty"`
	Signed    string `json:"signed,omitempty"`
	// Deployed summarises the rollout of the rebuilt image, when a
	// Deployer is set.
	Deployed string        `json:"deployed,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
}

// ScanResult summarises the scan of a rebuilt image.
type ScanResult struct {
	Summary string `json:"summary"`
	// Passed is false when the policy denied the image.
	Passed bool `json:"passed"`
}

// Scanner scans a rebuilt image (and applies the policy when there is one).
type Scanner interface {
	Scan(ctx context.Context, image string) (ScanResult, error)
}

// Attester signs a verdict for a rebuilt image and returns a reference to it.
type Attester interface {
	Attest(ctx context.Context, image string, scan ScanResult) (string, error)
}

// Deployer rolls a rebuilt image out to the workloads that opted in and
// says what happened. It runs only for images the policy passed.
type Deployer interface {
	Deploy(ctx context.Context, image string) (summary string, ok bool, err error)
}

// InPlaceFixer is an executor that can also fix an image whose base has
// not moved (rebuild.Patch: OS packages with fixes are upgraded in place).
type InPlaceFixer interface {
	// Fixable says why current needs a fix; "" when it needs none.
	Fixable(ctx context.Context, current string) (string, error)
}

// ExecutorFactory makes an executor (rebuild.New).
type ExecutorFactory func(kind string, cfg map[string]string) (rebuild.Executor, error)

// MaxAttempts is how often a rebuild with the same inputs is tried.
const MaxAttempts = 3

// Reconciler plans and runs rebuilds.
type Reconciler struct {
	Config   *Config
	Registry Registry
	Store    *Store
	// NewExecutor builds each image's executor once.
	NewExecutor ExecutorFactory
	Scanner     Scanner  // optional
	Attester    Attester // optional
	Deployer    Deployer // optional
	Log         *slog.Logger
	Getenv      func(string) string

	mu        sync.Mutex
	locks     map[string]*sync.Mutex
	executors map[string]rebuild.Executor
}

func (r *Reconciler) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// imageLock returns the mutex that serialises all rebuild work on one image.
func (r *Reconciler) imageLock(name string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locks == nil {
		r.locks = map[string]*sync.Mutex{}
	}
	l := r.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		r.locks[name] = l
	}
	return l
}

func (r *Reconciler) executor(im *ImageConfig) (rebuild.Executor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.executors[im.Name]; e != nil {
		return e, nil
	}
	if r.NewExecutor == nil {
		return nil, fmt.Errorf("image %s: no executor available for kind %s", im.Name, im.Rebuild.Kind)
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := im.ExecutorConfig(getenv)
	if err != nil {
		return nil, err
	}
	e, err := r.NewExecutor(im.Rebuild.Kind, cfg)
	if err != nil {
		return nil, fmt.Errorf("image %s: rebuild.kind %s: %w", im.Name, im.Rebuild.Kind, err)
	}
	if r.executors == nil {
		r.executors = map[string]rebuild.Executor{}
	}
	r.executors[im.Name] = e
	return e, nil
}

// CheckExecutors builds every image's executor, so that a bad `with` fails at start.
func (r *Reconciler) CheckExecutors() error {
	var errs []error
	for i := range r.Config.Images {
		if _, err := r.executor(&r.Config.Images[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// assess compares one image with its base tag now.
func (r *Reconciler) assess(ctx context.Context, im *ImageConfig) (Item, *ImageInfo, *ImageInfo) {
	it := Item{Name: im.Name, Image: im.Image, Base: im.Base, Kind: im.Rebuild.Kind}
	base, err := r.Registry.Resolve(ctx, im.Base)
	if err != nil {
		it.Action, it.Error = ActionError, fmt.Sprintf("base %s: %v", im.Base, err)
		return it, nil, nil
	}
	it.LatestBase = base.Ref()
	if r.Store != nil {
		if _, err := r.Store.SetBaseDigest(ctx, normTag(im.Base), base.TagDigest); err != nil {
			r.log().Warn("record base digest", "err", err)
		}
	}
	cur, err := r.Registry.Resolve(ctx, im.Image)
	if err != nil {
		it.Action, it.Error = ActionError, fmt.Sprintf("image %s: %v", im.Image, err)
		return it, nil, base
	}
	it.Current = cur.Ref()
	switch {
	case builtOn(cur, base):
		it.RecordedBase, it.BaseFrom = base.Ref(), BaseByLayers
	case cur.Annotations[annotationBaseDigest] != "":
		it.RecordedBase, it.BaseFrom = digestRef(base.Repository, cur.Annotations[annotationBaseDigest]), BaseByAnnotation
	case r.Store != nil:
		if rec, err := r.Store.LastDone(ctx, im.Name, cur.Digest); err == nil && rec != nil {
			it.RecordedBase, it.BaseFrom = rec.NewBase, BaseByStore
		}
	}
	rb := digestOf(it.RecordedBase)
	switch {
	case rb == base.Digest || rb == base.TagDigest:
		it.Action = ActionUpToDate
	case it.RecordedBase == "":
		it.Action, it.Reason = ActionRebuild, "the image's base is unknown (no base annotation, layers do not start with the base's)"
	default:
		it.Action, it.Reason = ActionRebuild, "base "+im.Base+" moved"
	}
	return it, cur, base
}

// inPlace turns an up-to-date item into a rebuild when the image's
// executor can fix it in place and finds something to fix (rebuild.kind
// patch: OS packages with fixes while the base has not moved). The rebuild
// then keeps the base: OldBase and NewBase are both the current base.
func (r *Reconciler) inPlace(ctx context.Context, im *ImageConfig, it *Item) {
	// Only patch fixes in place; other kinds' executors are not even
	// built for an image that is up to date.
	if it.Action != ActionUpToDate || it.Current == "" || im.Rebuild.Kind != KindPatch {
		return
	}
	exe, err := r.executor(im)
	if err != nil {
		it.Action, it.Error = ActionError, err.Error()
		return
	}
	f, ok := exe.(InPlaceFixer)
	if !ok {
		return
	}
	why, err := f.Fixable(ctx, it.Current)
	switch {
	case err != nil:
		it.Action, it.Error = ActionError, fmt.Sprintf("check %s for fixes: %v", it.Current, err)
	case why != "":
		it.Action, it.Reason = ActionRebuild, "base "+im.Base+" unchanged; "+why
		it.RecordedBase = it.LatestBase
	}
}

// Plan says, for the images affected by the given base tags (all when
// none), which are outdated, in topological order. It changes nothing in
// the registry.
func (r *Reconciler) Plan(ctx context.Context, tags ...string) ([]Item, error) {
	var items []Item
	planned := map[string]bool{} // normalised targets that will move
	for _, i := range r.Config.Affected(tags...) {
		im := &r.Config.Images[i]
		it, _, _ := r.assess(ctx, im)
		r.inPlace(ctx, im, &it)
		if p := r.Config.Parent(i); p >= 0 && planned[normTag(r.Config.Images[p].Image)] && it.Action == ActionUpToDate {
			it.Action, it.After, it.Reason = ActionAfter, r.Config.Images[p].Name, "its base "+r.Config.Images[p].Name+" is rebuilt first"
		}
		if it.Action == ActionRebuild || it.Action == ActionAfter {
			planned[normTag(im.Image)] = true
		}
		items = append(items, it)
	}
	return items, ctx.Err()
}

// Reconcile rebuilds the outdated images affected by the given base tags
// (all when none): each image after its tracked base, independent images
// concurrently (watch.concurrency), never two rebuilds of one image at once.
// The returned items are in topological order.
func (r *Reconciler) Reconcile(ctx context.Context, tags ...string) []Item {
	idx := r.Config.Affected(tags...)
	items := make([]Item, len(idx))
	done := map[int]chan struct{}{}
	for _, i := range idx {
		done[i] = make(chan struct{})
	}
	limit := r.Config.Watch.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for k, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			if p := r.Config.Parent(i); p >= 0 {
				if ch, ok := done[p]; ok {
					select {
					case <-ch:
					case <-ctx.Done():
						items[k] = Item{Name: r.Config.Images[i].Name, Action: ActionError, Error: ctx.Err().Error()}
						return
					}
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				items[k] = Item{Name: r.Config.Images[i].Name, Action: ActionError, Error: ctx.Err().Error()}
				return
			}
			defer func() { <-sem }()
			items[k] = r.reconcileOne(ctx, &r.Config.Images[i])
		}()
	}
	wg.Wait()
	return items
}

// reconcileOne brings one image up to date with its base tag.
func (r *Reconciler) reconcileOne(ctx context.Context, im *ImageConfig) Item {
	l := r.imageLock(im.Name)
	l.Lock()
	defer l.Unlock()
	start := time.Now()
	it, cur, base := r.assess(ctx, im)
	r.inPlace(ctx, im, &it)
	if it.Action != ActionRebuild {
		return it
	}
	rec := &RebuildRecord{
		ID:         RebuildID(im.Name, cur.Digest, base.Digest),
		Image:      im.Name,
		Target:     im.Image,
		Current:    cur.Ref(),
		OldBase:    it.RecordedBase,
		NewBase:    base.Ref(),
		NewBaseTag: im.Base,
		Kind:       im.Rebuild.Kind,
	}
	it.RebuildID = rec.ID
	if r.Store == nil {
		it.Action, it.Error = ActionError, "no store"
		return it
	}
	stored, err := r.Store.Plan(ctx, *rec)
	if err != nil {
		it.Action, it.Error = ActionError, err.Error()
		return it
	}
	switch {
	case stored.State == StateDone:
		it.State, it.Result = stored.State, stored.Result
		it.Action, it.Reason = ActionUpToDate, "rebuild "+stored.ID+" already finished"
		if stored.Result == "" {
			it.Reason += " (dispatched; waiting for the pipeline's push)"
		}
		return it
	case stored.State == StateFailed && stored.Attempts >= MaxAttempts:
		it.State, it.Error = stored.State, fmt.Sprintf("gave up after %d attempts: %s", stored.Attempts, stored.Error)
		return it
	}
	r.finish(ctx, im, stored, &it)
	it.Duration = time.Since(start)
	return it
}

// finish drives a stored rebuild from its state to done or failed. The
// image lock must be held.
func (r *Reconciler) finish(ctx context.Context, im *ImageConfig, rec *RebuildRecord, it *Item) {
	log := r.log().With("image", im.Name, "rebuild", rec.ID)
	fail := func(step string, err error) {
		it.State, it.Error = StateFailed, fmt.Sprintf("%s: %v", step, err)
		if ctx.Err() != nil {
			// Shutting down: leave the state as it is, so a restart resumes it.
			log.Warn("interrupted", "step", step, "err", err)
			return
		}
		log.Error("rebuild failed", "step", step, "err", err)
		_ = r.Store.RecordResult(context.WithoutCancel(ctx), rec.ID, step, false, err.Error())
		_ = r.Store.Transition(context.WithoutCancel(ctx), rec.ID, StateFailed, "", it.Error)
	}
	state := rec.State
	result := rec.Result
	if state == StatePlanned || state == StateRunning || state == StateFailed {
		exe, err := r.executor(im)
		if err != nil {
			fail("executor", err)
			return
		}
		if err := r.Store.Transition(ctx, rec.ID, StateRunning, "", ""); err != nil {
			fail("store", err)
			return
		}
		log.Info("rebuilding", "kind", im.Rebuild.Kind, "current", rec.Current, "new_base", rec.NewBase)
		cfg, _ := im.ExecutorConfig(r.getenv())
		res, err := exe.Rebuild(ctx, rebuild.Request{
			Name: im.Name, Target: im.Image, Current: rec.Current,
			OldBase: rec.OldBase, NewBase: rec.NewBase, NewBaseTag: rec.NewBaseTag,
			Env: cfg, ID: rec.ID,
		})
		if err != nil {
			fail("rebuild", err)
			return
		}
		it.Log = res.Log
		if res.Pending {
			_ = r.Store.RecordResult(ctx, rec.ID, "rebuild", true, "dispatched: "+res.Log)
			if err := r.Store.Transition(ctx, rec.ID, StateDone, "", ""); err != nil {
				fail("store", err)
				return
			}
			it.State, it.Reason = StateDone, "dispatched; the pipeline pushes "+im.Image
			return
		}
		result = res.Image
		if result == "" {
			info, err := r.Registry.Resolve(ctx, im.Image)
			if err != nil {
				fail("resolve result", err)
				return
			}
			result = info.Ref()
		}
		_ = r.Store.RecordResult(ctx, rec.ID, "rebuild", true, result)
		if err := r.Store.Transition(ctx, rec.ID, StatePushed, result, ""); err != nil {
			fail("store", err)
			return
		}
		state = StatePushed
		log.Info("pushed", "result", result)
	}
	it.Result = result
	scan := ScanResult{Passed: true}
	if state == StatePushed && r.Scanner != nil {
		s, err := r.Scanner.Scan(ctx, result)
		if err != nil {
			fail("scan", err)
			return
		}
		scan = s
		it.Scan = s.Summary
		log.Info("scanned", "result", result, "passed", s.Passed, "summary", s.Summary)
		_ = r.Store.RecordResult(ctx, rec.ID, "scan", s.Passed, s.Summary)
		if err := r.Store.Transition(ctx, rec.ID, StateScanned, "", ""); err != nil {
			fail("store", err)
			return
		}
		state = StateScanned
	}
	if (state == StatePushed || state == StateScanned) && r.Attester != nil {
		ref, err := r.Attester.Attest(ctx, result, scan)
		if err != nil {
			fail("attest", err)
			return
		}
		it.Signed = ref
		log.Info("signed", "result", result, "verdict", ref)
		_ = r.Store.RecordResult(ctx, rec.ID, "attest", true, ref)
		if err := r.Store.Transition(ctx, rec.ID, StateSigned, "", ""); err != nil {
			fail("store", err)
			return
		}
	}
	if r.Deployer != nil {
		// A rollout that fails is rolled back by the deployer and recorded;
		// the rebuild itself stays done, so it is not repeated.
		switch {
		case !scan.Passed:
			it.Deployed = "not deployed: the policy denied the image"
			log.Warn("not rolled out: the policy denied the image", "result", result)
			_ = r.Store.RecordResult(ctx, rec.ID, "deploy", false, it.Deployed)
		default:
			summary, ok, err := r.Deployer.Deploy(ctx, result)
			if err != nil {
				summary, ok = err.Error(), false
			}
			it.Deployed = summary
			if ok {
				log.Info("rolled out", "result", result, "summary", summary)
			} else {
				log.Warn("rollout failed", "result", result, "summary", summary)
			}
			_ = r.Store.RecordResult(ctx, rec.ID, "deploy", ok, summary)
		}
	}
	if err := r.Store.Transition(ctx, rec.ID, StateDone, "", ""); err != nil {
		fail("store", err)
		return
	}
	it.State = StateDone
}

func (r *Reconciler) getenv() func(string) string {
	if r.Getenv != nil {
		return r.Getenv
	}
	return os.Getenv
}

// Resume finishes the rebuilds a crash interrupted. A rebuild whose target
// already holds an image on the new base (it was pushed before the crash) is
// not run again; one whose target is unchanged is run again with the same
// rebuild ID, which executors use to avoid a second push.
func (r *Reconciler) Resume(ctx context.Context) []Item {
	if r.Store == nil {
		return nil
	}
	recs, err := r.Store.Unfinished(ctx)
	if err != nil {
		r.log().Error("resume", "err", err)
		return nil
	}
	var out []Item
	for _, rec := range recs {
		var im *ImageConfig
		for i := range r.Config.Images {
			if r.Config.Images[i].Name == rec.Image {
				im = &r.Config.Images[i]
			}
		}
		if im == nil {
			_ = r.Store.Transition(ctx, rec.ID, StateFailed, "", "image no longer in the configuration")
			continue
		}
		out = append(out, r.resumeOne(ctx, im, rec))
	}
	return out
}

func (r *Reconciler) resumeOne(ctx context.Context, im *ImageConfig, rec *RebuildRecord) Item {
	l := r.imageLock(im.Name)
	l.Lock()
	defer l.Unlock()
	it := Item{Name: im.Name, Image: im.Image, Base: im.Base, Kind: im.Rebuild.Kind, RebuildID: rec.ID,
		Action: ActionRebuild, Reason: "resumed after restart from state " + string(rec.State), Current: rec.Current}
	r.log().Info("resuming rebuild", "image", im.Name, "rebuild", rec.ID, "state", rec.State)
	if rec.State == StatePlanned || rec.State == StateRunning {
		cur, err := r.Registry.Resolve(ctx, im.Image)
		if err != nil {
			it.Action, it.Error = ActionError, err.Error()
			return it
		}
		if cur.Ref() != rec.Current {
			nb, err := r.Registry.Resolve(ctx, rec.NewBase)
			if err == nil && (builtOn(cur, nb) || cur.Annotations[annotationBaseDigest] == digestOf(rec.NewBase)) {
				// Pushed before the crash: record it, do not rebuild again.
				_ = r.Store.RecordResult(ctx, rec.ID, "rebuild", true, cur.Ref()+" (found pushed after restart)")
				if rec.State == StatePlanned {
					_ = r.Store.Transition(ctx, rec.ID, StateRunning, "", "")
				}
				if err := r.Store.Transition(ctx, rec.ID, StatePushed, cur.Ref(), ""); err != nil {
					it.Action, it.Error = ActionError, err.Error()
					return it
				}
				rec.State, rec.Result = StatePushed, cur.Ref()
			} else {
				_ = r.Store.Transition(ctx, rec.ID, StateFailed, "", "superseded: "+im.Image+" moved to "+cur.Ref())
				it.State, it.Reason = StateFailed, "superseded: the image moved meanwhile"
				return it
			}
		}
	}
	r.finish(ctx, im, rec, &it)
	return it
}

// ReconcileImage brings the one configured image named name up to date
// with its base, leaving the other images alone (a rebuild asked for one
// image from the API or the web UI).
func (r *Reconciler) ReconcileImage(ctx context.Context, name string) Item {
	for i := range r.Config.Images {
		if r.Config.Images[i].Name == name {
			return r.reconcileOne(ctx, &r.Config.Images[i])
		}
	}
	return Item{Name: name, Action: ActionError, Error: fmt.Sprintf("no image named %q in drydock.yaml's images", name)}
}
