package server

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/store"
)

// The web UI is rendered on the server from the JSON of /api/v1: each page
// handler calls the API's own handler in process (same routing,
// validation and types as any client), so a page can show nothing the API
// does not serve. The small script (static/app.js) only adds what must be
// live or needs the user's token: the activity stream (polling
// /api/v1/events) and the rescan and rebuild buttons (POST with
// Authorization: Bearer from sessionStorage, never from the page).

//go:embed ui/templates/*.html
var templateFS embed.FS

//go:embed ui/static
var staticFS embed.FS

// csp forbids inline script and style, foreign origins and framing: a
// hostile string that escaped into the page could still not run.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// UI serves the web UI at /.
type UI struct {
	API   *API
	pages map[string]*template.Template
	api   http.Handler
}

// NewUI parses the embedded templates.
func NewUI(api *API) (*UI, error) {
	u := &UI{API: api, pages: map[string]*template.Template{}, api: api.Handler()}
	names, err := fs.Glob(templateFS, "ui/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(n[len("ui/templates/"):], ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "ui/templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("ui template %s: %w", n, err)
		}
		u.pages[base] = t
	}
	return u, nil
}

// Handler routes the pages and the static files.
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "ui/static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /{$}", u.page(u.overview))
	mux.HandleFunc("GET /images", u.page(u.images))
	mux.HandleFunc("GET /images/{digest}", u.page(u.image))
	mux.HandleFunc("GET /vulnerabilities", u.page(u.vulnerabilities))
	mux.HandleFunc("GET /vulnerabilities/{id}", u.page(u.vulnerability))
	mux.HandleFunc("GET /workloads", u.page(u.workloads))
	mux.HandleFunc("GET /activity", u.page(u.activity))
	mux.HandleFunc("/", u.page(func(r *http.Request) (string, any, error) {
		return "", nil, &apiError{code: http.StatusNotFound, msg: "no such page: " + r.URL.Path}
	}))
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// apiError is a non-2xx answer of the API, shown on the page.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// get calls GET path on the API in process and decodes its JSON.
func (u *UI) get(ctx context.Context, path string, v any) error {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	u.api.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &e)
		if e.Error == "" {
			e.Error = http.StatusText(rec.Code)
		}
		return &apiError{code: rec.Code, msg: e.Error}
	}
	return json.Unmarshal(rec.Body.Bytes(), v)
}

type pageData struct {
	Title string
	Nav   string
	Data  any
	Err   string
}

func (u *UI) page(h func(r *http.Request) (string, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !u.API.OpenReads {
			// Pages are read without a bearer token; where the API needs
			// one for reads, so does the UI (fail closed).
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, "The web UI is served only on a loopback listener (reads need a token here). Reach it with kubectl port-forward or ssh -L to a loopback server.listen, or use the API with a bearer token.")
			return
		}
		name, data, err := h(r)
		code := http.StatusOK
		pd := pageData{Data: data}
		if err != nil {
			code = http.StatusInternalServerError
			msg := "internal error"
			if ae, ok := err.(*apiError); ok {
				code, msg = ae.code, ae.msg
			}
			name, pd = "error", pageData{Title: http.StatusText(code), Err: msg}
		}
		t := u.pages[name]
		if name == "" || t == nil {
			t = u.pages["error"]
		}
		if pd.Title == "" {
			pd.Title = titles[name]
		}
		pd.Nav = name
		var buf bytes.Buffer
		if err := t.Execute(&buf, pd); err != nil {
			http.Error(w, "render failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		buf.WriteTo(w)
	}
}

var titles = map[string]string{"overview": "Overview", "images": "Images", "image": "Image", "vulnerabilities": "Vulnerabilities",
	"vulnerability": "Vulnerability", "workloads": "Workloads", "activity": "Activity"}

var funcs = template.FuncMap{
	"short": func(d string) string {
		d = strings.TrimPrefix(d, "sha256:")
		if len(d) > 12 {
			return d[:12]
		}
		return d
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return humanDuration(time.Since(t)) + " ago"
	},
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"dur":   func(s float64) string { return humanDuration(time.Duration(s * float64(time.Second))) },
	"since": func(t time.Time) string { return humanDuration(time.Since(t)) },
	"lower": strings.ToLower,
	"join":  strings.Join,
	"list":  func(xs ...string) []string { return xs },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// chart is the trend as an inline SVG polyline (no script, no style).
type chart struct {
	Points         string
	Max            int
	First, Last    string
	Width, Height  int
	LastX, LastY   float64
	LastValue, Len int
}

func trendChart(tr []TrendPoint) chart {
	c := chart{Width: 600, Height: 160, Len: len(tr)}
	if len(tr) == 0 {
		return c
	}
	for _, p := range tr {
		c.Max = max(c.Max, p.Value)
	}
	top := math.Max(float64(c.Max), 1)
	t0, t1 := tr[0].At, tr[len(tr)-1].At
	span := t1.Sub(t0).Seconds()
	var pts []string
	for i, p := range tr {
		x := 0.0
		if span > 0 {
			x = p.At.Sub(t0).Seconds() / span * float64(c.Width-20)
		} else if len(tr) > 1 {
			x = float64(i) / float64(len(tr)-1) * float64(c.Width-20)
		}
		y := float64(c.Height-10) - float64(p.Value)/top*float64(c.Height-30)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x+10, y))
		c.LastX, c.LastY = x+10, y
	}
	c.Points = strings.Join(pts, " ")
	c.First, c.Last = t0.UTC().Format("2006-01-02 15:04"), t1.UTC().Format("2006-01-02 15:04")
	c.LastValue = tr[len(tr)-1].Value
	return c
}

func (u *UI) overview(r *http.Request) (string, any, error) {
	var s Summary
	if err := u.get(r.Context(), "/api/v1/summary", &s); err != nil {
		return "", nil, err
	}
	type sevRow struct {
		Severity            string
		Fixable, NotFixable int
	}
	var rows []sevRow
	for _, sev := range []string{"critical", "high", "medium", "low", "unknown"} {
		f := s.Findings[sev]
		rows = append(rows, sevRow{sev, f.Fixable, f.NotFixable})
	}
	return "overview", map[string]any{"S": s, "Severities": rows, "Chart": trendChart(s.Trend)}, nil
}

const pageSize = 50

// imagesQuery are the table's parameters, kept in the URL.
type imagesQuery struct {
	Q, Registry, Severity, Fixable, Running, Sort, Order string
	Page                                                 int
}

func (q imagesQuery) url(change func(*imagesQuery)) string {
	if change != nil {
		change(&q)
	}
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "registry": q.Registry, "severity": q.Severity, "fixable": q.Fixable,
		"running": q.Running, "sort": q.Sort, "order": q.Order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return "/images"
	}
	return "/images?" + v.Encode()
}

type sortLink struct {
	Label, URL, Aria string
}

func (u *UI) images(r *http.Request) (string, any, error) {
	in := r.URL.Query()
	q := imagesQuery{Q: in.Get("q"), Registry: in.Get("registry"), Severity: in.Get("severity"), Fixable: in.Get("fixable"),
		Running: in.Get("running"), Sort: in.Get("sort"), Order: in.Get("order"), Page: 1}
	if p := in.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return "", nil, &apiError{code: http.StatusBadRequest, msg: fmt.Sprintf("page=%q: want a page number from 1", p)}
		}
		q.Page = n
	}
	v := url.Values{"limit": {strconv.Itoa(pageSize)}, "total": {"true"}, "offset": {strconv.Itoa((q.Page - 1) * pageSize)}}
	for k, s := range map[string]string{"q": q.Q, "registry": q.Registry, "severity": q.Severity, "fixable": q.Fixable,
		"running": q.Running, "sort": q.Sort, "order": q.Order} {
		if s != "" {
			v.Set(k, s)
		}
	}
	var resp struct {
		Images []ImageRow `json:"images"`
		Total  int        `json:"total"`
	}
	if err := u.get(r.Context(), "/api/v1/images?"+v.Encode(), &resp); err != nil {
		return "", nil, err
	}
	pages := max(1, (resp.Total+pageSize-1)/pageSize)
	sorts := map[string]sortLink{}
	for _, col := range []string{"registry", "repository", "base", "critical", "high", "medium", "low", "fixable", "scanned"} {
		order, aria := "asc", "none"
		if q.Sort == col {
			if q.Order == "desc" {
				aria = "descending"
			} else {
				order, aria = "desc", "ascending"
			}
		} else if col != "registry" && col != "repository" && col != "base" {
			order = "desc"
		}
		sorts[col] = sortLink{URL: q.url(func(n *imagesQuery) { n.Sort, n.Order, n.Page = col, order, 1 }), Aria: aria}
	}
	d := map[string]any{"Q": q, "Images": resp.Images, "Total": resp.Total, "Page": q.Page, "Pages": pages, "Sorts": sorts}
	if q.Page > 1 {
		d["Prev"] = q.url(func(n *imagesQuery) { n.Page-- })
	}
	if q.Page < pages {
		d["Next"] = q.url(func(n *imagesQuery) { n.Page++ })
	}
	return "images", d, nil
}

type layerRow struct {
	inventory.Layer
	Added []inventory.Package
}

func (u *UI) image(r *http.Request) (string, any, error) {
	digest := r.PathValue("digest")
	var d ImageDetail
	if err := u.get(r.Context(), "/api/v1/images/"+url.PathEscape(digest), &d); err != nil {
		return "", nil, err
	}
	pkgQ := strings.TrimSpace(r.URL.Query().Get("pkg"))
	var pkgs []inventory.Package
	for _, p := range d.Packages {
		if pkgQ == "" || strings.Contains(strings.ToLower(p.Name), strings.ToLower(pkgQ)) || strings.Contains(p.Version, pkgQ) {
			pkgs = append(pkgs, p)
		}
	}
	groups := map[string][]store.Finding{}
	for _, f := range d.Findings {
		groups[f.FixPath] = append(groups[f.FixPath], f)
	}
	layers := make([]layerRow, len(d.Layers))
	for i, l := range d.Layers {
		layers[i].Layer = l
	}
	for _, p := range d.Packages {
		if p.LayerIndex >= 0 && p.LayerIndex < len(layers) {
			layers[p.LayerIndex].Added = append(layers[p.LayerIndex].Added, p)
		}
	}
	var deps struct {
		Images []store.Image `json:"images"`
		Total  int           `json:"total"`
	}
	if err := u.get(r.Context(), "/api/v1/images?limit=50&total=true&base="+url.QueryEscape(digest), &deps); err != nil {
		return "", nil, err
	}
	// The base is linked only when the server stores it (no link to a
	// page that would answer 404).
	var base *ImageDetail
	if d.Lineage.BaseKnown {
		var b ImageDetail
		if err := u.get(r.Context(), "/api/v1/images/"+url.PathEscape(d.Lineage.BaseDigest), &b); err == nil {
			base = &b
		}
	}
	type label struct{ Key, Value string }
	var labels []label
	for k, v := range d.Labels {
		labels = append(labels, label{k, v})
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Key < labels[j].Key })
	rescan := d.Repository + "@" + d.Digest
	if len(d.Tags) > 0 {
		rescan = d.Repository + ":" + d.Tags[0]
	}
	return "image", map[string]any{"D": d, "Packages": pkgs, "PkgQ": pkgQ, "Base": groups["base"], "App": groups["app"],
		"Other": groups[""], "Layers": layers, "Dependents": deps.Images, "DependentsTotal": deps.Total, "BaseImage": base,
		"RescanRef": rescan, "Labels": labels}, nil
}

func (u *UI) vulnerabilities(r *http.Request) (string, any, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := map[string]any{"Q": q}
	if q != "" {
		var resp struct {
			Vulnerabilities []store.VulnMatch `json:"vulnerabilities"`
		}
		if err := u.get(r.Context(), "/api/v1/vulnerabilities?limit=200&q="+url.QueryEscape(q), &resp); err != nil {
			return "", nil, err
		}
		d["Results"] = resp.Vulnerabilities
	}
	return "vulnerabilities", d, nil
}

var stepNames = map[string]string{StepFixAvailable: "Fix available", StepBaseRebuilt: "Base image rebuilt",
	StepAppRebuilt: "Application image rebuilt", StepRolledOut: "Rolled out (last pod off)"}

// vulnPageSize is the rows of affected images (and of workloads) a
// vulnerability page shows; the rest are further pages.
const vulnPageSize = 100

func (u *UI) vulnerability(r *http.Request) (string, any, error) {
	id := r.PathValue("id")
	in := r.URL.Query()
	pageOf := func(k string) (int, error) {
		p := in.Get(k)
		if p == "" {
			return 1, nil
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 10000 {
			return 0, &apiError{code: http.StatusBadRequest, msg: fmt.Sprintf("%s=%q: want a page number from 1", k, p)}
		}
		return n, nil
	}
	pg, err := pageOf("page")
	if err != nil {
		return "", nil, err
	}
	wpg, err := pageOf("wpage")
	if err != nil {
		return "", nil, err
	}
	v := url.Values{"offset": {strconv.Itoa((pg - 1) * vulnPageSize)}, "limit": {strconv.Itoa(vulnPageSize)},
		"workloadOffset": {strconv.Itoa((wpg - 1) * vulnPageSize)}, "workloadLimit": {strconv.Itoa(vulnPageSize)}}
	var vuln Vulnerability
	if err := u.get(r.Context(), "/api/v1/vulnerabilities/"+url.PathEscape(id)+"?"+v.Encode(), &vuln); err != nil {
		return "", nil, err
	}
	link := func(p, w int) string {
		q := url.Values{}
		if p > 1 {
			q.Set("page", strconv.Itoa(p))
		}
		if w > 1 {
			q.Set("wpage", strconv.Itoa(w))
		}
		if len(q) == 0 {
			return "/vulnerabilities/" + url.PathEscape(id)
		}
		return "/vulnerabilities/" + url.PathEscape(id) + "?" + q.Encode()
	}
	d := map[string]any{"V": vuln, "Steps": vuln.PatchLatency.Timeline, "StepNames": stepNames,
		"Page": pg, "Pages": max(1, (vuln.ImagesTotal+vulnPageSize-1)/vulnPageSize),
		"WPage": wpg, "WPages": max(1, (vuln.WorkloadsTotal+vulnPageSize-1)/vulnPageSize)}
	if pg > 1 {
		d["Prev"] = link(pg-1, wpg) + "#vi-h"
	}
	if pg*vulnPageSize < vuln.ImagesTotal {
		d["Next"] = link(pg+1, wpg) + "#vi-h"
	}
	if wpg > 1 {
		d["WPrev"] = link(pg, wpg-1) + "#vw-h"
	}
	if wpg*vulnPageSize < vuln.WorkloadsTotal {
		d["WNext"] = link(pg, wpg+1) + "#vw-h"
	}
	return "vulnerability", d, nil
}

type nsGroup struct {
	Cluster, Namespace string
	Rows               []workloadRow
}

type workloadRow struct {
	store.Workload
	Image *store.Image
	// Drift: the tag the workload names now points at another digest.
	Drift bool
}

func (u *UI) workloads(r *http.Request) (string, any, error) {
	ns := r.URL.Query().Get("namespace")
	var ws struct {
		Workloads []store.Workload `json:"workloads"`
	}
	if err := u.get(r.Context(), "/api/v1/workloads", &ws); err != nil {
		return "", nil, err
	}
	images := map[string]*store.Image{}
	after := ""
	for {
		var page struct {
			Images []store.Image `json:"images"`
			Next   string        `json:"next"`
		}
		p := "/api/v1/images?running=true&limit=1000"
		if after != "" {
			p += "&after=" + after
		}
		if err := u.get(r.Context(), p, &page); err != nil {
			return "", nil, err
		}
		for i := range page.Images {
			im := &page.Images[i]
			images[im.Digest] = im
			if im.Index != "" {
				images[im.Index] = im
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	var groups []nsGroup
	namespaces := map[string]bool{}
	for _, w := range ws.Workloads {
		namespaces[w.Namespace] = true
		if ns != "" && w.Namespace != ns {
			continue
		}
		row := workloadRow{Workload: w, Image: images[w.Digest]}
		if row.Image != nil && !strings.Contains(w.Image, "@") {
			if i := strings.LastIndex(w.Image, ":"); i > strings.LastIndex(w.Image, "/") {
				tag := w.Image[i+1:]
				row.Drift = true
				for _, t := range row.Image.Tags {
					if t == tag {
						row.Drift = false
					}
				}
			}
		}
		if n := len(groups); n == 0 || groups[n-1].Cluster != w.Cluster || groups[n-1].Namespace != w.Namespace {
			groups = append(groups, nsGroup{Cluster: w.Cluster, Namespace: w.Namespace})
		}
		groups[len(groups)-1].Rows = append(groups[len(groups)-1].Rows, row)
	}
	return "workloads", map[string]any{"Groups": groups, "Namespace": ns, "Namespaces": keys(namespaces)}, nil
}

func (u *UI) activity(r *http.Request) (string, any, error) {
	kind := r.URL.Query().Get("kind")
	p := "/api/v1/events?limit=100"
	if kind != "" {
		p += "&kind=" + url.QueryEscape(kind)
	}
	var resp struct {
		Events []store.Event `json:"events"`
	}
	if err := u.get(r.Context(), p, &resp); err != nil {
		return "", nil, err
	}
	return "activity", map[string]any{"Events": resp.Events, "Kind": kind}, nil
}
