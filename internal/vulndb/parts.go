package vulndb

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// A part is a database file holding one top-level ecosystem: its index
// rows, the advisories they name (a record that names several ecosystems
// is in each of their parts), those advisories' alias rows and the
// ecosystem's sources row. Parts are what "drydock db push" publishes, one
// OCI layer each, so a pull downloads only the ecosystems that changed.

// ExportEcosystem writes the part of ecosystem (top-level, as Status
// names it) of the database at dbPath to out, which must not exist. The
// same content always gives the same bytes: rows are written in key order
// in one transaction, and the part's built_at is the ecosystem's load
// time, so an ecosystem that did not change keeps its digest.
func ExportEcosystem(ctx context.Context, dbPath, ecosystem, out string) (err error) {
	src, err := openSQL(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("export %s: %w", ecosystem, err)
	}
	src.Close()
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("export %s: %s exists", ecosystem, out)
	}
	defer func() {
		if err != nil {
			os.Remove(out)
		}
	}()
	db, err := createBare(ctx, out)
	if err != nil {
		return fmt.Errorf("export %s: %w", ecosystem, err)
	}
	defer db.Close()
	srcDSN := "file:" + (&url.URL{Path: mustAbs(dbPath)}).EscapedPath() + "?mode=ro&immutable=1"
	if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS src`, srcDSN); err != nil {
		return fmt.Errorf("export %s: attach: %w", ecosystem, sqlErr(err))
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("export %s: %w", ecosystem, err)
	}
	defer tx.Rollback()
	var updated string
	if err := tx.QueryRowContext(ctx, `SELECT updated_at FROM src.sources WHERE ecosystem = ?`, ecosystem).Scan(&updated); err != nil {
		if err == sql.ErrNoRows {
			return fmt.Errorf("export %s: the database has no such ecosystem", ecosystem)
		}
		return fmt.Errorf("export %s: %w", ecosystem, sqlErr(err))
	}
	for _, s := range []struct{ what, q string }{
		{"index", `INSERT INTO affected SELECT ecosystem, name, advisory_id FROM src.affected
			WHERE ecosystem = ?1 OR (ecosystem >= ?1 || ':' AND ecosystem < ?1 || ';') ORDER BY ecosystem, name, advisory_id`},
		{"advisories", `INSERT INTO advisories SELECT id, modified, data FROM src.advisories
			WHERE id IN (SELECT advisory_id FROM affected) ORDER BY id`},
		{"aliases", `INSERT INTO aliases SELECT alias, advisory_id FROM src.aliases
			WHERE advisory_id IN (SELECT id FROM advisories) ORDER BY alias, advisory_id`},
		{"source", `INSERT INTO sources SELECT * FROM src.sources WHERE ecosystem = ?1`},
	} {
		if _, err := tx.ExecContext(ctx, s.q, ecosystem); err != nil {
			return fmt.Errorf("export %s: %s: %w", ecosystem, s.what, sqlErr(err))
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta VALUES ('schema_version', ?), ('built_at', ?)`, fmt.Sprint(SchemaVersion), updated); err != nil {
		return fmt.Errorf("export %s: meta: %w", ecosystem, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("export %s: %w", ecosystem, err)
	}
	if _, err := db.ExecContext(ctx, `DETACH DATABASE src`); err != nil {
		return fmt.Errorf("export %s: detach: %w", ecosystem, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("export %s: %w", ecosystem, err)
	}
	return nil
}

// Assemble replaces the database at dbPath with one made of parts (files
// ExportEcosystem wrote, each checked to be a database of this schema).
// Like Install it works on a temporary file under the writers' lock and
// renames it over dbPath: on any error, a cancelled ctx or a crash the old
// database stays as it was.
func Assemble(ctx context.Context, dbPath string, parts []string) error {
	if len(parts) == 0 {
		return fmt.Errorf("assemble database: no parts")
	}
	for _, p := range parts {
		db, err := openSQL(ctx, p)
		if err != nil {
			return fmt.Errorf("assemble database: part %s: %w", filepath.Base(p), err)
		}
		db.Close()
	}
	return withLock(ctx, dbPath, func() (err error) {
		dir, base := filepath.Split(dbPath)
		if dir == "" {
			dir = "."
		}
		f, err := os.CreateTemp(dir, "."+base+".tmp-*")
		if err != nil {
			return fmt.Errorf("create temporary database: %w", err)
		}
		tmp := f.Name()
		f.Close()
		os.Remove(tmp) // createBare makes it
		defer func() {
			if err != nil {
				os.Remove(tmp)
			}
		}()
		db, err := createBare(ctx, tmp)
		if err != nil {
			return fmt.Errorf("assemble database: %w", err)
		}
		defer func() {
			if db != nil {
				db.Close()
			}
		}()
		for _, p := range parts {
			dsn := "file:" + (&url.URL{Path: mustAbs(p)}).EscapedPath() + "?mode=ro&immutable=1"
			if _, err := db.ExecContext(ctx, `ATTACH DATABASE ? AS part`, dsn); err != nil {
				return fmt.Errorf("assemble database: attach %s: %w", filepath.Base(p), sqlErr(err))
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			for _, q := range []string{
				`INSERT OR IGNORE INTO affected SELECT ecosystem, name, advisory_id FROM part.affected`,
				`INSERT OR IGNORE INTO advisories SELECT id, modified, data FROM part.advisories`,
				`INSERT OR IGNORE INTO aliases SELECT alias, advisory_id FROM part.aliases`,
				`INSERT INTO sources SELECT * FROM part.sources`,
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					tx.Rollback()
					return fmt.Errorf("assemble database: %s: %w", filepath.Base(p), sqlErr(err))
				}
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("assemble database: %w", err)
			}
			if _, err := db.ExecContext(ctx, `DETACH DATABASE part`); err != nil {
				return fmt.Errorf("assemble database: %w", err)
			}
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO meta VALUES ('schema_version', ?), ('built_at', ?)`, fmt.Sprint(SchemaVersion), formatTime(time.Now())); err != nil {
			return fmt.Errorf("assemble database: meta: %w", err)
		}
		err = db.Close()
		db = nil
		if err != nil {
			return fmt.Errorf("assemble database: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if chk, err := openSQL(ctx, tmp); err != nil {
			return fmt.Errorf("assembled database: %w", err)
		} else {
			chk.Close()
		}
		return commitFile(tmp, dbPath)
	})
}

// createBare makes a new database file at path with the schema and no
// rows, on one connection (so ATTACH is seen by every statement) and
// without a journal (a failed file is thrown away whole).
func createBare(ctx context.Context, path string) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: mustAbs(path)}).EscapedPath() +
		"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=temp_store(FILE)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, s := range schema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("create schema: %w", err)
		}
	}
	return db, nil
}

// Patch replaces the database at dbPath with a copy in which the
// ecosystems named in remove (top-level) are dropped and parts (files
// ExportEcosystem wrote) are added: an incremental pull, where parts are
// the ecosystems that changed. An advisory kept for an unchanged ecosystem
// is the same in every part that holds it (parts are exports of one
// database), so the copy equals what Assemble would build from all the
// parts. Like Assemble it works on a temporary file under the writers'
// lock: on any error, a cancelled ctx or a crash the old database stays.
func Patch(ctx context.Context, dbPath string, remove []string, parts []string) error {
	for _, p := range parts {
		db, err := openSQL(ctx, p)
		if err != nil {
			return fmt.Errorf("patch database: part %s: %w", filepath.Base(p), err)
		}
		db.Close()
	}
	return withLock(ctx, dbPath, func() (err error) {
		dir, base := filepath.Split(dbPath)
		if dir == "" {
			dir = "."
		}
		old, err := openSQL(ctx, dbPath)
		if err != nil {
			return fmt.Errorf("patch database: %w", err)
		}
		old.Close()
		f, err := os.CreateTemp(dir, "."+base+".tmp-*")
		if err != nil {
			return fmt.Errorf("create temporary database: %w", err)
		}
		tmp := f.Name()
		defer func() {
			if err != nil {
				os.Remove(tmp)
			}
		}()
		in, err := os.Open(dbPath)
		if err != nil {
			f.Close()
			return fmt.Errorf("patch database: %w", err)
		}
		_, err = io.Copy(f, in)
		in.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("patch database: copy: %w", err)
		}
		dsn := "file:" + (&url.URL{Path: mustAbs(tmp)}).EscapedPath() +
			"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=temp_store(FILE)"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return err
		}
		defer func() {
			if db != nil {
				db.Close()
			}
		}()
		db.SetMaxOpenConns(1)
		exec := func(what, q string, args ...any) error {
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("patch database: %s: %w", what, sqlErr(err))
			}
			return nil
		}
		for _, e := range remove {
			if err := exec("drop "+e, `DELETE FROM affected WHERE ecosystem = ?1 OR (ecosystem >= ?1 || ':' AND ecosystem < ?1 || ';')`, e); err != nil {
				return err
			}
			if err := exec("drop "+e, `DELETE FROM sources WHERE ecosystem = ?`, e); err != nil {
				return err
			}
		}
		if err := exec("drop unindexed advisories", `DELETE FROM advisories WHERE id NOT IN (SELECT advisory_id FROM affected)`); err != nil {
			return err
		}
		if err := exec("drop their aliases", `DELETE FROM aliases WHERE advisory_id NOT IN (SELECT id FROM advisories)`); err != nil {
			return err
		}
		for _, p := range parts {
			pdsn := "file:" + (&url.URL{Path: mustAbs(p)}).EscapedPath() + "?mode=ro&immutable=1"
			if err := exec("attach "+filepath.Base(p), `ATTACH DATABASE ? AS part`, pdsn); err != nil {
				return err
			}
			for _, q := range []string{
				`INSERT OR IGNORE INTO affected SELECT ecosystem, name, advisory_id FROM part.affected`,
				`INSERT OR REPLACE INTO advisories SELECT id, modified, data FROM part.advisories`,
				`INSERT OR IGNORE INTO aliases SELECT alias, advisory_id FROM part.aliases`,
				`INSERT OR REPLACE INTO sources SELECT * FROM part.sources`,
			} {
				if err := exec(filepath.Base(p), q); err != nil {
					return err
				}
			}
			if err := exec("detach", `DETACH DATABASE part`); err != nil {
				return err
			}
		}
		if err := exec("meta", `UPDATE meta SET value = ? WHERE key = 'built_at'`, formatTime(time.Now())); err != nil {
			return err
		}
		err = db.Close()
		db = nil
		if err != nil {
			return fmt.Errorf("patch database: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if chk, err := openSQL(ctx, tmp); err != nil {
			return fmt.Errorf("patched database: %w", err)
		} else {
			chk.Close()
		}
		return commitFile(tmp, dbPath)
	})
}
