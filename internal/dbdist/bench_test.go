package dbdist

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/testenv"
	"github.com/drydock/drydock/internal/vulndb"
)

// BenchmarkPull measures db pull from the in-process registry of a
// database built from the real OSV sets (Go, PyPI, crates.io, AlmaLinux):
// "full" into an empty data directory, "unchanged" when the signed
// database is already installed, and "one-ecosystem" when only crates.io
// changed since the installed one (one layer of four fetched). It reports
// layer bytes and layers downloaded per pull (layer-B/op, layers/op)
// beside the time.
func BenchmarkPull(b *testing.B) {
	ctx := context.Background()
	vd := testenv.VulnData(b)
	zip := func(eco string) string { return filepath.Join(vd, "osv-bucket-layout", eco, "all.zip") }
	dir := b.TempDir()
	base := filepath.Join(dir, "base.sqlite")
	if _, err := vulndb.Import(ctx, base, []string{zip("Go"), zip("PyPI"), zip("crates.io"), zip("AlmaLinux")}); err != nil {
		b.Fatal(err)
	}
	// The same database with crates.io re-imported (and a record added):
	// one ecosystem changed.
	changed := filepath.Join(dir, "changed.sqlite")
	copyFile(b, base, changed)
	extra := b.TempDir()
	writeRecord(b, extra, "crates.io", "DRY-CRATES-BENCH-1")
	if _, err := vulndb.Import(ctx, changed, []string{zip("crates.io"), extra}); err != nil {
		b.Fatal(err)
	}
	tr := newRegistryB(b)
	k := newKeyB(b)
	push := func(db, tag string) name.Reference {
		ref, _ := name.NewTag(tr.host + "/security/vulndb:" + tag)
		if _, err := Push(ctx, db, ref, k.signer); err != nil {
			b.Fatal(err)
		}
		return ref
	}
	baseRef := push(base, "base")
	time.Sleep(1100 * time.Millisecond) // a later signed time
	changedRef := push(changed, "changed")

	run := func(b *testing.B, prepare func(local string), ref name.Reference) {
		var bytes, layers int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			local := filepath.Join(b.TempDir(), "vulndb.sqlite")
			prepare(local)
			b.StartTimer()
			res, err := Pull(ctx, local, ref, k.keys)
			if err != nil {
				b.Fatal(err)
			}
			bytes += res.Bytes
			layers += int64(res.Downloaded)
		}
		b.ReportMetric(float64(bytes)/float64(b.N), "layer-B/op")
		b.ReportMetric(float64(layers)/float64(b.N), "layers/op")
	}
	installBase := func(local string) {
		if _, err := Pull(ctx, local, baseRef, k.keys); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("full", func(b *testing.B) { run(b, func(string) {}, baseRef) })
	b.Run("unchanged", func(b *testing.B) { run(b, installBase, baseRef) })
	b.Run("one-ecosystem", func(b *testing.B) { run(b, installBase, changedRef) })
}
