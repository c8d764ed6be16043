package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/report"
	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/vulndb"
)

// Job kinds. Args are small and JSON; unique options keep one job per
// digest (so no image is scanned twice at once, no verdict pushed twice).

// CrawlAllArgs enqueues one crawl per configured registry (periodic).
type CrawlAllArgs struct{}

func (CrawlAllArgs) Kind() string { return "crawl-all" }

// CrawlArgs lists one registry's repositories and tags.
type CrawlArgs struct {
	Target int `json:"target"`
}

func (CrawlArgs) Kind() string { return "crawl" }

// InsertOpts: one crawl per registry at a time.
func (CrawlArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// ResolveArgs resolves a reference (tag or digest, maybe an index) to
// platform digests, records them and enqueues scans of the unseen ones.
type ResolveArgs struct {
	Ref      string `json:"ref"`
	Insecure bool   `json:"insecure,omitempty"`
	// Force rescans digests already scanned (POST /api/v1/scan).
	Force bool `json:"force,omitempty"`
	// Pull, when set, reads the image with that workload's credentials.
	Pull *PullFrom `json:"pull,omitempty"`
}

func (ResolveArgs) Kind() string { return "resolve" }

// ScanArgs scans one platform image by digest.
type ScanArgs struct {
	// Ref is repository@digest.
	Ref      string `json:"ref"`
	Insecure bool   `json:"insecure,omitempty"`
	Force    bool   `json:"force,omitempty"`
	// Pull, when set, reads the image with that workload's credentials.
	Pull *PullFrom `json:"pull,omitempty"`
}

func (ScanArgs) Kind() string { return "scan" }

// InsertOpts: one scan per digest until it finished.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// RematchArgs re-matches every stored inventory: it cuts the work into
// batch jobs that replicas share.
type RematchArgs struct {
	// Reason is recorded ("db-update", "manual").
	Reason string `json:"reason"`
}

func (RematchArgs) Kind() string { return "rematch" }

// RematchBatchArgs re-matches the inventories listed.
type RematchBatchArgs struct {
	Digests []string `json:"digests"`
}

func (RematchBatchArgs) Kind() string { return "rematch-batch" }

// DBUpdateArgs refreshes the vulnerability database and re-matches when it
// changed.
type DBUpdateArgs struct{}

func (DBUpdateArgs) Kind() string { return "db-update" }

// InsertOpts: one update at a time.
func (DBUpdateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// SignArgs signs a verdict for a scanned digest.
type SignArgs struct {
	Digest   string `json:"digest"`
	Insecure bool   `json:"insecure,omitempty"`
}

func (SignArgs) Kind() string { return "sign" }

// InsertOpts: one signing per digest at a time.
func (SignArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// ReconcileArgs runs the freshness loop once (periodic).
type ReconcileArgs struct{}

func (ReconcileArgs) Kind() string { return "reconcile" }

// pendingStates make a job unique while it waits or runs; once finished an
// identical one may be queued again (the workers check the store, so a
// finished scan is not redone without Force).
var pendingStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

type crawlAllWorker struct {
	river.WorkerDefaults[CrawlAllArgs]
	e *Engine
}

func (w *crawlAllWorker) Work(ctx context.Context, _ *river.Job[CrawlAllArgs]) error {
	for i := range w.e.deps.Targets {
		if _, err := w.e.Enqueue(ctx, CrawlArgs{Target: i}); err != nil {
			return err
		}
	}
	return nil
}

type crawlWorker struct {
	river.WorkerDefaults[CrawlArgs]
	e *Engine
}

// Work lists the repositories and tags of one registry. A registry that is
// down fails this job only; River retries it with backoff while the other
// registries' crawls go on.
func (w *crawlWorker) Work(ctx context.Context, job *river.Job[CrawlArgs]) error {
	d := w.e.deps
	if job.Args.Target < 0 || job.Args.Target >= len(d.Targets) {
		return river.JobCancel(fmt.Errorf("crawl target %d is no longer configured", job.Args.Target))
	}
	t := d.Targets[job.Args.Target]
	if wait := d.Backoff.Wait(t.Registry); wait > 0 {
		return river.JobSnooze(wait)
	}
	err := w.crawl(ctx, t)
	return d.Backoff.Snooze(t.Registry, err)
}

func (w *crawlWorker) crawl(ctx context.Context, t Target) error {
	d := w.e.deps
	ropts := image.RemoteOptions(ctx, append(append([]image.Option{}, d.ImageOptions...), image.WithInsecure(t.Insecure))...)
	repos, err := repositories(ctx, t, ropts)
	if err != nil {
		return err
	}
	n := 0
	for _, repoName := range repos {
		repo, err := name.NewRepository(t.Registry+"/"+repoName, nameOpts(t.Insecure)...)
		if err != nil {
			d.log().Warn("crawl: bad repository name", "registry", t.Registry, "repository", repoName, "err", err)
			continue
		}
		tags, err := remote.List(repo, ropts...)
		if err != nil {
			return fmt.Errorf("crawl %s: list tags: %w", repo, err)
		}
		for _, tag := range tags {
			if !matchAny(t.Tags, tag, true) {
				continue
			}
			if _, err := w.e.Enqueue(ctx, ResolveArgs{Ref: repo.Name() + ":" + tag, Insecure: t.Insecure}); err != nil {
				return err
			}
			n++
		}
	}
	d.log().Info("crawled registry", "registry", t.Registry, "repositories", len(repos), "tags", n)
	return nil
}

func nameOpts(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func repositories(ctx context.Context, t Target, ropts []remote.Option) ([]string, error) {
	if !t.Catalog {
		return t.Repositories, nil
	}
	reg, err := name.NewRegistry(t.Registry, nameOpts(t.Insecure)...)
	if err != nil {
		return nil, fmt.Errorf("crawl: registry %q: %w", t.Registry, err)
	}
	var out []string
	next := ""
	for {
		page, err := remote.CatalogPage(reg, next, 1000, ropts...)
		if err != nil {
			return nil, fmt.Errorf("crawl %s: _catalog: %w", t.Registry, err)
		}
		for _, r := range page {
			if matchAny(t.Repositories, r, true) {
				out = append(out, r)
			}
		}
		if len(page) < 1000 {
			break
		}
		next = page[len(page)-1]
	}
	return out, nil
}

// matchAny reports whether s matches one of the globs (path.Match: "*"
// stays within one path segment, "team/*" is a team's repositories).
func matchAny(globs []string, s string, emptyMatches bool) bool {
	if len(globs) == 0 {
		return emptyMatches
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

type resolveWorker struct {
	river.WorkerDefaults[ResolveArgs]
	e *Engine
}

// Work resolves a reference to the digests of its platform images.
func (w *resolveWorker) Work(ctx context.Context, job *river.Job[ResolveArgs]) error {
	d := w.e.deps
	ref, err := name.ParseReference(job.Args.Ref, nameOpts(job.Args.Insecure)...)
	if err != nil {
		return river.JobCancel(fmt.Errorf("resolve %q: %w", job.Args.Ref, err))
	}
	host := ref.Context().RegistryStr()
	if wait := d.Backoff.Wait(host); wait > 0 {
		return river.JobSnooze(wait)
	}
	return d.Backoff.Snooze(host, w.resolve(ctx, job, ref))
}

func (w *resolveWorker) resolve(ctx context.Context, job *river.Job[ResolveArgs], ref name.Reference) error {
	d := w.e.deps
	iopts, src, err := w.e.pullOptions(ctx, job.Args.Pull, d.ImageOptions)
	if err != nil {
		return w.e.credentialsFailed(ctx, ref, err)
	}
	ropts := image.RemoteOptions(ctx, append(iopts, image.WithInsecure(job.Args.Insecure))...)
	desc, err := remote.Get(ref, ropts...)
	if err != nil {
		if job.Args.Pull != nil && registryauth.IsDenied(err) {
			return w.e.pullDenied(ctx, ref, src, err)
		}
		return fmt.Errorf("resolve %s: %w", ref, err)
	}
	repo := ref.Context()
	type child struct{ digest, platform string }
	var children []child
	index := ""
	if desc.MediaType.IsIndex() {
		index = desc.Digest.String()
		idx, err := desc.ImageIndex()
		if err != nil {
			return fmt.Errorf("resolve %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return fmt.Errorf("resolve %s: %w", ref, err)
		}
		for _, m := range im.Manifests {
			if !m.MediaType.IsImage() || m.Platform == nil || m.Platform.OS == "unknown" {
				continue // attestations and other artifacts ride in indexes
			}
			children = append(children, child{m.Digest.String(), platformString(m.Platform)})
		}
	} else if desc.MediaType.IsImage() {
		children = append(children, child{desc.Digest.String(), ""})
	} else {
		return river.JobCancel(fmt.Errorf("resolve %s: %s is not an image", ref, desc.MediaType))
	}
	for _, c := range children {
		isNew, err := d.Store.PutImage(ctx, store.Image{Digest: c.digest, Registry: repo.RegistryStr(), Repository: repo.Name(), Platform: c.platform, Index: index})
		if err != nil {
			return err
		}
		if tag, ok := ref.(name.Tag); ok {
			if err := d.Store.SetTag(ctx, repo.Name(), tag.TagStr(), c.digest); err != nil {
				return err
			}
		}
		scanned, err := d.Store.Scanned(ctx, c.digest)
		if err != nil {
			return err
		}
		if isNew || !scanned || job.Args.Force {
			if _, err := w.e.Enqueue(ctx, ScanArgs{Ref: repo.Name() + "@" + c.digest, Insecure: job.Args.Insecure, Force: job.Args.Force, Pull: job.Args.Pull}); err != nil {
				return err
			}
		}
	}
	return nil
}

func platformString(p *v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	e *Engine
}

// Work scans one platform image and stores its inventory and findings. A
// corrupt or hostile image fails with the reason recorded on the image;
// it never stops the server.
func (w *scanWorker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	d := w.e.deps
	dg, err := name.NewDigest(job.Args.Ref, nameOpts(job.Args.Insecure)...)
	if err != nil {
		return river.JobCancel(fmt.Errorf("scan %q: want repository@digest: %w", job.Args.Ref, err))
	}
	digest := dg.DigestStr()
	if !job.Args.Force {
		if done, err := d.Store.Scanned(ctx, digest); err != nil {
			return err
		} else if done {
			return nil
		}
	}
	host := dg.RegistryStr()
	if wait := d.Backoff.Wait(host); wait > 0 {
		return river.JobSnooze(wait)
	}
	start := time.Now()
	iopts, src, err := w.e.pullOptions(ctx, job.Args.Pull, d.Inventory.Image)
	if err != nil {
		return w.e.credentialsFailed(ctx, dg, err)
	}
	inv, err := w.inventory(ctx, dg, job.Args.Insecure, iopts)
	if err != nil {
		if job.Args.Pull != nil && registryauth.IsDenied(err) {
			return w.e.pullDenied(ctx, dg, src, err)
		}
		if snooze := d.Backoff.Snooze(host, err); snooze != err {
			return snooze
		}
		if job.Attempt >= job.MaxAttempts || errors.Is(err, context.Canceled) {
			_ = d.Store.ScanFailed(context.WithoutCancel(ctx), digest, err.Error())
		}
		return fmt.Errorf("scan %s: %w", job.Args.Ref, err)
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	if _, err := d.Store.PutImage(ctx, store.Image{Digest: digest, Registry: dg.RegistryStr(), Repository: dg.Context().Name(),
		Platform: inv.Source.Platform, BaseName: inv.Source.BaseName, BaseDigest: inv.Source.BaseDigest}); err != nil {
		return err
	}
	if err := d.Store.PutInventory(ctx, digest, b); err != nil {
		return err
	}
	findings, err := w.e.match(ctx, inv)
	if err != nil {
		return err
	}
	diff, err := d.Store.SaveFindings(ctx, digest, findings, store.EventScan)
	if err != nil {
		return err
	}
	d.observe("scan", start)
	d.log().Info("scanned", "image", job.Args.Ref, "packages", len(inv.Packages), "findings", len(findings), "first", diff.First)
	if d.Signer != nil {
		if _, err := w.e.Enqueue(ctx, SignArgs{Digest: digest, Insecure: job.Args.Insecure}); err != nil {
			return err
		}
	}
	return nil
}

func (w *scanWorker) inventory(ctx context.Context, dg name.Digest, insecure bool, iopts []image.Option) (*inventory.Inventory, error) {
	o := w.e.deps.Inventory
	base := o.TempDir
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(base, "scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	o.TempDir = tmp
	o.Image = append(iopts, image.WithInsecure(insecure))
	return loop.Inventory(ctx, dg.String(), o)
}

// match runs the matcher on an inventory against the current database.
func (e *Engine) match(ctx context.Context, inv *inventory.Inventory) ([]store.Finding, error) {
	db, err := vulndb.Open(ctx, e.deps.DBPath)
	if errors.Is(err, vulndb.ErrNotFound) {
		return nil, nil // no database yet: stored, matched after the first update
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return matchWith(ctx, db, inv)
}

func matchWith(ctx context.Context, db match.Reader, inv *inventory.Inventory) ([]store.Finding, error) {
	res, err := match.Match(ctx, db, inv)
	if err != nil {
		return nil, err
	}
	return FromMatch(res.Findings), nil
}

// FromMatch converts the matcher's findings to stored ones.
func FromMatch(fs []match.Finding) []store.Finding {
	out := make([]store.Finding, 0, len(fs))
	for _, f := range fs {
		sf := store.Finding{ID: f.ID, Aliases: f.Aliases, Package: f.Package.Name, Version: f.Package.Version, Ecosystem: f.Ecosystem,
			Severity: string(f.Severity.Rating), FixPath: f.FixPath, Layer: f.Layer}
		if len(f.FixedVersions) > 0 {
			sf.Fixed = f.FixedVersions[0]
		}
		out = append(out, sf)
	}
	return out
}

type rematchWorker struct {
	river.WorkerDefaults[RematchArgs]
	e *Engine
}

// Work cuts the store into batches of inventories, one job each.
func (w *rematchWorker) Work(ctx context.Context, job *river.Job[RematchArgs]) error {
	d := w.e.deps
	size := d.RematchBatch
	if size <= 0 {
		size = 250
	}
	after, batches, total := "", 0, 0
	for {
		page, err := d.Store.InventoryDigests(ctx, after, size)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		if _, err := w.e.Enqueue(ctx, RematchBatchArgs{Digests: page}); err != nil {
			return err
		}
		batches++
		total += len(page)
		after = page[len(page)-1]
	}
	d.log().Info("re-match queued", "reason", job.Args.Reason, "inventories", total, "batches", batches)
	return nil
}

type rematchBatchWorker struct {
	river.WorkerDefaults[RematchBatchArgs]
	e *Engine
}

// Work re-matches stored inventories: no image is read, only the store and
// the database.
func (w *rematchBatchWorker) Work(ctx context.Context, job *river.Job[RematchBatchArgs]) error {
	d := w.e.deps
	start := time.Now()
	db, err := vulndb.Open(ctx, d.DBPath)
	if err != nil {
		return err
	}
	defer db.Close()
	reader := newCachingReader(db)
	// Reading and matching (the CPU) run on every core; the writes stay
	// in order, one transaction per image, as before.
	type result struct {
		fs  []store.Finding
		inv *inventory.Inventory
		err error
	}
	results := make([]result, len(job.Args.Digests))
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4, len(job.Args.Digests)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(job.Args.Digests) || ctx.Err() != nil {
					return
				}
				digest := job.Args.Digests[i]
				b, err := d.Store.Inventory(ctx, digest)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					results[i].err = err
					continue
				}
				var inv inventory.Inventory
				if err := json.Unmarshal(b, &inv); err != nil {
					d.log().Warn("re-match: stored inventory unreadable", "digest", digest, "err", err)
					continue
				}
				fs, err := matchWith(ctx, reader, &inv)
				results[i] = result{fs: fs, inv: &inv, err: err}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	// One transaction for the batch's writes: one commit, not one per image.
	var ups []store.FindingsUpdate
	var invs []*inventory.Inventory
	for i, digest := range job.Args.Digests {
		r := results[i]
		if r.err != nil {
			return r.err
		}
		if r.inv != nil {
			ups = append(ups, store.FindingsUpdate{Digest: digest, Findings: r.fs})
			invs = append(invs, r.inv)
		}
	}
	diffs, err := d.Store.SaveFindingsMany(ctx, ups, store.EventRematch)
	if err != nil {
		return err
	}
	changed := 0
	for i, u := range ups {
		if diffs[i].Changed() || d.Signer != nil && !w.e.hasVerdict(ctx, u.Digest) {
			changed++
			if d.Signer != nil {
				if _, err := w.e.Enqueue(ctx, SignArgs{Digest: u.Digest, Insecure: d.insecure(invs[i].Source.Name)}); err != nil {
					return err
				}
			}
		}
	}
	d.observe("rematch", start)
	d.log().Info("re-matched", "inventories", len(job.Args.Digests), "changed", changed)
	return nil
}

func (d *Deps) insecure(repo string) bool {
	for _, t := range d.Targets {
		if t.Insecure && strings.HasPrefix(repo, t.Registry+"/") {
			return true
		}
	}
	return false
}

type dbUpdateWorker struct {
	river.WorkerDefaults[DBUpdateArgs]
	e *Engine
}

// metaDBFingerprint keys the fingerprint of the database last matched.
const metaDBFingerprint = "vulndb-fingerprint"

// Work updates the database (when configured) and, when its content moved
// since the last match, queues a re-match of everything stored.
func (w *dbUpdateWorker) Work(ctx context.Context, _ *river.Job[DBUpdateArgs]) error {
	d := w.e.deps
	if d.UpdateDB != nil {
		if err := d.UpdateDB(ctx); err != nil {
			return fmt.Errorf("db update: %w", err)
		}
	}
	fp, err := DBFingerprint(ctx, d.DBPath)
	if err != nil || fp == "" {
		return err
	}
	last, err := d.Store.Meta(ctx, metaDBFingerprint)
	if err != nil {
		return err
	}
	if last == fp {
		return nil
	}
	if _, err := w.e.Enqueue(ctx, RematchArgs{Reason: "db-update"}); err != nil {
		return err
	}
	if err := d.Store.AddEvent(ctx, store.Event{Kind: store.EventDBUpdate, Detail: "vulnerability database changed: re-match queued"}); err != nil {
		return err
	}
	return d.Store.SetMeta(ctx, metaDBFingerprint, fp)
}

// DBFingerprint identifies the database content by its ecosystems' sources
// and load times ("" when there is no database yet).
func DBFingerprint(ctx context.Context, path string) (string, error) {
	db, err := vulndb.Open(ctx, path)
	if errors.Is(err, vulndb.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range st.Ecosystems {
		parts = append(parts, fmt.Sprintf("%s|%s|%s", e.Ecosystem, e.Source, e.UpdatedAt.UTC().Format(time.RFC3339Nano)))
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:]), nil
}

type signWorker struct {
	river.WorkerDefaults[SignArgs]
	e *Engine
}

// Work signs a verdict for the digest's stored inventory and current
// findings, unless the verdict already pushed judged the same findings.
func (w *signWorker) Work(ctx context.Context, job *river.Job[SignArgs]) error {
	d := w.e.deps
	if d.Signer == nil {
		return nil
	}
	b, err := d.Store.Inventory(ctx, job.Args.Digest)
	if err != nil {
		return err
	}
	var inv inventory.Inventory
	if err := json.Unmarshal(b, &inv); err != nil {
		return river.JobCancel(fmt.Errorf("sign %s: stored inventory unreadable: %w", job.Args.Digest, err))
	}
	db, err := vulndb.Open(ctx, d.DBPath)
	if errors.Is(err, vulndb.ErrNotFound) {
		// No database, no judgement: a verdict now would pass what was
		// never matched. The first database change re-matches and signs.
		d.log().Warn("not signing: no vulnerability database yet", "digest", job.Args.Digest)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sign %s: %w", job.Args.Digest, err)
	}
	defer db.Close()
	res, err := match.Match(ctx, db, &inv)
	if err != nil {
		return err
	}
	rep := &report.ScanReport{Inventory: &inv, Findings: res.Findings}
	ev := d.Evaluator
	if ev == nil {
		// A signer without a decision signs verdicts that never pass.
		ev = attest.NoPolicy{}
	}
	pname, passed, _, err := ev.Evaluate(ctx, rep)
	if err != nil {
		return err
	}
	fp := verdictFingerprint(pname, passed, FromMatch(res.Findings))
	if prev, err := d.Store.Verdict(ctx, job.Args.Digest); err == nil && prev.Fingerprint == fp {
		return nil // the verdict pushed already judged these findings
	}
	ref := inv.Source.Name + "@" + job.Args.Digest
	pred, _, pushed, err := loop.SignAndPush(ctx, rep, ev, ref, loop.SignOptions{Signer: d.Signer, Insecure: job.Args.Insecure, Tool: d.Tool})
	if err != nil {
		return fmt.Errorf("sign %s: %w", ref, err)
	}
	return d.Store.PutVerdict(ctx, store.Verdict{Digest: job.Args.Digest, Result: pred.Policy.Result, Policy: pred.Policy.Name,
		Fingerprint: fp, Ref: strings.Join(pushed, ","), SignedAt: time.Now()})
}

func verdictFingerprint(policyName string, passed bool, fs []store.Finding) string {
	keys := make([]string, 0, len(fs))
	for _, f := range fs {
		keys = append(keys, f.ID+"|"+f.Package+"|"+f.Version+"|"+f.Severity+"|"+f.Fixed)
	}
	sort.Strings(keys)
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%v\n%s", policyName, passed, strings.Join(keys, "\n"))))
	return hex.EncodeToString(sum[:])
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	e *Engine
}

// Work runs the freshness loop (base moved → rebuild → scan → sign → roll
// out) once and records each rebuild and rollout as events.
func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	d := w.e.deps
	if d.Reconcile == nil {
		return nil
	}
	for _, it := range d.Reconcile(ctx) {
		if err := w.e.recordRebuild(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// ReconcileImageArgs runs the freshness loop for one configured image
// (POST /api/v1/rebuild): its own rebuild only, not every image's.
type ReconcileImageArgs struct {
	// Name is the image's name in drydock.yaml's images.
	Name string `json:"name"`
}

func (ReconcileImageArgs) Kind() string { return "reconcile-image" }

// InsertOpts: one rebuild of an image queued at a time.
func (ReconcileImageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

type reconcileImageWorker struct {
	river.WorkerDefaults[ReconcileImageArgs]
	e *Engine
}

// Work brings one image up to date with its base.
func (w *reconcileImageWorker) Work(ctx context.Context, job *river.Job[ReconcileImageArgs]) error {
	d := w.e.deps
	if d.ReconcileImage == nil {
		return nil
	}
	it := d.ReconcileImage(ctx, job.Args.Name)
	d.log().Info("rebuild requested", "image", job.Args.Name, "action", it.Action, "state", it.State, "result", it.Result, "error", it.Error)
	return w.e.recordRebuild(ctx, it)
}

// recordRebuild records a rebuild (and its rollout) as events, with the
// role of the image, and queues the rebuilt digest's scan.
func (e *Engine) recordRebuild(ctx context.Context, it freshness.Item) error {
	d := e.deps
	if it.RebuildID == "" && it.Error == "" {
		return nil
	}
	digest := ""
	if i := strings.LastIndex(it.Result, "@"); i >= 0 {
		digest = it.Result[i+1:]
	}
	detail := fmt.Sprintf("%s: %s %s", it.Name, it.Action, it.State)
	if it.Error != "" {
		detail += ": " + it.Error
	}
	role := ""
	if d.Role != nil {
		role = d.Role(it.Name)
	}
	if err := d.Store.AddEvent(ctx, store.Event{Kind: store.EventRebuild, Digest: digest, Detail: detail, Role: role}); err != nil {
		return err
	}
	if it.Deployed != "" {
		if err := d.Store.AddEvent(ctx, store.Event{Kind: store.EventRollout, Digest: digest, Detail: it.Name + ": " + it.Deployed, Role: role}); err != nil {
			return err
		}
	}
	if digest != "" {
		if _, err := e.Enqueue(ctx, ResolveArgs{Ref: it.Result, Insecure: d.insecure(it.Result)}); err != nil {
			return err
		}
	}
	return nil
}

// TrendArgs samples the open fixable critical and high findings in
// running images (periodic, on the leader).
type TrendArgs struct{}

func (TrendArgs) Kind() string { return "trend-sample" }

// InsertOpts: one sample at a time.
func (TrendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// TrendKeep is how many samples the store keeps (a week at 10 minutes).
const TrendKeep = 7 * 24 * 6

type trendWorker struct {
	river.WorkerDefaults[TrendArgs]
	e *Engine
}

func (w *trendWorker) Work(ctx context.Context, _ *river.Job[TrendArgs]) error {
	p, err := w.e.deps.Store.SampleTrend(ctx, TrendKeep)
	if err != nil {
		return err
	}
	w.e.deps.log().Info("trend sampled", "openFixableRunning", p.Value)
	return nil
}

func (e *Engine) hasVerdict(ctx context.Context, digest string) bool {
	_, err := e.deps.Store.Verdict(ctx, digest)
	return err == nil
}
