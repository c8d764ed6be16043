package rpm

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/drydock/drydock/internal/extract"

	// The pure-Go SQLite driver, registered as "sqlite"; drydock already
	// depends on it for its own store.
	_ "modernc.org/sqlite"
)

const sqliteMagic = "SQLite format 3\x00"

// readSQLite calls c.add with every header blob in an rpmdb.sqlite. SQLite
// needs a real file, so the content is first copied to in.TempDir.
func readSQLite(ctx context.Context, in *extract.Input, c sink) error {
	dir := in.TempDir
	if dir == "" {
		d, err := os.MkdirTemp("", "drydock-rpm-")
		if err != nil {
			return fmt.Errorf("create scratch directory: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	f, err := os.CreateTemp(dir, "rpmdb-*.sqlite")
	if err != nil {
		return fmt.Errorf("create scratch copy: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	_, err = io.Copy(f, io.NewSectionReader(in.Reader, 0, in.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write scratch copy: %w", err)
	}

	// immutable=1: the copy has no -wal or -shm beside it and must not get
	// any; SQLite then neither locks nor looks for a journal.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(name), RawQuery: "mode=ro&immutable=1"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, "SELECT hnum, blob FROM Packages")
	if err != nil {
		return fmt.Errorf("query sqlite Packages: %w: %w", ErrMalformed, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			hnum int64
			blob []byte
		)
		if err := rows.Scan(&hnum, &blob); err != nil {
			c.addErr(fmt.Errorf("read sqlite row: %w: %w", ErrMalformed, err))
			continue
		}
		where := fmt.Sprintf("sqlite package %d", hnum)
		if len(blob) > maxHeaderSize {
			c.addErr(fmt.Errorf("read %s: %w: %w: header of %d bytes exceeds %d", where, ErrMalformed, ErrTooLarge, len(blob), maxHeaderSize))
			continue
		}
		c.add(where, blob)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sqlite Packages: %w: %w", ErrMalformed, err)
	}
	return nil
}
