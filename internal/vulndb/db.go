package vulndb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinels for Open (and for Import/Update, which open the existing file to
// merge into it). Test with errors.Is.
var (
	// ErrNotFound: there is no database file yet; run "drydock db update"
	// or "drydock db import".
	ErrNotFound = errors.New("vulnerability database not found")
	// ErrSchemaVersion: the file was written by a drydock with another
	// schema; rebuild it (Update or Import with WithFresh).
	ErrSchemaVersion = errors.New("vulnerability database schema version mismatch")
	// ErrCorrupt: the file is not a drydock vulnerability database, or is
	// damaged (truncated, overwritten); rebuild it.
	ErrCorrupt = errors.New("vulnerability database is corrupt or not a drydock database")
)

// SchemaVersion is the layout this package reads and writes. Bump it when
// the tables or the stored record form (record.go) change; adding a field to
// Advisory changes the record form. Version 1 stored deflated JSON, which
// was too slow to decode per lookup. Version 3 added the alias index.
const SchemaVersion = 3

// applicationID marks the file as ours in the SQLite header ("DrYd"), so a
// random SQLite file is told apart from an old drydock one without a query.
const applicationID = 0x44725964

// timeLayout is fixed-width so that text order is time order in SQL.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

var schema = []string{
	fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
	fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion),
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
	// One row per advisory; data is the decoded record in the binary form of
	// record.go.
	`CREATE TABLE advisories (id TEXT PRIMARY KEY, modified TEXT NOT NULL, data BLOB NOT NULL)`,
	// The lookup index: ecosystem is the full string ("Debian:12"), name is
	// normalised (PEP 503 for PyPI).
	`CREATE TABLE affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory_id TEXT NOT NULL,
		PRIMARY KEY (ecosystem, name, advisory_id)) WITHOUT ROWID`,
	// The alias index: every id an advisory is known by (its own id, its
	// aliases, the CVE ids it is upstream of) → the advisory. A finding
	// whose own records carry no severity is rated by another record of the
	// same vulnerability (a GHSA or NVD-derived record of the CVE, a
	// RUSTSEC record of a Python binding's CVE) found through it.
	`CREATE TABLE aliases (alias TEXT NOT NULL, advisory_id TEXT NOT NULL,
		PRIMARY KEY (alias, advisory_id)) WITHOUT ROWID`,
	// One row per top-level ecosystem: where its records came from and the
	// validators Update sends back to skip unchanged exports.
	`CREATE TABLE sources (ecosystem TEXT PRIMARY KEY, source TEXT NOT NULL,
		etag TEXT NOT NULL DEFAULT '', last_modified TEXT NOT NULL DEFAULT '',
		updated_at TEXT NOT NULL, records INTEGER NOT NULL, newest_modified TEXT NOT NULL) WITHOUT ROWID`,
}

// DB is an open, read-only vulnerability database. It reads the file as it
// was when opened: Update and Import replace the file by rename, so reopen
// to see their result. Safe for concurrent use.
type DB struct {
	sql  *sql.DB
	path string
}

// Open opens the database at path. It checks the file header, the schema
// version and that the file is a drydock database, without scanning tables.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := openSQL(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	return &DB{sql: db, path: path}, nil
}

// openSQL does Open's work; errors carry the sentinels but not the path.
func openSQL(ctx context.Context, path string) (*sql.DB, error) {
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// immutable: the file is never written in place (updates rename a new
	// file over it), so SQLite may skip locking and change detection.
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkHeader rejects what is plainly not a complete SQLite file before the
// driver sees it: the magic string, and a file shorter than the page count
// its header records (a truncated copy or download).
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (run \"drydock db update\" or \"drydock db import\")", ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: is a directory", ErrCorrupt)
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("%w: file too short for a database header (%d bytes)", ErrCorrupt, fi.Size())
	}
	if !bytes.Equal(h[:16], []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%w: not an SQLite file", ErrCorrupt)
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: bad page size %d", ErrCorrupt, pageSize)
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	// The in-header page count is only valid when the change counter matches
	// the version-valid-for number.
	valid := binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96])
	if valid && pages > 0 && fi.Size() < pages*pageSize {
		return fmt.Errorf("%w: truncated (%d bytes, header says %d)", ErrCorrupt, fi.Size(), pages*pageSize)
	}
	if fi.Size()%pageSize != 0 {
		return fmt.Errorf("%w: size %d is not a whole number of %d-byte pages", ErrCorrupt, fi.Size(), pageSize)
	}
	return nil
}

func checkSchema(ctx context.Context, db *sql.DB) error {
	var appID, version int
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return sqlErr(err)
	}
	if appID != applicationID {
		return fmt.Errorf("%w: not a drydock vulnerability database (application id %#x)", ErrCorrupt, appID)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return sqlErr(err)
	}
	var meta string
	err := db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&meta)
	if err != nil {
		return fmt.Errorf("%w: read schema version: %w", ErrCorrupt, sqlErr(err))
	}
	if meta != fmt.Sprint(version) {
		return fmt.Errorf("%w: schema version %q in meta disagrees with header %d", ErrCorrupt, meta, version)
	}
	if version != SchemaVersion {
		return fmt.Errorf("%w: file has schema %d, this drydock reads %d; rebuild it", ErrSchemaVersion, version, SchemaVersion)
	}
	return nil
}

// sqlErr marks SQLite's "this is not a sound database" results with
// ErrCorrupt so callers can tell damage from other failures.
func sqlErr(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	return err
}

// Close releases the database.
func (d *DB) Close() error { return d.sql.Close() }

// Affecting returns every advisory with an affected entry for name in
// ecosystem, ordered by ID. ecosystem is the full OSV string the caller
// determined ("Debian:12", "Alpine:v3.20", "Ubuntu:22.04:LTS", "Go",
// "PyPI"); see lookupEcosystems for the spellings also accepted. The caller
// still has to check versions against the affected entries: an advisory may
// name several packages and releases.
func (d *DB) Affecting(ctx context.Context, ecosystem, name string) ([]*Advisory, error) {
	m, err := d.affecting(ctx, ecosystem, []string{name}, false)
	if err != nil {
		return nil, fmt.Errorf("look up %s %s: %w", ecosystem, name, err)
	}
	return m[name], nil
}

// AffectingMany is Affecting for many names of one ecosystem in one query,
// which a matcher wants: a lookup per package costs a query each, and the
// packages of one image share advisories (openssl and openssl-libs, the
// kernel's subpackages), which are decoded once here. The result maps each
// name with advisories to them, ordered by ID; names without advisories
// are absent. An advisory naming several of the names is one value shared
// by their lists: callers must not modify the advisories.
func (d *DB) AffectingMany(ctx context.Context, ecosystem string, names []string) (map[string][]*Advisory, error) {
	m, err := d.affecting(ctx, ecosystem, names, false)
	if err != nil {
		return nil, fmt.Errorf("look up %d %s packages: %w", len(names), ecosystem, err)
	}
	return m, nil
}

// AffectingManyTrimmed is AffectingMany for a matcher, which reads only
// the affected entries of the package it evaluates: each advisory holds
// only its affected entries for one of names (compared in the lookup's
// normalised form, in any ecosystem), and no References; every other field
// is as AffectingMany gives it. AlmaLinux and other distribution
// advisories list dozens of subpackages each, and building all of their
// entries was most of the decoding time. Callers must not modify the
// advisories.
func (d *DB) AffectingManyTrimmed(ctx context.Context, ecosystem string, names []string) (map[string][]*Advisory, error) {
	m, err := d.affecting(ctx, ecosystem, names, true)
	if err != nil {
		return nil, fmt.Errorf("look up %d %s packages: %w", len(names), ecosystem, err)
	}
	return m, nil
}

func (d *DB) affecting(ctx context.Context, ecosystem string, names []string, trim bool) (map[string][]*Advisory, error) {
	out := map[string][]*Advisory{}
	if len(names) == 0 {
		return out, nil
	}
	// Names are looked up normalised; several callers' spellings may share
	// one ("Django", "django").
	byNorm := map[string][]string{}
	for _, n := range names {
		k := normalizeName(ecosystem, n)
		if !slices.Contains(byNorm[k], n) {
			byNorm[k] = append(byNorm[k], n)
		}
	}
	norms := make([]string, 0, len(byNorm))
	for k := range byNorm {
		norms = append(norms, k)
	}
	normsJSON, err := json.Marshal(norms)
	if err != nil {
		return nil, err
	}
	ecos := lookupEcosystems(ecosystem)
	args := make([]any, 0, len(ecos)+1)
	args = append(args, string(normsJSON))
	for _, e := range ecos {
		args = append(args, e)
	}
	// Two queries: the index rows first, then each distinct advisory's
	// record once. Joining and ordering in one query made SQLite copy every
	// record into a temporary sort, once per name naming it. DISTINCT: an
	// advisory filed under two of the ecosystem spellings ("AlmaLinux:9" and
	// "AlmaLinux") is one answer.
	q := `SELECT DISTINCT name, advisory_id FROM affected
		WHERE name IN (SELECT value FROM json_each(?1)) AND ecosystem IN (?` +
		strings.Repeat(",?", len(ecos)-1) + `) ORDER BY name, advisory_id`
	rows, err := d.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, sqlErr(err)
	}
	type hit struct{ norm, id string }
	var hits []hit
	decoded := map[string]*Advisory{}
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.norm, &h.id); err != nil {
			rows.Close()
			return nil, sqlErr(err)
		}
		hits = append(hits, h)
		decoded[h.id] = nil
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, sqlErr(err)
	}
	if len(hits) == 0 {
		return out, nil
	}
	idList := make([]string, 0, len(decoded))
	for id := range decoded {
		idList = append(idList, id)
	}
	idsJSON, err := json.Marshal(idList)
	if err != nil {
		return nil, err
	}
	var keep func(string) bool
	if trim {
		keep = func(name string) bool {
			_, ok := byNorm[normalizeName(ecosystem, name)]
			return ok
		}
	}
	var scratch recordScratch
	rows, err = d.sql.QueryContext(ctx, `SELECT id, data FROM advisories WHERE id IN (SELECT value FROM json_each(?1))`, string(idsJSON))
	if err != nil {
		return nil, sqlErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var blob sql.RawBytes
		if err := rows.Scan(&id, &blob); err != nil {
			return nil, sqlErr(err)
		}
		adv, err := decodeRecordKeep(blob, keep, &scratch)
		if err != nil {
			return nil, fmt.Errorf("advisory %s: %w: %w", id, ErrCorrupt, err)
		}
		decoded[id] = adv
	}
	if err := rows.Err(); err != nil {
		return nil, sqlErr(err)
	}
	for _, h := range hits {
		adv := decoded[h.id]
		if adv == nil {
			// The index names an advisory the table lacks: the build
			// never leaves one, so the file is damaged.
			return nil, fmt.Errorf("%w: advisory %s is indexed but not stored", ErrCorrupt, h.id)
		}
		for _, n := range byNorm[h.norm] {
			out[n] = append(out[n], adv)
		}
	}
	return out, nil
}

// KnownAs returns the advisories known by any of ids (as their id, an
// alias, or an upstream CVE), ordered by ID, each once. It reads every
// ecosystem: the record of a vulnerability another ecosystem shares is
// what it is for. Records come without References. Callers must not modify
// the advisories.
func (d *DB) KnownAs(ctx context.Context, ids []string) ([]*Advisory, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT id, data FROM advisories WHERE id IN (
			SELECT advisory_id FROM aliases WHERE alias IN (SELECT value FROM json_each(?1))) ORDER BY id`, string(idsJSON))
	if err != nil {
		return nil, fmt.Errorf("look up advisories by alias: %w", sqlErr(err))
	}
	defer rows.Close()
	var out []*Advisory
	var scratch recordScratch
	for rows.Next() {
		var id string
		var blob sql.RawBytes
		if err := rows.Scan(&id, &blob); err != nil {
			return nil, fmt.Errorf("look up advisories by alias: %w", sqlErr(err))
		}
		adv, err := decodeRecordKeep(blob, nil, &scratch)
		if err != nil {
			return nil, fmt.Errorf("advisory %s: %w: %w", id, ErrCorrupt, err)
		}
		adv.References = nil
		out = append(out, adv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up advisories by alias: %w", sqlErr(err))
	}
	return out, nil
}

// Status describes the database's content.
type Status struct {
	SchemaVersion int
	Ecosystems    []EcosystemStatus // sorted by ecosystem
}

// EcosystemStatus is one top-level ecosystem's row in Status.
type EcosystemStatus struct {
	Ecosystem string // top-level: "Debian", not "Debian:12"
	Records   int    // advisories with an entry in the ecosystem
	// Source is the URL or path(s) the records were loaded from.
	Source string
	// UpdatedAt is when the records were last loaded (a 304 from the
	// server does not change it).
	UpdatedAt time.Time
	// NewestModified is the newest "modified" among the records; zero when
	// the source gives none (Go's vulndb publishes placeholder dates).
	NewestModified time.Time
}

// Status reports per-ecosystem counts, sources and age.
func (d *DB) Status(ctx context.Context) (Status, error) {
	st := Status{SchemaVersion: SchemaVersion}
	rows, err := readSources(ctx, d.sql, "")
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	for _, r := range rows {
		st.Ecosystems = append(st.Ecosystems, r.EcosystemStatus)
	}
	return st, nil
}

// sourceRow is a sources table row.
type sourceRow struct {
	EcosystemStatus
	ETag, LastModified string
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readSources reads the sources table of the schema prefix ("" or "old.").
func readSources(ctx context.Context, q querier, prefix string) ([]sourceRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT ecosystem, source, etag, last_modified, updated_at, records, newest_modified
		FROM `+prefix+`sources ORDER BY ecosystem`)
	if err != nil {
		return nil, sqlErr(err)
	}
	defer rows.Close()
	var out []sourceRow
	for rows.Next() {
		var r sourceRow
		var updated, newest string
		if err := rows.Scan(&r.Ecosystem, &r.Source, &r.ETag, &r.LastModified, &updated, &r.Records, &newest); err != nil {
			return nil, sqlErr(err)
		}
		if r.UpdatedAt, err = time.Parse(timeLayout, updated); err != nil {
			return nil, fmt.Errorf("%w: sources.updated_at %q", ErrCorrupt, updated)
		}
		if r.NewestModified, err = time.Parse(timeLayout, newest); err != nil {
			return nil, fmt.Errorf("%w: sources.newest_modified %q", ErrCorrupt, newest)
		}
		out = append(out, r)
	}
	return out, sqlErr(rows.Err())
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
