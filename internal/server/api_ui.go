package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/store"
)

// uiStore is what the endpoints added for the web UI (and any other
// client) read beyond Store: the estate summary, vulnerability search and
// the count behind paged image tables.
type uiStore interface {
	Summarize(ctx context.Context) (*store.Summary, error)
	SearchVulnerabilities(ctx context.Context, q string, limit int) ([]store.VulnMatch, error)
	CountImages(ctx context.Context, f store.ImageFilter) (int, error)
	Trend(ctx context.Context, limit int) ([]store.TrendPoint, error)
}

var _ uiStore = (*store.DB)(nil)

// TrendPoint is one sample of the open fixable critical and high findings
// in running workloads.
type TrendPoint = store.TrendPoint

// Summary is GET /api/v1/summary.
type Summary struct {
	store.Summary
	// Trend is OpenFixableRunning sampled every trendInterval by a
	// periodic job (never on read), oldest first.
	Trend []TrendPoint `json:"trend"`
}

const (
	trendInterval = 10 * time.Minute
	trendPoints   = 1000
)

func (a *API) routeUI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/summary", a.read(a.summary))
	mux.HandleFunc("GET /api/v1/vulnerabilities", a.read(a.searchVulnerabilities))
	mux.HandleFunc("POST /api/v1/rebuild", a.write(a.rebuild))
}

func (a *API) uiStore() (uiStore, error) {
	us, ok := a.Store.(uiStore)
	if !ok {
		return nil, bad("this store does not support the endpoint")
	}
	return us, nil
}

func (a *API) summary(w http.ResponseWriter, r *http.Request) error {
	if len(r.URL.Query()) > 0 {
		return bad("GET /api/v1/summary takes no parameters")
	}
	us, err := a.uiStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	sum, err := us.Summarize(ctx)
	if err != nil {
		return err
	}
	trend, err := us.Trend(ctx, trendPoints)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, Summary{Summary: *sum, Trend: trend})
}

func (a *API) searchVulnerabilities(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if k != "q" && k != "limit" {
			return bad("unknown parameter %q (want q, limit)", k)
		}
	}
	term := strings.TrimSpace(q.Get("q"))
	if term == "" || len(term) > 128 {
		return bad("q: want 1..128 characters of a vulnerability id or alias (CVE-…, GHSA-…, DSA-…)")
	}
	limit, err := limitParam(q)
	if err != nil {
		return err
	}
	us, err := a.uiStore()
	if err != nil {
		return err
	}
	ms, err := us.SearchVulnerabilities(r.Context(), term, limit)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"vulnerabilities": ms})
}

// RebuildRequest is the body of POST /api/v1/rebuild.
type RebuildRequest struct {
	Digest string `json:"digest"`
}

func (a *API) rebuild(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return bad("body too large or unreadable")
	}
	var req RebuildRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bad("body: want {\"digest\": \"sha256:…\"}: %v", err)
	}
	if !digestRE().MatchString(req.Digest) {
		return bad("digest %q: want sha256:<64 hex>", req.Digest)
	}
	im, err := a.Store.Image(r.Context(), req.Digest)
	if err != nil {
		return err
	}
	if a.Rebuild == nil {
		fail(w, http.StatusServiceUnavailable, "rebuilds are off: configure the freshness loop (watch.images) in drydock.yaml")
		return nil
	}
	name, err := a.Rebuild(r.Context(), im)
	if err != nil {
		return err
	}
	return reply(w, http.StatusAccepted, map[string]string{"queued": "rebuild", "image": name, "digest": req.Digest})
}

// imagePaging reads the UI-oriented parameters of GET /images.
func imagePaging(q map[string][]string, f *store.ImageFilter) error {
	get := func(k string) string {
		if vs := q[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	f.Query = get("q")
	if len(f.Query) > 256 {
		return bad("q: at most 256 characters")
	}
	if b := get("base"); b != "" {
		if !digestRE().MatchString(b) {
			return bad("base=%q: want a sha256 digest", b)
		}
		f.BaseDigest = b
	}
	if s := get("sort"); s != "" {
		if _, ok := store.ImageSorts[s]; !ok {
			return bad("sort=%q: want one of digest, repository, registry, base, critical, high, medium, low, fixable, total, scanned", s)
		}
		f.Sort = s
	}
	switch o := get("order"); o {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return bad("order=%q: want asc or desc", o)
	}
	if o := get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 || n > 1_000_000 {
			return bad("offset=%q: want 0..1000000", o)
		}
		f.Offset = n
	}
	return nil
}
