package match

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/vulndb"
)

// BenchmarkMatch500 matches an inventory of 500 language packages, named
// after real advisories so that every lookup hits, against the Go, PyPI and
// crates.io exports held in memory.
func BenchmarkMatch500(b *testing.B) {
	var all []*vulndb.Advisory
	var pkgs []inventory.Package
	for _, eco := range []struct{ zip, typ, ver string }{
		{"Go", inventory.TypeGolang, "v0.1.0"},
		{"PyPI", inventory.TypePyPI, "1.0.0"},
		{"crates.io", inventory.TypeCargo, "0.1.0"},
	} {
		recs := loadZip(b, eco.zip)
		ids := make([]string, 0, len(recs))
		for id := range recs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		seen := map[string]bool{}
		for _, id := range ids {
			a := recs[id]
			all = append(all, a)
			for _, aff := range a.Affected {
				if n := aff.Package.Name; !seen[n] && len(pkgs) < 500 && len(seen) < 167 {
					seen[n] = true
					pkgs = append(pkgs, inventory.Package{Name: n, Version: eco.ver, Type: eco.typ})
				}
			}
		}
	}
	if len(pkgs) != 500 {
		b.Fatalf("built %d packages, want 500", len(pkgs))
	}
	benchMatch(b, newMemReader(all...), &inventory.Inventory{Packages: pkgs})
}

// BenchmarkMatchDebian matches a Debian-like inventory: many binary
// packages built from few source packages, the shape of a real bookworm
// image, against per-release Debian records.
func BenchmarkMatchDebian(b *testing.B) {
	var advs []*vulndb.Advisory
	var pkgs []inventory.Package
	for s := range 60 {
		src := fmt.Sprintf("src%d", s)
		for c := range 8 {
			advs = append(advs, &vulndb.Advisory{
				ID: fmt.Sprintf("DEBIAN-CVE-2024-%04d%d", s, c), Upstream: []string{fmt.Sprintf("CVE-2024-%04d%d", s, c)},
				Affected: []vulndb.Affected{
					{Package: vulndb.Package{Ecosystem: "Debian:11", Name: src}, Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "1.2-3+deb11u1"}}}}},
					{Package: vulndb.Package{Ecosystem: "Debian:12", Name: src}, Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: fmt.Sprintf("1.4-%d+deb12u1", c)}}}},
						EcosystemSpecific: map[string]any{"urgency": "medium"}},
				},
			})
		}
		for bin := range 2 {
			pkgs = append(pkgs, inventory.Package{Name: fmt.Sprintf("lib%s-%d", src, bin), Version: "1.4-4+b1", SourceName: src, SourceVersion: "1.4-4", Type: inventory.TypeDeb})
		}
	}
	benchMatch(b, newMemReader(advs...), &inventory.Inventory{OS: &inventory.OS{ID: "debian", VersionID: "12.5"}, Packages: pkgs})
}

func benchMatch(b *testing.B, r Reader, inv *inventory.Inventory) {
	b.ReportAllocs()
	var n int
	for b.Loop() {
		res, err := Match(context.Background(), r, inv)
		if err != nil {
			b.Fatal(err)
		}
		n = len(res.Findings)
	}
	b.ReportMetric(float64(n), "findings")
}
