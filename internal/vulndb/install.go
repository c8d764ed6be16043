package vulndb

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Install replaces the database at dbPath with the SQLite file that fill
// writes, for databases distributed whole (drydock db pull). Under the
// writers' lock, fill streams into a temporary file beside dbPath; the file
// must then open as a database of this schema, and is made durable and
// renamed over dbPath. On any error, a cancelled ctx or a crash the old
// database stays as it was; an interrupted temporary file is removed by the
// next writer.
func Install(ctx context.Context, dbPath string, fill func(w io.Writer) error) error {
	return withLock(ctx, dbPath, func() error {
		dir, base := filepath.Split(dbPath)
		if dir == "" {
			dir = "."
		}
		f, err := os.CreateTemp(dir, "."+base+".download-*")
		if err != nil {
			return fmt.Errorf("create temporary database: %w", err)
		}
		tmp := f.Name()
		done := false
		defer func() {
			if !done {
				os.Remove(tmp)
			}
		}()
		if err := fill(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write temporary database: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		db, err := openSQL(ctx, tmp)
		if err != nil {
			return fmt.Errorf("received database: %w", err)
		}
		db.Close()
		if err := commitFile(tmp, dbPath); err != nil {
			return err
		}
		done = true
		return nil
	})
}
