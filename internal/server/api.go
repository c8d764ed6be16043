package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/store"
)

// Store is what the API reads.
type Store interface {
	Image(ctx context.Context, digest string) (*store.Image, error)
	Images(ctx context.Context, f store.ImageFilter) ([]store.Image, error)
	Findings(ctx context.Context, digest string) ([]store.Finding, error)
	Affected(ctx context.Context, id string) ([]store.Finding, error)
	Inventory(ctx context.Context, digest string) ([]byte, error)
	Verdict(ctx context.Context, digest string) (*store.Verdict, error)
	Workloads(ctx context.Context, digest string) ([]store.Workload, error)
	Events(ctx context.Context, f store.EventFilter) ([]store.Event, error)
	ImagesByDigest(ctx context.Context, digests []string) (map[string]*store.Image, error)
	ImagesInRepositories(ctx context.Context, repos []string) ([]store.Image, error)
	WorkloadsRunning(ctx context.Context, digests []string) ([]store.Workload, error)
	LastEvent(ctx context.Context, kind string, digests []string) (map[string]time.Time, error)
	Ping(ctx context.Context) error
}

var _ Store = (*store.DB)(nil)

// API serves /api/v1.
type API struct {
	Store Store
	// Enqueue queues a job (nil: POST /scan answers 503).
	Enqueue func(ctx context.Context, ref string, insecure bool) error
	// Rebuild queues the rebuild of the one configured image the digest
	// belongs to and returns its name in drydock.yaml (nil: POST /rebuild
	// answers 503).
	Rebuild func(ctx context.Context, im *store.Image) (string, error)
	// Token authenticates requests; reads without it are allowed only
	// when OpenReads is set (a loopback listener).
	Token     string
	OpenReads bool
	// Insecure reports registries reached over plain HTTP.
	Insecure func(ref string) bool
	// StreamPoll is how often an event stream reads new events (default 1s).
	StreamPoll time.Duration
	// streams counts the open event streams (at most maxStreams).
	streams atomic.Int32
}

func (a *API) authorized(r *http.Request) bool {
	if a.Token == "" {
		return false
	}
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(a.Token)) == 1
}

// Handler routes the API.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/images", a.read(a.images))
	mux.HandleFunc("GET /api/v1/images/{digest}", a.read(a.image))
	mux.HandleFunc("GET /api/v1/vulnerabilities/{id}", a.read(a.vulnerability))
	mux.HandleFunc("GET /api/v1/workloads", a.read(a.workloads))
	mux.HandleFunc("GET /api/v1/events", a.read(a.events))
	mux.HandleFunc("GET /api/v1/events/stream", a.read(a.eventStream))
	mux.HandleFunc("POST /api/v1/scan", a.write(a.scan))
	a.routeUI(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/server-api.yaml)")
	})
	return mux
}

func (a *API) read(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !a.OpenReads && !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drydock"`)
			fail(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		a.serve(w, r, h)
	}
}

func (a *API) write(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Token == "" {
			fail(w, http.StatusForbidden, "writes are disabled: configure server.tokenEnv")
			return
		}
		if !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="drydock"`)
			fail(w, http.StatusUnauthorized, "a bearer token is required")
			return
		}
		a.serve(w, r, h)
	}
}

// badRequest is an error the client caused.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func (a *API) serve(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) error) {
	err := h(w, r)
	var br *badRequest
	switch {
	case err == nil:
	case errors.As(err, &br):
		fail(w, http.StatusBadRequest, br.msg)
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	default:
		fail(w, http.StatusInternalServerError, "internal error")
	}
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func reply(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// The patterns are compiled on first use: their bounded repetitions make
// large programs, and every drydock command (not only the server) would
// otherwise pay for them at start-up.
var (
	digestRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^sha256:[a-f0-9]{64}$`) })
	vulnIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{1,127}$`) })
)

func boolParam(q map[string][]string, key string) (*bool, error) {
	v := ""
	if vs := q[key]; len(vs) > 0 {
		v = vs[0]
	}
	switch v {
	case "":
		return nil, nil
	case "true":
		b := true
		return &b, nil
	case "false":
		b := false
		return &b, nil
	}
	return nil, bad("%s=%q: want true or false", key, v)
}

func limitParam(q map[string][]string) (int, error) {
	vs := q["limit"]
	if len(vs) == 0 || vs[0] == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < 1 || n > 1000 {
		return 0, bad("limit=%q: want 1..1000", vs[0])
	}
	return n, nil
}

var imageParams = map[string]bool{"registry": true, "repository": true, "severity": true, "fixable": true, "running": true, "after": true, "limit": true,
	"q": true, "base": true, "sort": true, "order": true, "offset": true, "total": true}

func (a *API) images(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if !imageParams[k] {
			return bad("unknown parameter %q (want registry, repository, q, base, severity, fixable, running, sort, order, offset, after, limit, total)", k)
		}
	}
	f := store.ImageFilter{Registry: q.Get("registry"), Repository: q.Get("repository"), After: q.Get("after")}
	if s := q.Get("severity"); s != "" {
		if store.SeverityRank(s) < 0 {
			return bad("severity=%q: want critical, high, medium, low or unknown", s)
		}
		f.MinSeverity = s
	}
	if err := imageCursor(&f); err != nil {
		return err
	}
	var err error
	if f.Fixable, err = boolParam(q, "fixable"); err != nil {
		return err
	}
	if f.Running, err = boolParam(q, "running"); err != nil {
		return err
	}
	if f.Limit, err = limitParam(q); err != nil {
		return err
	}
	if err := imagePaging(q, &f); err != nil {
		return err
	}
	ims, err := a.Store.Images(r.Context(), f)
	if err != nil {
		return err
	}
	rows, err := a.imageRows(r.Context(), ims)
	if err != nil {
		return err
	}
	resp := map[string]any{"images": rows}
	if len(ims) == f.Limit && f.Sort == "" && !f.Desc && f.Offset == 0 {
		last := ims[len(ims)-1]
		resp["next"] = last.Digest + "," + last.Repository + "," + last.Registry
	}
	if q.Get("total") == "true" {
		us, err := a.uiStore()
		if err != nil {
			return err
		}
		if resp["total"], err = us.CountImages(r.Context(), f); err != nil {
			return err
		}
	}
	return reply(w, http.StatusOK, resp)
}

// imageCursor reads after: a previous page's next ("<digest>,<repository>,<registry>",
// the last row: a digest is a row per repository) or a bare digest (the
// rows after that digest's).
func imageCursor(f *store.ImageFilter) error {
	if f.After == "" {
		return nil
	}
	parts := strings.SplitN(f.After, ",", 3)
	if !digestRE().MatchString(parts[0]) || len(parts) == 2 {
		return bad("after=%q: want the previous page's next (or a sha256 digest)", f.After)
	}
	f.After = parts[0]
	if len(parts) == 3 {
		f.AfterRepository, f.AfterRegistry = parts[1], parts[2]
	}
	return nil
}

// repositoriesOf lists the repositories an image read by digest is in
// (its first one when the store gave none).
func repositoriesOf(im *store.Image) []store.Reference {
	if len(im.Repositories) > 0 {
		return im.Repositories
	}
	return []store.Reference{{Registry: im.Registry, Repository: im.Repository, Tags: im.Tags}}
}

// ImageRow is one image of GET /api/v1/images.
type ImageRow struct {
	store.Image
	// BaseKnown says the base digest is an image this server stores.
	BaseKnown bool `json:"baseKnown"`
}

// imageRows marks the rows whose base image is stored (one query a page).
func (a *API) imageRows(ctx context.Context, ims []store.Image) ([]ImageRow, error) {
	rows := make([]ImageRow, len(ims))
	var bases []string
	for i, im := range ims {
		rows[i].Image = im
		if im.BaseDigest != "" {
			bases = append(bases, im.BaseDigest)
		}
	}
	if len(bases) == 0 {
		return rows, nil
	}
	known, err := a.Store.ImagesByDigest(ctx, bases)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].BaseKnown = rows[i].BaseDigest != "" && known[rows[i].BaseDigest] != nil
	}
	return rows, nil
}

// ImageDetail is GET /api/v1/images/{digest}.
type ImageDetail struct {
	store.Image
	// Labels are the image config's labels.
	Labels    map[string]string   `json:"labels,omitempty"`
	Packages  []inventory.Package `json:"packages"`
	Layers    []inventory.Layer   `json:"layers,omitempty"`
	OS        *inventory.OS       `json:"os,omitempty"`
	Lineage   Lineage             `json:"lineage"`
	Findings  []store.Finding     `json:"findings"`
	Verdict   *store.Verdict      `json:"verdict,omitempty"`
	Workloads []store.Workload    `json:"workloads"`
	Problems  []inventory.Problem `json:"problems,omitempty"`
}

// Lineage names the base the image was built on.
type Lineage struct {
	BaseName   string `json:"baseName,omitempty"`
	BaseDigest string `json:"baseDigest,omitempty"`
	BaseLayers int    `json:"baseLayers,omitempty"`
	Method     string `json:"method,omitempty"`
	// BaseKnown says the base digest is an image this server stores (its
	// page and GET /images/{baseDigest} exist).
	BaseKnown bool `json:"baseKnown"`
}

func (a *API) image(w http.ResponseWriter, r *http.Request) error {
	digest := r.PathValue("digest")
	if !digestRE().MatchString(digest) {
		return bad("%q is not a sha256 digest (sha256:<64 hex>)", digest)
	}
	ctx := r.Context()
	im, err := a.Store.Image(ctx, digest)
	if err != nil {
		return err
	}
	d := ImageDetail{Image: *im, Packages: []inventory.Package{}, Findings: []store.Finding{}, Workloads: []store.Workload{}}
	if b, err := a.Store.Inventory(ctx, digest); err == nil {
		var inv inventory.Inventory
		if err := json.Unmarshal(b, &inv); err == nil {
			d.Packages, d.Layers, d.OS, d.Problems = inv.Packages, inv.Layers, inv.OS, inv.Problems
			d.Lineage = Lineage{BaseName: inv.Source.BaseName, BaseDigest: inv.Source.BaseDigest, BaseLayers: inv.Source.BaseLayers, Method: inv.Source.BaseMethod}
			d.Labels = inv.Source.Labels
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if d.Lineage.BaseDigest == "" && im.BaseDigest != "" {
		d.Lineage.BaseName, d.Lineage.BaseDigest = im.BaseName, im.BaseDigest
	}
	if d.Lineage.BaseDigest != "" {
		known, err := a.Store.ImagesByDigest(ctx, []string{d.Lineage.BaseDigest})
		if err != nil {
			return err
		}
		d.Lineage.BaseKnown = known[d.Lineage.BaseDigest] != nil
	}
	if fs, err := a.Store.Findings(ctx, digest); err != nil {
		return err
	} else if fs != nil {
		d.Findings = fs
	}
	if v, err := a.Store.Verdict(ctx, digest); err == nil {
		d.Verdict = v
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if ws, err := a.Store.Workloads(ctx, digest); err != nil {
		return err
	} else if ws != nil {
		d.Workloads = ws
	}
	return reply(w, http.StatusOK, d)
}

// AffectedImage is one image a vulnerability is found in.
type AffectedImage struct {
	Digest     string   `json:"digest"`
	Repository string   `json:"repository"`
	Tags       []string `json:"tags,omitempty"`
	Package    string   `json:"package"`
	Version    string   `json:"version"`
	Fixed      string   `json:"fixedVersion,omitempty"`
	Severity   string   `json:"severity"`
	FixPath    string   `json:"fixPath,omitempty"`
}

// Vulnerability is GET /api/v1/vulnerabilities/{id}.
type Vulnerability struct {
	ID            string   `json:"id"`
	Aliases       []string `json:"aliases,omitempty"`
	FixedVersions []string `json:"fixedVersions"`
	// Images and Workloads are one page (offset, limit; workloadOffset,
	// workloadLimit) of ImagesTotal and WorkloadsTotal.
	Images         []AffectedImage  `json:"images"`
	ImagesTotal    int              `json:"imagesTotal"`
	Workloads      []store.Workload `json:"workloads"`
	WorkloadsTotal int              `json:"workloadsTotal"`
	PatchLatency   PatchLatency     `json:"patchLatency"`
}

// pageParam reads an offset (0..1000000) or a limit (1..1000, default 100).
func pageParam(q map[string][]string, key string, def, lo, hi int) (int, error) {
	vs := q[key]
	if len(vs) == 0 || vs[0] == "" {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || n < lo || n > hi {
		return 0, bad("%s=%q: want %d..%d", key, vs[0], lo, hi)
	}
	return n, nil
}

func page[T any](xs []T, offset, limit int) []T {
	if offset >= len(xs) {
		return xs[:0]
	}
	return xs[offset:min(len(xs), offset+limit)]
}

func (a *API) vulnerability(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !vulnIDRE().MatchString(id) {
		return bad("%q is not a vulnerability id (such as CVE-2024-6387 or GHSA-xxxx-xxxx-xxxx)", id)
	}
	q := r.URL.Query()
	for k := range q {
		if k != "offset" && k != "limit" && k != "workloadOffset" && k != "workloadLimit" {
			return bad("unknown parameter %q (want offset, limit, workloadOffset, workloadLimit)", k)
		}
	}
	var off, lim, woff, wlim int
	var err error
	if off, err = pageParam(q, "offset", 0, 0, 1_000_000); err != nil {
		return err
	}
	if lim, err = pageParam(q, "limit", 100, 1, 1000); err != nil {
		return err
	}
	if woff, err = pageParam(q, "workloadOffset", 0, 0, 1_000_000); err != nil {
		return err
	}
	if wlim, err = pageParam(q, "workloadLimit", 100, 1, 1000); err != nil {
		return err
	}
	ctx := r.Context()
	fs, err := a.Store.Affected(ctx, id)
	if err != nil {
		return err
	}
	v := Vulnerability{ID: id, FixedVersions: []string{}, Images: []AffectedImage{}, Workloads: []store.Workload{}}
	aliases, fixed := map[string]bool{}, map[string]bool{}
	var digests []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.Digest] {
			seen[f.Digest] = true
			digests = append(digests, f.Digest)
		}
	}
	images, err := a.Store.ImagesByDigest(ctx, digests)
	if err != nil {
		return err
	}
	if ws, err := a.Store.WorkloadsRunning(ctx, digests); err != nil {
		return err
	} else if ws != nil {
		v.Workloads = ws
	}
	for _, f := range fs {
		for _, al := range append([]string{f.ID}, f.Aliases...) {
			if al != id {
				aliases[al] = true
			}
		}
		if f.Fixed != "" {
			fixed[f.Fixed] = true
		}
		im := images[f.Digest]
		if im == nil {
			continue
		}
		// Under each repository the digest is in, as the image listing.
		for _, r := range repositoriesOf(im) {
			v.Images = append(v.Images, AffectedImage{Digest: f.Digest, Repository: r.Repository, Tags: r.Tags, Package: f.Package,
				Version: f.Version, Fixed: f.Fixed, Severity: f.Severity, FixPath: f.FixPath})
		}
	}
	if len(fs) == 0 {
		// Known only from history (fixed everywhere, or never seen).
		evs, err := a.Store.Events(ctx, store.EventFilter{VulnID: id, Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return fmt.Errorf("vulnerability %s is in no stored image: %w", id, store.ErrNotFound)
		}
	}
	v.Aliases = keys(aliases)
	v.FixedVersions = keys(fixed)
	if v.FixedVersions == nil {
		v.FixedVersions = []string{}
	}
	lat, err := patchLatency(ctx, a.Store, id, fs, images, len(v.Workloads) > 0)
	if err != nil {
		return err
	}
	v.PatchLatency = lat
	// Whole lists feed the latencies; one page of each is served, in a
	// stable order (repository, digest, package).
	sort.SliceStable(v.Images, func(i, j int) bool {
		a, b := v.Images[i], v.Images[j]
		if a.Repository != b.Repository {
			return a.Repository < b.Repository
		}
		if a.Digest != b.Digest {
			return a.Digest < b.Digest
		}
		return a.Package < b.Package
	})
	v.ImagesTotal, v.WorkloadsTotal = len(v.Images), len(v.Workloads)
	v.Images, v.Workloads = page(v.Images, off, lim), page(v.Workloads, woff, wlim)
	return reply(w, http.StatusOK, v)
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *API) workloads(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := q.Get("digest")
	if d != "" && !digestRE().MatchString(d) {
		return bad("digest=%q: want a sha256 digest", d)
	}
	ws, err := a.Store.Workloads(r.Context(), d)
	if err != nil {
		return err
	}
	if ws == nil {
		ws = []store.Workload{}
	}
	return reply(w, http.StatusOK, map[string]any{"workloads": ws})
}

func (a *API) events(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.EventFilter{Kind: q.Get("kind"), Digest: q.Get("digest"), VulnID: q.Get("vulnerability")}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return bad("before=%q: want an event id", b)
		}
		f.Before = n
	}
	var err error
	if f.Limit, err = limitParam(q); err != nil {
		return err
	}
	evs, err := a.Store.Events(r.Context(), f)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []store.Event{}
	}
	resp := map[string]any{"events": evs}
	if len(evs) == f.Limit {
		resp["next"] = evs[len(evs)-1].ID
	}
	return reply(w, http.StatusOK, resp)
}

// ScanRequest is the body of POST /api/v1/scan.
type ScanRequest struct {
	Ref string `json:"ref"`
}

func (a *API) scan(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return bad("body too large or unreadable")
	}
	var req ScanRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bad("body: want {\"ref\": \"registry/repository:tag\"}: %v", err)
	}
	if req.Ref == "" {
		return bad("ref: required (a registry image reference)")
	}
	insecure := a.Insecure != nil && a.Insecure(req.Ref)
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(req.Ref, append(opts, name.StrictValidation)...)
	if err != nil {
		return bad("ref %q: %v", req.Ref, err)
	}
	if a.Enqueue == nil {
		fail(w, http.StatusServiceUnavailable, "the job queue is not running")
		return nil
	}
	if err := a.Enqueue(r.Context(), ref.Name(), insecure); err != nil {
		return err
	}
	return reply(w, http.StatusAccepted, map[string]string{"queued": ref.Name()})
}
