package match

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/vulndb"
)

// singleReader hides the store's AffectingMany, forcing one lookup per
// package (alias lookups still go to the store).
type singleReader struct{ r *vulndb.DB }

func (s singleReader) KnownAs(ctx context.Context, ids []string) ([]*vulndb.Advisory, error) {
	return s.r.KnownAs(ctx, ids)
}

func (s singleReader) Affecting(ctx context.Context, eco, name string) ([]*vulndb.Advisory, error) {
	return s.r.Affecting(ctx, eco, name)
}

// TestMatchBatchReader checks that matching through AffectingMany gives
// the same result as one lookup per package, on the benchmark inventory
// against the real database plus PyPI spellings of one project and a
// version that does not parse.
func TestMatchBatchReader(t *testing.T) {
	db, err := vulndb.Open(context.Background(), realDBPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inv := realInventory500(t)
	inv.Packages = append(inv.Packages,
		inventory.Package{Name: "django", Version: "3.2", Type: inventory.TypePyPI},
		inventory.Package{Name: "DJANGO", Version: "v3.2.0", Type: inventory.TypePyPI},
		inventory.Package{Name: "bash", Version: "bad version!", Type: inventory.TypeRPM},
	)
	batch, err := Match(context.Background(), db, inv)
	if err != nil {
		t.Fatal(err)
	}
	single, err := Match(context.Background(), singleReader{db}, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Findings) < 1000 || len(batch.Problems) != 1 {
		t.Errorf("%d findings, problems %v: want many findings and one problem", len(batch.Findings), batch.Problems)
	}
	if diff := cmp.Diff(single, batch); diff != "" {
		t.Errorf("batch result differs from single lookups (-single +batch):\n%s", diff)
	}
}
