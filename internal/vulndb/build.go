package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// builder fills a new database file inside one transaction.
type builder struct {
	cfg      *config
	tx       *sql.Tx
	insAdv   *sql.Stmt
	insStage *sql.Stmt
	insAlias *sql.Stmt
	// modified of each advisory stored so far, to keep the newest copy when
	// sources overlap.
	modified map[string]time.Time
}

// add stores adv and stages its index rows. Which
// rows reach the index is decided once every source has been read.
func (b *builder) add(ctx context.Context, adv *Advisory, ks []indexKey) error {
	if prev, ok := b.modified[adv.ID]; !ok || !adv.Modified.Before(prev) {
		b.modified[adv.ID] = adv.Modified
		rec, err := encodeRecord(adv)
		if err != nil {
			return fmt.Errorf("encode %s: %w", adv.ID, err)
		}
		if _, err := b.insAdv.ExecContext(ctx, adv.ID, formatTime(adv.Modified), rec); err != nil {
			return fmt.Errorf("store %s: %w", adv.ID, err)
		}
		for _, a := range aliasKeys(adv) {
			if _, err := b.insAlias.ExecContext(ctx, a, adv.ID); err != nil {
				return fmt.Errorf("index %s alias %s: %w", adv.ID, a, err)
			}
		}
	}
	for _, k := range ks {
		if _, err := b.insStage.ExecContext(ctx, k.ecosystem, k.name, adv.ID, topLevel(k.ecosystem)); err != nil {
			return fmt.Errorf("index %s: %w", adv.ID, err)
		}
	}
	return nil
}

// aliasKeys are the ids adv is known by: its id, its aliases, and the CVE
// ids it is the distribution's record of (upstream; a DEBIAN-CVE-… record's
// own CVE). Related ids are left out: a USN relates to many CVEs, and a
// record of one of them says nothing of the others' severity.
func aliasKeys(adv *Advisory) []string {
	keys := append([]string{adv.ID}, adv.Aliases...)
	for _, u := range adv.Upstream {
		if isCVEID(u) {
			keys = append(keys, u)
		}
	}
	if i := strings.Index(adv.ID, "CVE-"); i > 0 && adv.ID[i-1] == '-' && isCVEID(adv.ID[i:]) {
		keys = append(keys, adv.ID[i:])
	}
	return keys
}

// loaded is what a build's load step reports back: per source stats, and
// per replaced ecosystem the source label and HTTP validators to remember.
type loaded struct {
	stats []SourceStats
	meta  map[string]sourceRow // by top-level ecosystem
}

// build writes a new database beside dbPath holding the records load reads
// plus, unless cfg.fresh, the ecosystems of the current file that load did
// not replace, then renames it over dbPath. The caller holds the lock. On
// any error dbPath is untouched.
func build(ctx context.Context, dbPath string, cfg *config, load func(context.Context, *builder) (loaded, error)) (_ loaded, _ []EcosystemStatus, err error) {
	dir, base := filepath.Split(dbPath)
	if dir == "" {
		dir = "."
	}
	var oldPath string
	if !cfg.fresh {
		old, err := openSQL(ctx, dbPath)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return loaded{}, nil, fmt.Errorf("open existing database to merge into: %w", err)
		default:
			old.Close()
			oldPath = dbPath
		}
	}

	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return loaded{}, nil, fmt.Errorf("create temporary database: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpPath)
			os.Remove(tmpPath + "-journal")
		}
	}()

	// No journal: a failed build is thrown away whole, never rolled back.
	dsn := "file:" + (&url.URL{Path: mustAbs(tmpPath)}).EscapedPath() +
		"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=temp_store(FILE)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return loaded{}, nil, fmt.Errorf("open temporary database: %w", err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	// One connection, so ATTACH and the temp staging table are visible to
	// every statement.
	db.SetMaxOpenConns(1)

	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return loaded{}, nil, fmt.Errorf("create schema: %w", err)
		}
	}
	if _, err := db.ExecContext(ctx, `CREATE TEMP TABLE staging (ecosystem TEXT NOT NULL, name TEXT NOT NULL, advisory_id TEXT NOT NULL, top TEXT NOT NULL)`); err != nil {
		return loaded{}, nil, fmt.Errorf("create staging table: %w", err)
	}
	// Aliases of the records stored now; a newer copy of a record replaces
	// the older one's rows.
	if _, err := db.ExecContext(ctx, `CREATE TEMP TABLE staging_alias (alias TEXT NOT NULL, advisory_id TEXT NOT NULL, PRIMARY KEY (alias, advisory_id)) WITHOUT ROWID`); err != nil {
		return loaded{}, nil, fmt.Errorf("create staging table: %w", err)
	}
	if oldPath != "" {
		// ATTACH cannot run inside a transaction.
		oldDSN := "file:" + (&url.URL{Path: mustAbs(oldPath)}).EscapedPath() + "?mode=ro&immutable=1"
		if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS old`, oldDSN); err != nil {
			return loaded{}, nil, fmt.Errorf("attach existing database: %w", sqlErr(err))
		}
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return loaded{}, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	b := &builder{cfg: cfg, tx: tx, modified: map[string]time.Time{}}
	if b.insAdv, err = tx.PrepareContext(ctx, `INSERT OR REPLACE INTO advisories (id, modified, data) VALUES (?, ?, ?)`); err != nil {
		return loaded{}, nil, fmt.Errorf("prepare: %w", err)
	}
	if b.insStage, err = tx.PrepareContext(ctx, `INSERT INTO staging VALUES (?, ?, ?, ?)`); err != nil {
		return loaded{}, nil, fmt.Errorf("prepare: %w", err)
	}
	if b.insAlias, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO staging_alias VALUES (?, ?)`); err != nil {
		return loaded{}, nil, fmt.Errorf("prepare: %w", err)
	}

	ld, err := load(ctx, b)
	if err != nil {
		return ld, nil, err
	}
	scope := map[string]bool{}
	for _, s := range ld.stats {
		for _, e := range s.Ecosystems {
			scope[e] = true
		}
	}
	if len(scope) == 0 {
		return ld, nil, errors.New("no records loaded")
	}
	tops := make([]string, 0, len(scope))
	for e := range scope {
		tops = append(tops, e)
	}
	sort.Strings(tops)
	// json_each over a JSON array binds a set in one parameter.
	topsJSON, _ := json.Marshal(tops)

	steps := []struct {
		what string
		q    string
	}{
		{"index new records", `INSERT OR IGNORE INTO affected SELECT ecosystem, name, advisory_id FROM temp.staging
			WHERE top IN (SELECT value FROM json_each(?1))`},
	}
	if oldPath != "" {
		steps = append(steps, []struct{ what, q string }{
			{"keep other ecosystems' index", `INSERT OR IGNORE INTO affected SELECT ecosystem, name, advisory_id FROM old.affected
				WHERE (CASE WHEN instr(ecosystem, ':') > 0 THEN substr(ecosystem, 1, instr(ecosystem, ':') - 1) ELSE ecosystem END)
				NOT IN (SELECT value FROM json_each(?1))`},
			// New copies (already stored) win over old ones.
			{"keep other ecosystems' advisories", `INSERT OR IGNORE INTO advisories SELECT id, modified, data FROM old.advisories
				WHERE id IN (SELECT advisory_id FROM affected)`},
			{"keep other ecosystems' sources", `INSERT INTO sources SELECT * FROM old.sources
				WHERE ecosystem NOT IN (SELECT value FROM json_each(?1))`},
		}...)
	}
	// Records whose every entry fell outside the replaced ecosystems.
	steps = append(steps, struct{ what, q string }{"drop unindexed advisories",
		`DELETE FROM advisories WHERE id NOT IN (SELECT advisory_id FROM affected)`})
	// Alias rows of the records kept: those read now, and for records kept
	// from the old file, the old file's rows.
	steps = append(steps, struct{ what, q string }{"index aliases",
		`INSERT OR IGNORE INTO aliases SELECT alias, advisory_id FROM temp.staging_alias
			WHERE advisory_id IN (SELECT id FROM advisories)`})
	if oldPath != "" {
		steps = append(steps, struct{ what, q string }{"keep other ecosystems' aliases",
			`INSERT OR IGNORE INTO aliases SELECT alias, advisory_id FROM old.aliases
				WHERE advisory_id IN (SELECT id FROM advisories)
				AND advisory_id NOT IN (SELECT advisory_id FROM temp.staging_alias)`})
	}
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s.q, string(topsJSON)); err != nil {
			return ld, nil, fmt.Errorf("build database: %s: %w", s.what, sqlErr(err))
		}
	}

	now := cfg.now()
	var replaced []EcosystemStatus
	for _, top := range tops {
		row := ld.meta[top]
		row.Ecosystem = top
		row.UpdatedAt = now
		var newest sql.NullString
		// The bare name and the "top:" range cover "Debian" and "Debian:*"
		// through the primary key (";" sorts right after ":").
		err := tx.QueryRowContext(ctx, `SELECT count(*), max(a.modified) FROM advisories a WHERE a.id IN (
				SELECT advisory_id FROM affected WHERE ecosystem = ?1 OR (ecosystem >= ?1 || ':' AND ecosystem < ?1 || ';'))`,
			top).Scan(&row.Records, &newest)
		if err != nil {
			return ld, nil, fmt.Errorf("count %s records: %w", top, err)
		}
		if newest.Valid {
			if row.NewestModified, err = time.Parse(timeLayout, newest.String); err != nil {
				return ld, nil, fmt.Errorf("count %s records: %w", top, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)`,
			top, row.Source, row.ETag, row.LastModified, formatTime(row.UpdatedAt), row.Records, formatTime(row.NewestModified)); err != nil {
			return ld, nil, fmt.Errorf("record %s source: %w", top, err)
		}
		replaced = append(replaced, row.EcosystemStatus)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta VALUES ('schema_version', ?), ('built_at', ?)`,
		fmt.Sprint(SchemaVersion), formatTime(now)); err != nil {
		return ld, nil, fmt.Errorf("write meta: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return ld, nil, fmt.Errorf("commit: %w", err)
	}
	for _, t := range []string{"temp.staging", "temp.staging_alias"} {
		if _, err := db.ExecContext(ctx, `DROP TABLE `+t); err != nil {
			return ld, nil, fmt.Errorf("drop staging table: %w", err)
		}
	}
	if oldPath != "" {
		if _, err := db.ExecContext(ctx, `DETACH DATABASE old`); err != nil {
			return ld, nil, fmt.Errorf("detach existing database: %w", err)
		}
	}
	// Lookup plans depend on the index, not on statistics; ANALYZE would
	// only cost time.
	err = db.Close()
	db = nil
	if err != nil {
		return ld, nil, fmt.Errorf("close temporary database: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return ld, nil, err
	}
	if err := commitFile(tmpPath, dbPath); err != nil {
		return ld, nil, err
	}
	return ld, replaced, nil
}

// commitFile makes tmp durable and renames it over dst, so a crash leaves
// either the old or the new database, never a mix.
func commitFile(tmp, dst string) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sync temporary database: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("chmod temporary database: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync temporary database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sync temporary database: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("replace database: %w", err)
	}
	// The rename is only durable once the directory entry is.
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return fmt.Errorf("sync database directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync database directory: %w", err)
	}
	return nil
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// withLock runs fn holding an exclusive flock on dbPath+".lock", so two
// writers never build from the same old file and lose each other's work.
// The lock file is left in place: removing it would let a third writer lock
// a fresh inode while the second still holds the old one.
func withLock(ctx context.Context, dbPath string, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(mustAbs(dbPath)), 0o755); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(dbPath+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	defer f.Close()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		// flock has no timeout; poll so ctx can cancel the wait.
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for lock %s: %w", f.Name(), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	removeStale(dbPath)
	return fn()
}

// removeStale deletes temporary files an interrupted writer left behind.
// Only called under the lock, when no other writer can own them.
func removeStale(dbPath string) {
	dir, base := filepath.Split(dbPath)
	if dir == "" {
		dir = "."
	}
	for _, pat := range []string{"." + base + ".tmp-*", "." + base + ".download-*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, globEscape(pat)))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}

// globEscape escapes glob metacharacters in a file name, keeping the
// trailing "*" this package adds.
func globEscape(p string) string {
	star := strings.HasSuffix(p, "*")
	p = strings.TrimSuffix(p, "*")
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	p = r.Replace(p)
	if star {
		p += "*"
	}
	return p
}
