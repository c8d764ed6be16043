package vulndb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ImportStats reports an Import.
type ImportStats struct {
	Sources []SourceStats
	// Ecosystems are the top-level ecosystems replaced, with their counts
	// after the import.
	Ecosystems []EcosystemStatus
}

// Import loads OSV records from local sources into the database at dbPath,
// creating it if needed. A source is an export zip (all.zip) or a directory
// searched recursively for *.json records.
//
// Each top-level ecosystem a source holds replaces that ecosystem's records
// in the database (an export zip counts as holding one ecosystem: the one
// most of its records name); other ecosystems are kept. Records of one
// ecosystem spread over several sources must therefore be imported in one
// call. Withdrawn records are skipped; entries that are not OSV records are
// counted and listed in the stats, and fail the import only when a source
// yields no records at all or an export zip is more than 1% garbage.
// On error the existing database is left as it was.
func Import(ctx context.Context, dbPath string, sources []string, opts ...Option) (ImportStats, error) {
	cfg := newConfig(opts)
	if len(sources) == 0 {
		return ImportStats{}, errors.New("import: no sources given")
	}
	srcs := make([]source, 0, len(sources))
	for _, p := range sources {
		fi, err := os.Stat(p)
		if err != nil {
			return ImportStats{}, fmt.Errorf("import: %w", err)
		}
		srcs = append(srcs, source{label: p, path: p, isZip: !fi.IsDir()})
	}
	var st ImportStats
	err := withLock(ctx, dbPath, func() error {
		ld, replaced, err := build(ctx, dbPath, &cfg, func(ctx context.Context, b *builder) (loaded, error) {
			return loadSources(ctx, b, srcs)
		})
		st = ImportStats{Sources: ld.stats, Ecosystems: replaced}
		return err
	})
	if err != nil {
		return st, fmt.Errorf("import into %s: %w", dbPath, err)
	}
	return st, nil
}

// loadSources reads srcs into b and gathers, per replaced ecosystem, the
// sources it came from and (for a single downloaded export) its validators.
func loadSources(ctx context.Context, b *builder, srcs []source) (loaded, error) {
	ld := loaded{meta: map[string]sourceRow{}}
	for _, src := range srcs {
		st, err := b.readSource(ctx, src)
		ld.stats = append(ld.stats, st)
		if err != nil {
			return ld, err
		}
		for _, e := range st.Ecosystems {
			row := ld.meta[e]
			if row.Source == "" {
				row.Source, row.ETag, row.LastModified = src.label, src.etag, src.lastModified
			} else if !strings.Contains(row.Source, src.label) {
				// Validators describe one file; a merged ecosystem has none.
				row.Source += ", " + src.label
				row.ETag, row.LastModified = "", ""
			}
			ld.meta[e] = row
		}
	}
	return ld, nil
}
