package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the embedded engine
)

// OpenSQLite opens (creating it) the store in a SQLite file and applies
// pending migrations.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s, err := newDB(db, dialect{name: "sqlite"})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

// OpenPostgres opens the store on a PostgreSQL database
// ("postgres://user@host:port/db") and applies pending migrations; several
// replicas may start at once (the migration holds an advisory lock).
func OpenPostgres(ctx context.Context, dbURL string) (*DB, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("open store: --database: %s", redact(err.Error(), dbURL))
	}
	db := stdlib.OpenDBFromPool(pool)
	s, err := newDB(db, dialect{name: "postgres", dollar: true})
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("store: %s", redact(err.Error(), dbURL))
	}
	return s, nil
}

// redact keeps a password in the database URL out of error messages.
func redact(msg, dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return msg
	}
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}

// migrations are applied in order, each once; never edit a released one,
// append a new one.
var migrations = []string{
	// 1: the first schema.
	`CREATE TABLE images (
		digest TEXT PRIMARY KEY,
		registry TEXT NOT NULL,
		repository TEXT NOT NULL,
		platform TEXT NOT NULL DEFAULT '',
		index_digest TEXT NOT NULL DEFAULT '',
		base_name TEXT NOT NULL DEFAULT '',
		base_digest TEXT NOT NULL DEFAULT '',
		first_seen BIGINT NOT NULL,
		scanned_at BIGINT NOT NULL DEFAULT 0,
		scan_error TEXT NOT NULL DEFAULT '',
		critical INTEGER NOT NULL DEFAULT 0,
		high INTEGER NOT NULL DEFAULT 0,
		medium INTEGER NOT NULL DEFAULT 0,
		low INTEGER NOT NULL DEFAULT 0,
		unknown INTEGER NOT NULL DEFAULT 0,
		fixable INTEGER NOT NULL DEFAULT 0,
		total INTEGER NOT NULL DEFAULT 0,
		max_rank INTEGER NOT NULL DEFAULT -1
	);
	CREATE INDEX images_repository ON images (repository);
	CREATE INDEX images_registry ON images (registry);
	CREATE TABLE tags (
		repository TEXT NOT NULL,
		tag TEXT NOT NULL,
		digest TEXT NOT NULL,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (repository, tag)
	);
	CREATE INDEX tags_digest ON tags (digest);
	CREATE TABLE inventories (
		digest TEXT PRIMARY KEY,
		data {{blob}} NOT NULL,
		stored_at BIGINT NOT NULL
	);
	CREATE TABLE findings (
		digest TEXT NOT NULL,
		vuln_id TEXT NOT NULL,
		package TEXT NOT NULL,
		version TEXT NOT NULL,
		ecosystem TEXT NOT NULL DEFAULT '',
		fixed TEXT NOT NULL DEFAULT '',
		severity TEXT NOT NULL DEFAULT '',
		fix_path TEXT NOT NULL DEFAULT '',
		layer TEXT NOT NULL DEFAULT '',
		aliases TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (digest, vuln_id, package, version)
	);
	CREATE TABLE finding_ids (
		id TEXT NOT NULL,
		digest TEXT NOT NULL,
		vuln_id TEXT NOT NULL,
		PRIMARY KEY (id, digest, vuln_id)
	);
	CREATE INDEX finding_ids_digest ON finding_ids (digest);
	CREATE TABLE verdicts (
		digest TEXT PRIMARY KEY,
		result TEXT NOT NULL,
		policy TEXT NOT NULL,
		fingerprint TEXT NOT NULL,
		ref TEXT NOT NULL,
		signed_at BIGINT NOT NULL
	);
	CREATE TABLE workloads (
		cluster TEXT NOT NULL,
		namespace TEXT NOT NULL,
		kind TEXT NOT NULL,
		name TEXT NOT NULL,
		container TEXT NOT NULL,
		image TEXT NOT NULL,
		digest TEXT NOT NULL,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (cluster, namespace, kind, name, container)
	);
	CREATE INDEX workloads_digest ON workloads (digest);
	CREATE TABLE events (
		id {{serial}},
		at BIGINT NOT NULL,
		kind TEXT NOT NULL,
		digest TEXT NOT NULL DEFAULT '',
		vuln_id TEXT NOT NULL DEFAULT '',
		workload TEXT NOT NULL DEFAULT '',
		detail TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX events_vuln ON events (vuln_id);
	CREATE INDEX events_digest ON events (digest);
	CREATE TABLE meta (
		key TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	// 2: every repository a digest is seen in (images keeps one row per
	// digest, under the first repository, so that a digest is scanned
	// once; a base mirrored or promoted by copy is listed under each).
	// Filled from the images and from the tags that point at a digest
	// from another repository (names are host/path).
	`CREATE TABLE image_repositories (
		digest TEXT NOT NULL,
		repository TEXT NOT NULL,
		registry TEXT NOT NULL,
		first_seen BIGINT NOT NULL,
		PRIMARY KEY (digest, repository, registry)
	);
	CREATE INDEX image_repositories_repository ON image_repositories (repository);
	CREATE INDEX image_repositories_registry ON image_repositories (registry);
	INSERT INTO image_repositories (digest, repository, registry, first_seen)
		SELECT digest, repository, registry, first_seen FROM images;
	INSERT INTO image_repositories (digest, repository, registry, first_seen)
		SELECT t.digest, t.repository, {{host_of_repository}}, MIN(t.updated_at) FROM tags t JOIN images i ON i.digest = t.digest
		WHERE t.repository <> i.repository AND t.repository LIKE '%/%'
		GROUP BY t.digest, t.repository`,
	// 3: whether a rebuild or rollout event was of a base image or of an
	// application image (the vulnerability timeline tells "base rebuilt"
	// from "app rebuilt"); the trend of open fixable critical and high
	// findings in running images, sampled by a periodic job.
	`ALTER TABLE events ADD COLUMN role TEXT NOT NULL DEFAULT '';
	CREATE TABLE trend (
		at BIGINT PRIMARY KEY,
		open_fixable_running INTEGER NOT NULL
	);`,
}

func (s *DB) render(m string) string {
	if s.dialect.name == "postgres" {
		return strings.NewReplacer("{{blob}}", "BYTEA", "{{serial}}", "BIGSERIAL PRIMARY KEY",
			"{{host_of_repository}}", "split_part(t.repository, '/', 1)").Replace(m)
	}
	return strings.NewReplacer("{{blob}}", "BLOB", "{{serial}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"{{host_of_repository}}", "substr(t.repository, 1, instr(t.repository, '/') - 1)").Replace(m)
}

// SchemaVersion is the number of migrations this build knows.
func SchemaVersion() int { return len(migrations) }

// migrate runs unprepared statements: the tables they create do not
// exist for other connections until the transaction commits.
func (s *DB) migrate(ctx context.Context) error {
	return s.inTx(ctx, func(t tx) error {
		if s.dialect.name == "postgres" {
			// Replicas starting together take turns.
			if _, err := t.ExecContext(ctx, `SELECT pg_advisory_xact_lock(4242001)`); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
		}
		if _, err := t.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var have int
		if err := t.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this drydock knows (%d): upgrade drydock", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			for _, stmt := range strings.Split(s.render(migrations[v-1]), ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := t.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := t.ExecContext(ctx, t.d.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, nanos(s.now())); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		return nil
	})
}
