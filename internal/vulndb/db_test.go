package vulndb

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenErrors(t *testing.T) {
	real := realDB(t)
	realBytes, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// alter copies the real database and changes it with plain SQL.
	alter := func(name string, stmts ...string) string {
		p := write(name, realBytes)
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return p
	}
	rnd := make([]byte, 64<<10)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(rnd)

	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "nope.sqlite"), ErrNotFound},
		{"directory", dir, ErrCorrupt},
		{"empty", write("empty", nil), ErrCorrupt},
		{"random bytes", write("random", rnd), ErrCorrupt},
		{"truncated", write("truncated", realBytes[:len(realBytes)/2]), ErrCorrupt},
		{"truncated to a page", write("page", realBytes[:4096]), ErrCorrupt},
		{"header only", write("header", realBytes[:100]), ErrCorrupt},
		{"other sqlite file", alter("other", `PRAGMA application_id = 0`), ErrCorrupt},
		{"newer schema", alter("newer", `PRAGMA user_version = 99`, `UPDATE meta SET value = '99' WHERE key = 'schema_version'`), ErrSchemaVersion},
		{"older schema", alter("older", `PRAGMA user_version = 0`, `UPDATE meta SET value = '0' WHERE key = 'schema_version'`), ErrSchemaVersion},
		{"no meta table", alter("nometa", `DROP TABLE meta`), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), tt.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrNotFound, ErrCorrupt, ErrSchemaVersion} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("Open: %v also matches %v", err, other)
				}
			}
		})
	}
}

// Damage past the header is not looked for at open (that would need a
// scan); it must surface as ErrCorrupt or plain results, never a panic.
func TestDamagedPagesSurfaceAsErrors(t *testing.T) {
	b, err := os.ReadFile(realDB(t))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{2})
	r.Read(b[8192:])
	p := filepath.Join(t.TempDir(), "damaged.sqlite")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), p)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: %v, want ErrCorrupt", err)
		}
		return
	}
	defer db.Close()
	_, err = db.Affecting(context.Background(), "Go", "golang.org/x/text")
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Errorf("Affecting: %v, want ErrCorrupt", err)
	}
	t.Logf("Affecting on damaged file: %v", err)
}

func TestImportRefusesToMergeIntoUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	if err := os.WriteFile(path, []byte("definitely not sqlite, but long enough to have a header...........................................!"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := stateOf(t, path)
	src := filepath.Join("testdata", "go-small")
	if _, err := Import(context.Background(), path, []string{src}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Import over a corrupt file: %v, want ErrCorrupt", err)
	}
	if stateOf(t, path) != before {
		t.Fatal("corrupt file was changed")
	}
	// WithFresh is the way out.
	if _, err := Import(context.Background(), path, []string{src}, WithFresh()); err != nil {
		t.Fatal(err)
	}
	db := openT(t, path)
	advs, err := db.Affecting(context.Background(), "Go", "example.com/small")
	if err != nil || len(advs) != 1 {
		t.Fatalf("after fresh import: %v %v", ids(advs), err)
	}
}
