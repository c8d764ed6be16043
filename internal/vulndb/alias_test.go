package vulndb

import (
	"archive/zip"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// knownAsOracle reads the exports with encoding/json and lists the records
// whose id or aliases hold id: what KnownAs must answer.
func knownAsOracle(t *testing.T, id string, sets ...string) []string {
	t.Helper()
	var out []string
	for _, eco := range sets {
		zr, err := zip.OpenReader(realZip(t, eco))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var rec struct {
				ID, Withdrawn string
				Aliases       []string
				Affected      []json.RawMessage
			}
			err = json.NewDecoder(rc).Decode(&rec)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.Affected) > 0 && (rec.ID == id || slices.Contains(rec.Aliases, id)) {
				out = append(out, rec.ID)
			}
		}
		zr.Close()
	}
	slices.Sort(out)
	return out
}

// TestKnownAsAcrossEcosystems: a PyPI record (wasmtime's Python binding)
// and the crates.io record of the same CVE find each other, in one import
// and when the second set is merged into a file holding the first.
func TestKnownAsAcrossEcosystems(t *testing.T) {
	ctx := context.Background()
	const cve = "CVE-2021-32629"
	want := knownAsOracle(t, cve, "PyPI", "crates.io")
	if len(want) < 2 {
		t.Fatalf("the data no longer has a PyPI and a crates.io record of %s: %v", cve, want)
	}
	merged := filepath.Join(t.TempDir(), "vulndb.sqlite")
	if _, err := Import(ctx, merged, []string{realZip(t, "crates.io")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, merged, []string{realZip(t, "PyPI")}); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"one import": realDB(t), "merged": merged} {
		db := openT(t, path)
		got, err := db.KnownAs(ctx, []string{cve, "GHSA-not-a-real-id"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, ids(got)); diff != "" {
			t.Errorf("%s: KnownAs(%s) (-want +got):\n%s", name, cve, diff)
		}
		for _, a := range got {
			if a.References != nil {
				t.Errorf("%s: %s comes with references", name, a.ID)
			}
		}
		none, err := db.KnownAs(ctx, nil)
		if err != nil || none != nil {
			t.Errorf("%s: KnownAs(nil) = %v, %v", name, none, err)
		}
	}
	// Replacing PyPI again keeps crates.io's alias rows (kept from the old
	// file) and the new PyPI ones.
	if _, err := Import(ctx, merged, []string{realZip(t, "PyPI")}); err != nil {
		t.Fatal(err)
	}
	got, err := openT(t, merged).KnownAs(ctx, []string{cve})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids(got)); diff != "" {
		t.Errorf("after re-import: KnownAs(%s) (-want +got):\n%s", cve, diff)
	}
}

func TestAliasKeys(t *testing.T) {
	tests := []struct {
		adv  Advisory
		want []string
	}{
		{Advisory{ID: "GHSA-aaaa", Aliases: []string{"CVE-2023-1"}}, []string{"GHSA-aaaa", "CVE-2023-1"}},
		{Advisory{ID: "DEBIAN-CVE-2024-0727", Upstream: []string{"CVE-2024-0727"}}, []string{"DEBIAN-CVE-2024-0727", "CVE-2024-0727", "CVE-2024-0727"}},
		{Advisory{ID: "UBUNTU-CVE-2025-38094"}, []string{"UBUNTU-CVE-2025-38094", "CVE-2025-38094"}},
		{Advisory{ID: "USN-1", Related: []string{"CVE-2024-1"}}, []string{"USN-1"}},
		{Advisory{ID: "CVE-2024-1"}, []string{"CVE-2024-1"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, aliasKeys(&tt.adv)); diff != "" {
			t.Errorf("aliasKeys(%s) (-want +got):\n%s", tt.adv.ID, diff)
		}
	}
}

// TestImportCVERecords: records that name no package but rate a CVE (the
// NVD-derived ones) are kept under the CVE pseudo-ecosystem and found by
// KnownAs; matching never sees them.
func TestImportCVERecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vulndb.sqlite")
	st, err := Import(ctx, path, []string{filepath.Join("testdata", "nvd")})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sources) != 1 || st.Sources[0].Records != 1 || !slices.Equal(st.Sources[0].Ecosystems, []string{EcosystemCVE}) {
		t.Errorf("import stats %+v", st.Sources)
	}
	db := openT(t, path)
	got, err := db.KnownAs(ctx, []string{"CVE-2099-0001"})
	if err != nil || len(got) != 1 || len(got[0].Severity) != 1 {
		t.Fatalf("KnownAs: %v %v", ids(got), err)
	}
	// A record without a package and without a rating is still dropped.
	dir := t.TempDir()
	writeFile(t, dir, "CVE-2099-0002.json", []byte(`{"id": "CVE-2099-0002", "modified": "2099-01-01T00:00:00Z"}`))
	if _, err := Import(ctx, filepath.Join(t.TempDir(), "v.sqlite"), []string{dir}); err == nil {
		t.Error("a set of unrated, package-less records imported")
	}
}
