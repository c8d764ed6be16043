package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// UpdateStats reports an Update, one entry per requested ecosystem.
type UpdateStats struct {
	Ecosystems []EcosystemUpdate
}

// EcosystemUpdate is one ecosystem's part of an Update.
type EcosystemUpdate struct {
	Ecosystem string
	URL       string
	// NotModified: the server answered 304 to the remembered validators;
	// nothing was downloaded and the ecosystem's records were kept.
	NotModified bool
	Bytes       int64       // downloaded
	Load        SourceStats // zero when NotModified
	// After is the ecosystem's row once the update is in (zero when
	// NotModified).
	After EcosystemStatus
	// Err is why this ecosystem was not updated (its download failed); its
	// previous records, if any, are kept. The others are swapped in.
	Err error
}

// ErrPartial is returned (wrapped, with each failure) when some ecosystems
// could not be downloaded: the others were updated all the same.
var ErrPartial = errors.New("some ecosystems were not updated")

// Update downloads <base>/<Ecosystem>/all.zip for each ecosystem (nil means
// DefaultEcosystems) and replaces those ecosystems' records, keeping the
// others. The ETag and Last-Modified of each export are remembered and sent
// back, so an unchanged export is not downloaded again; when nothing changed
// the file is not rewritten. Downloads stream to temporary files beside the
// database. Ecosystems are downloaded independently: one that fails to
// download keeps its previous records and is reported (EcosystemUpdate.Err,
// and an error wrapping ErrPartial) while the others are swapped in. An
// export that downloads but does not load fails the whole update, leaving
// the existing database as it was.
func Update(ctx context.Context, dbPath string, ecosystems []string, opts ...Option) (UpdateStats, error) {
	cfg := newConfig(opts)
	if len(ecosystems) == 0 {
		ecosystems = DefaultEcosystems()
	}
	ecosystems, err := CheckEcosystems(ecosystems)
	if err != nil {
		return UpdateStats{}, fmt.Errorf("update: %w", err)
	}
	var st UpdateStats
	err = withLock(ctx, dbPath, func() error {
		var err error
		st, err = update(ctx, dbPath, ecosystems, &cfg)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("update %s: %w", dbPath, err)
	}
	return st, nil
}

func update(ctx context.Context, dbPath string, ecosystems []string, cfg *config) (UpdateStats, error) {
	prev := map[string]sourceRow{}
	if !cfg.fresh {
		old, err := openSQL(ctx, dbPath)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return UpdateStats{}, fmt.Errorf("open existing database: %w", err)
		default:
			rows, err := readSources(ctx, old, "")
			old.Close()
			if err != nil {
				return UpdateStats{}, fmt.Errorf("read existing database: %w", err)
			}
			for _, r := range rows {
				prev[r.Ecosystem] = r
			}
		}
	}

	var st UpdateStats
	var srcs []source
	defer func() {
		for _, s := range srcs {
			os.Remove(s.path)
		}
	}()
	for _, eco := range ecosystems {
		u, err := exportURL(cfg.baseURL, eco)
		if err != nil {
			return st, err
		}
		eu := EcosystemUpdate{Ecosystem: eco, URL: u}
		var conditional *sourceRow
		// Validators only mean something for the same URL.
		if p, ok := prev[eco]; ok && p.Source == u {
			conditional = &p
		}
		src, n, err := download(ctx, cfg, dbPath, u, conditional, eco)
		if err != nil {
			if ctx.Err() != nil {
				return st, fmt.Errorf("download %s: %w", eco, ctx.Err())
			}
			eu.Err = fmt.Errorf("download %s: %w", eco, err)
			st.Ecosystems = append(st.Ecosystems, eu)
			continue
		}
		eu.Bytes = n
		if src == nil {
			eu.NotModified = true
		} else {
			src.ecosystem = eco
			srcs = append(srcs, *src)
		}
		st.Ecosystems = append(st.Ecosystems, eu)
	}
	var failed []string
	for _, eu := range st.Ecosystems {
		if eu.Err != nil {
			failed = append(failed, eu.Err.Error())
		}
	}
	partial := func(err error) error {
		if err == nil && len(failed) > 0 {
			return fmt.Errorf("%w: %s", ErrPartial, strings.Join(failed, "; "))
		}
		return err
	}
	if len(srcs) == 0 {
		return st, partial(nil)
	}
	ld, replaced, err := build(ctx, dbPath, cfg, func(ctx context.Context, b *builder) (loaded, error) {
		return loadSources(ctx, b, srcs)
	})
	for i := range st.Ecosystems {
		eu := &st.Ecosystems[i]
		for _, s := range ld.stats {
			if s.Source == eu.URL {
				eu.Load = s
			}
		}
		for _, r := range replaced {
			if r.Ecosystem == eu.Ecosystem {
				eu.After = r
			}
		}
	}
	return st, partial(err)
}

// CheckEcosystems validates top-level ecosystem names against
// DefaultEcosystems, ignoring case, and returns them as the export bucket
// spells them.
func CheckEcosystems(ecos []string) ([]string, error) {
	known := DefaultEcosystems()
	out := make([]string, 0, len(ecos))
	for _, e := range ecos {
		found := ""
		for _, k := range known {
			if strings.EqualFold(strings.TrimSpace(e), k) {
				found = k
			}
		}
		if found == "" {
			return nil, fmt.Errorf("unknown ecosystem %q (known: %s)", e, strings.Join(known, ", "))
		}
		out = append(out, found)
	}
	return out, nil
}

func exportURL(base, eco string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("bad base URL %q: want http(s)://host[/path]", base)
	}
	return u.JoinPath(eco, "all.zip").String(), nil
}

// download fetches u into a temporary file beside the database. It returns
// a nil source when the server says the remembered copy is current.
func download(ctx context.Context, cfg *config, dbPath, u string, prev *sourceRow, eco string) (_ *source, _ int64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	if prev != nil {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	resp, err := cfg.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		return nil, 0, nil
	case resp.StatusCode != http.StatusOK:
		return nil, 0, fmt.Errorf("GET %s: %s%s", u, resp.Status, errorDetail(resp))
	}
	if resp.ContentLength > cfg.maxDownload {
		return nil, 0, fmt.Errorf("GET %s: %d bytes is over the %d-byte download cap", u, resp.ContentLength, cfg.maxDownload)
	}

	dir, base := filepath.Split(dbPath)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".download-*")
	if err != nil {
		return nil, 0, fmt.Errorf("create download file: %w", err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	var body io.Reader = resp.Body
	if cfg.progress != nil {
		body = &progressReader{r: body, eco: eco, total: resp.ContentLength, fn: cfg.progress}
	}
	n, err := io.Copy(f, io.LimitReader(body, cfg.maxDownload+1))
	if err != nil {
		if resp.ContentLength >= 0 {
			return nil, n, fmt.Errorf("GET %s: body truncated at %d of %d bytes: %w", u, n, resp.ContentLength, err)
		}
		return nil, n, fmt.Errorf("GET %s: body broke off after %d bytes: %w", u, n, err)
	}
	if n > cfg.maxDownload {
		return nil, n, fmt.Errorf("GET %s: body is over the %d-byte download cap", u, cfg.maxDownload)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return nil, n, fmt.Errorf("GET %s: body truncated at %d of %d bytes", u, n, resp.ContentLength)
	}
	// A clear message for the common wrong answers (an HTML error page, an
	// empty body) before archive/zip reports "not a valid zip file".
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != "PK\x03\x04" {
		head := make([]byte, 64)
		k, _ := f.ReadAt(head, 0)
		if strings.Contains(resp.Header.Get("Content-Type"), "html") || bytes.HasPrefix(bytes.TrimSpace(head[:k]), []byte("<")) {
			// A login or error page: its markup helps nobody.
			return nil, n, fmt.Errorf("GET %s: response is not a zip archive but a web page (%s); check --base-url", u, resp.Header.Get("Content-Type"))
		}
		return nil, n, fmt.Errorf("GET %s: response is not a zip archive (%s, starts %q)", u, resp.Header.Get("Content-Type"), bytes.ToValidUTF8(head[:k], []byte("?")))
	}
	// A zip whose directory cannot be read (a mirror serving a partial
	// upload) fails this ecosystem here, before the others are loaded,
	// instead of failing the whole update when the database is built.
	if _, err := zip.NewReader(f, n); err != nil {
		return nil, n, fmt.Errorf("GET %s: the export is not a complete zip archive (%v); the mirror may hold a partial upload", u, err)
	}
	return &source{
		label:        u,
		path:         f.Name(),
		isZip:        true,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
	}, n, nil
}

// errorDetail is what an error response adds to its status for a reader: a
// short plain-text message, never a web page's markup.
func errorDetail(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/plain") {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	line, _, _ := strings.Cut(strings.TrimSpace(string(bytes.ToValidUTF8(b, []byte("?")))), "\n")
	if line == "" || strings.HasPrefix(line, "<") {
		return ""
	}
	return ": " + line
}

// progressReader reports a download's progress as it is read.
type progressReader struct {
	r     io.Reader
	eco   string
	done  int64
	total int64
	fn    func(eco string, done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.fn(p.eco, p.done, p.total)
	return n, err
}
