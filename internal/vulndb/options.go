package vulndb

import (
	"net/http"
	"time"
)

// DefaultBaseURL is the HTTPS face of the public OSV export bucket
// (gs://osv-vulnerabilities), which serves <Ecosystem>/all.zip.
const DefaultBaseURL = "https://osv-vulnerabilities.storage.googleapis.com"

// Option adjusts Import and Update.
type Option func(*config)

type config struct {
	baseURL        string
	client         *http.Client
	maxDownload    int64 // bytes of one downloaded all.zip
	maxRecord      int64 // uncompressed bytes of one record (zip entry or file)
	maxUncompessed int64 // uncompressed bytes of one source in total
	fresh          bool
	now            func() time.Time
	// progress, when set, is told how far each download has got (total is
	// -1 when the server did not say).
	progress func(eco string, done, total int64)
}

// defaults is the one place default limits live. The caps sit well above the
// largest real exports (Ubuntu's all.zip is the biggest, a few hundred MB) and
// exist to stop a hostile or broken server, not to trim real data.
func defaults() config {
	return config{
		baseURL:        DefaultBaseURL,
		client:         &http.Client{Timeout: 30 * time.Minute},
		maxDownload:    2 << 30,
		maxRecord:      64 << 20,
		maxUncompessed: 16 << 30,
		now:            time.Now,
	}
}

func newConfig(opts []Option) config {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithProgress has Update report each download's progress to fn, called
// from the downloading goroutine as bytes arrive.
func WithProgress(fn func(ecosystem string, done, total int64)) Option {
	return func(c *config) { c.progress = fn }
}

// WithBaseURL sets where Update fetches <base>/<Ecosystem>/all.zip from.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithHTTPClient sets the client Update downloads with.
func WithHTTPClient(h *http.Client) Option {
	return func(c *config) {
		if h != nil {
			c.client = h
		}
	}
}

// WithMaxDownloadBytes caps the size of one downloaded all.zip.
func WithMaxDownloadBytes(n int64) Option { return func(c *config) { c.maxDownload = n } }

// WithMaxRecordBytes caps the uncompressed size of one OSV record; a larger
// zip entry or file is reported as malformed rather than read.
func WithMaxRecordBytes(n int64) Option { return func(c *config) { c.maxRecord = n } }

// WithMaxUncompressedBytes caps the uncompressed bytes read from one source,
// which is what stops a zip bomb made of many small entries.
func WithMaxUncompressedBytes(n int64) Option { return func(c *config) { c.maxUncompessed = n } }

// WithFresh builds the database from the loaded sources alone instead of
// merging into the existing file. It is the way out of ErrSchemaVersion and
// ErrCorrupt: the unreadable file is replaced, never read.
func WithFresh() Option { return func(c *config) { c.fresh = true } }
