package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store/storetest"
)

// TestMigrationToRepositories upgrades a store written by schema 1 (one
// images row per digest, tags of other repositories pointing at it) and
// checks migration 2 lists the digest under every repository it had.
func TestMigrationToRepositories(t *testing.T) {
	for _, e := range []struct {
		name string
		open func(t *testing.T) func(ctx context.Context) (*DB, error)
	}{
		{"sqlite", func(t *testing.T) func(ctx context.Context) (*DB, error) {
			p := filepath.Join(t.TempDir(), "server.sqlite")
			return func(ctx context.Context) (*DB, error) { return OpenSQLite(ctx, p) }
		}},
		{"postgres", func(t *testing.T) func(ctx context.Context) (*DB, error) {
			u := storetest.PostgresURL(t)
			return func(ctx context.Context) (*DB, error) { return OpenPostgres(ctx, u) }
		}},
	} {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			open := e.open(t)
			all := migrations
			migrations = all[:1]
			old, err := open(ctx)
			migrations = all
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO images (digest, registry, repository, first_seen) VALUES ('sha256:aaaa', 'reg.example', 'reg.example/dev/app', 1)`,
				`INSERT INTO images (digest, registry, repository, first_seen) VALUES ('sha256:bbbb', 'reg.example', 'reg.example/dev/app', 2)`,
				`INSERT INTO tags (repository, tag, digest, updated_at) VALUES ('reg.example/dev/app', 'v1', 'sha256:aaaa', 3)`,
				`INSERT INTO tags (repository, tag, digest, updated_at) VALUES ('reg.example/prod/app', 'v1', 'sha256:aaaa', 5)`,
				`INSERT INTO tags (repository, tag, digest, updated_at) VALUES ('reg.example/prod/app', 'stable', 'sha256:aaaa', 4)`,
				`INSERT INTO tags (repository, tag, digest, updated_at) VALUES ('mirror.example:5000/app', 'v1', 'sha256:aaaa', 6)`,
				// A tag of a digest never stored is no image.
				`INSERT INTO tags (repository, tag, digest, updated_at) VALUES ('reg.example/gone', 'v1', 'sha256:cccc', 7)`,
			} {
				if _, err := old.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			old.Close()
			s, err := open(ctx)
			if err != nil {
				t.Fatalf("migrate: %v", err)
			}
			defer s.Close()
			ims, err := s.Images(ctx, ImageFilter{})
			if err != nil {
				t.Fatal(err)
			}
			type row struct {
				Digest, Registry, Repository string
				Tags                         []string
			}
			var got []row
			for _, im := range ims {
				got = append(got, row{im.Digest, im.Registry, im.Repository, im.Tags})
			}
			want := []row{
				{"sha256:aaaa", "mirror.example:5000", "mirror.example:5000/app", []string{"v1"}},
				{"sha256:aaaa", "reg.example", "reg.example/dev/app", []string{"v1"}},
				{"sha256:aaaa", "reg.example", "reg.example/prod/app", []string{"stable", "v1"}},
				{"sha256:bbbb", "reg.example", "reg.example/dev/app", nil},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("images after migration (-want +got):\n%s", diff)
			}
			var first int64
			if err := s.db.QueryRowContext(ctx, s.dialect.q(`SELECT first_seen FROM image_repositories WHERE repository = ?`), "reg.example/prod/app").Scan(&first); err != nil || first != 4 {
				t.Errorf("prod first seen = %d, %v; want its earliest tag's time, 4", first, err)
			}
		})
	}
}
