// Package store keeps what drydock server knows about an estate: images,
// their inventories (compressed, once per digest), findings, signed
// verdicts, running workloads and the event history. One SQL
// implementation runs on two engines, SQLite (embedded, the default) and
// PostgreSQL (replicas), with versioned migrations applied at open; one
// conformance suite holds both to the same behaviour.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ErrNotFound is returned when a digest or id is not stored.
var ErrNotFound = errors.New("not found")

// Image is one image manifest (one platform) the server has seen.
type Image struct {
	Digest     string    `json:"digest"`
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Tags       []string  `json:"tags,omitempty"`
	Platform   string    `json:"platform,omitempty"`
	Index      string    `json:"indexDigest,omitempty"`
	BaseName   string    `json:"baseName,omitempty"`
	BaseDigest string    `json:"baseDigest,omitempty"`
	FirstSeen  time.Time `json:"firstSeen"`
	ScannedAt  time.Time `json:"scannedAt,omitzero"`
	// ScanError is why the last scan failed ("" when it did not).
	ScanError string `json:"scanError,omitempty"`
	Counts    Counts `json:"counts"`
	// Running is filled on read: a workload runs this digest.
	Running bool `json:"running"`
	// Verdict is the result of the last signed verdict ("" when none).
	Verdict string `json:"verdict,omitempty"`
	// Repositories are every repository the digest is in, with its tags
	// there (one image read by digest; a listing row is one repository).
	Repositories []Reference `json:"repositories,omitempty"`
}

// Reference is one repository an image's digest is in; Registry,
// Repository and Tags as in Image.
type Reference struct {
	Registry   string   `json:"registry"`
	Repository string   `json:"repository"`
	Tags       []string `json:"tags,omitempty"`
}

// Counts summarise an image's findings.
type Counts struct {
	Critical int `json:"critical"`
	High     int `json:"high"`
	Medium   int `json:"medium"`
	Low      int `json:"low"`
	Unknown  int `json:"unknown"`
	Fixable  int `json:"fixable"`
	Total    int `json:"total"`
}

// Finding is one vulnerability in one package of one image.
type Finding struct {
	Digest    string   `json:"digest"`
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Package   string   `json:"package"`
	Version   string   `json:"version"`
	Ecosystem string   `json:"ecosystem,omitempty"`
	Fixed     string   `json:"fixedVersion,omitempty"`
	Severity  string   `json:"severity"`
	FixPath   string   `json:"fixPath,omitempty"`
	Layer     string   `json:"layer,omitempty"`
}

// key identifies a finding within an image.
func (f Finding) key() string { return f.ID + "\x00" + f.Package + "\x00" + f.Version }

// Verdict records a signed verdict pushed for a digest.
type Verdict struct {
	Digest string `json:"digest"`
	Result string `json:"result"`
	Policy string `json:"policy"`
	// Fingerprint identifies the findings the verdict judged; a re-match
	// that changes it calls for a new verdict.
	Fingerprint string    `json:"fingerprint"`
	Ref         string    `json:"ref"`
	SignedAt    time.Time `json:"signedAt"`
}

// Workload is one container of one workload running an image.
type Workload struct {
	Cluster   string    `json:"cluster"`
	Namespace string    `json:"namespace"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Container string    `json:"container"`
	Image     string    `json:"image"`
	Digest    string    `json:"digest"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Key names the workload container ("cluster/namespace/Kind/name/container").
func (w Workload) Key() string {
	return w.Cluster + "/" + w.Namespace + "/" + w.Kind + "/" + w.Name + "/" + w.Container
}

// Event kinds.
const (
	EventScan        = "scan"
	EventScanFailed  = "scan-failed"
	EventRematch     = "rematch"
	EventAppeared    = "finding-appeared"
	EventDisappeared = "finding-disappeared"
	EventVerdict     = "verdict"
	EventRunning     = "running"
	EventStopped     = "stopped"
	EventRebuild     = "rebuild"
	EventRollout     = "rollout"
	EventDBUpdate    = "db-update"
	// EventBackoff: a registry rate-limited drydock or was down; its jobs
	// wait (Detail names the registry, the wait and the reason).
	EventBackoff = "registry-backoff"
)

// Event roles: what a rebuild or rollout was of.
const (
	// RoleBase is an image other images are built on.
	RoleBase = "base"
	// RoleApp is an application image (nothing tracked is built on it).
	RoleApp = "app"
)

// Event is one thing that happened, newest first in listings.
type Event struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Digest   string    `json:"digest,omitempty"`
	VulnID   string    `json:"vulnerability,omitempty"`
	Workload string    `json:"workload,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// Role is RoleBase or RoleApp for rebuilds and rollouts ("" when not
	// known or not applicable).
	Role string `json:"role,omitempty"`
}

// Diff is what a scan or re-match changed in an image's findings.
type Diff struct {
	First       bool      `json:"first"`
	Appeared    []Finding `json:"appeared,omitempty"`
	Disappeared []Finding `json:"disappeared,omitempty"`
}

// Changed says whether the findings changed.
func (d Diff) Changed() bool { return len(d.Appeared)+len(d.Disappeared) > 0 }

// ImageFilter narrows GET /images.
type ImageFilter struct {
	Registry   string
	Repository string
	// MinSeverity keeps images with a finding at or above it.
	MinSeverity string
	Fixable     *bool
	Running     *bool
	// After is the last digest of the previous page; AfterRepository and
	// AfterRegistry its row's repository (a digest is a row per
	// repository), so that a page never ends inside a digest's rows.
	After           string
	AfterRepository string
	AfterRegistry   string
	Limit           int
	// Query keeps images whose repository or a tag contains it.
	Query string
	// BaseDigest keeps images built on that base (its dependents).
	BaseDigest string
	// Sort orders by a column of ImageSorts (digest when empty), Desc
	// reversed; Offset skips that many rows (page numbers in the UI).
	Sort   string
	Desc   bool
	Offset int
}

// ImageSorts are the columns GET /images sorts by.
var ImageSorts = map[string]string{
	"digest": "i.digest", "repository": "r.repository", "registry": "r.registry",
	"critical": "i.critical", "high": "i.high", "medium": "i.medium", "low": "i.low",
	"fixable": "i.fixable", "total": "i.total", "scanned": "i.scanned_at", "base": "i.base_name",
}

// DB is the store on either engine.
type DB struct {
	db *sql.DB
	// stmts caches prepared statements: SQLite's parser is a large part of
	// a short query's cost.
	stmts   sync.Map // query → *sql.Stmt
	dialect dialect
	now     func() time.Time
	enc     *zstd.Encoder
	dec     *zstd.Decoder
}

type dialect struct {
	name string
	// rebind turns ? placeholders into the engine's.
	dollar bool
}

func (d dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func newDB(db *sql.DB, d dialect) (*DB, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, err
	}
	return &DB{db: db, dialect: d, now: time.Now, enc: enc, dec: dec}, nil
}

// Engine is "sqlite" or "postgres".
func (s *DB) Engine() string { return s.dialect.name }

// Close closes the database.
func (s *DB) Close() error {
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return s.db.Close()
}

// Ping checks the database answers (/readyz).
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SetClock fixes the time (tests).
func (s *DB) SetClock(now func() time.Time) { s.now = now }

// prepared returns the cached statement for q (in the engine's dialect).
func (s *DB) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, s.dialect.q(q))
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (s *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (s *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryDirect runs a query whose text varies (IN lists) unprepared, so the
// statement cache stays small.
func (s *DB) queryDirect(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.dialect.q(q), args...)
}

type row struct {
	rows *sql.Rows
	err  error
}

// Scan reads the first row as sql.Row does.
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}

func (s *DB) queryRow(ctx context.Context, q string, args ...any) row {
	rows, err := s.query(ctx, q, args...)
	return row{rows, err}
}

type tx struct {
	*sql.Tx
	s *DB
	d dialect
}

func (t tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	st, err := t.s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return t.StmtContext(ctx, st), nil
}

func (t tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (s *DB) inTx(ctx context.Context, f func(tx) error) error {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx{t, s, s.dialect}); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// compress and decompress hold inventories as zstd'd JSON.
func (s *DB) compress(b []byte) []byte { return s.enc.EncodeAll(b, nil) }

func (s *DB) decompress(b []byte) ([]byte, error) {
	out, err := s.dec.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("stored inventory is corrupt: %w", err)
	}
	return out, nil
}
