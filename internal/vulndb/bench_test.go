package vulndb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkImportAll(b *testing.B) {
	var zips []string
	for _, e := range realSets {
		zips = append(zips, realZip(b, e))
	}
	dir := b.TempDir()
	var size int64
	for i := 0; b.Loop(); i++ {
		path := filepath.Join(dir, "db.sqlite")
		os.Remove(path)
		if _, err := Import(context.Background(), path, zips); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}

func BenchmarkOpen(b *testing.B) {
	path := realDB(b)
	ctx := context.Background()
	for b.Loop() {
		db, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}

func BenchmarkAffecting(b *testing.B) {
	db := openT(b, realDB(b))
	ctx := context.Background()
	for _, q := range [][2]string{
		{"Go", "golang.org/x/text"},
		{"PyPI", "Django"},
		{"crates.io", "smallvec"},
		{"AlmaLinux:9", "kernel"}, // the largest answer: many big records
		{"Debian:12", "openssl"},  // absent
	} {
		b.Run(q[0]+"/"+q[1], func(b *testing.B) {
			var n int
			for b.Loop() {
				advs, err := db.Affecting(ctx, q[0], q[1])
				if err != nil {
					b.Fatal(err)
				}
				n = len(advs)
			}
			b.ReportMetric(float64(n), "advisories")
		})
	}
}
