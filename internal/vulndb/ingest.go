package vulndb

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxReportedErrors bounds SourceStats.Errors; Malformed still counts all.
const maxReportedErrors = 50

// SourceStats counts what one source (a zip or a directory) held.
type SourceStats struct {
	Source string // path or URL
	// Ecosystems are the top-level ecosystems this source's records were
	// loaded into (and so replaced).
	Ecosystems []string
	Entries    int // zip entries or .json files read
	Records    int // advisories kept
	Withdrawn  int // skipped: withdrawn
	// NoPackages counts records skipped because no affected entry names a
	// package (e.g. GIT-only ranges): nothing could look them up.
	NoPackages int
	Malformed  int           // entries that are not OSV records
	Errors     []RecordError // the first few malformed entries
}

// RecordError says why one entry of a source was not loaded.
type RecordError struct {
	Entry string // zip entry name or file path
	Err   error
}

func (e RecordError) Error() string { return e.Entry + ": " + e.Err.Error() }
func (e RecordError) Unwrap() error { return e.Err }

func (s *SourceStats) malformed(entry string, err error) {
	s.Malformed++
	if len(s.Errors) < maxReportedErrors {
		s.Errors = append(s.Errors, RecordError{Entry: entry, Err: err})
	}
}

// decodeAdvisory parses and checks one OSV record. It only accepts what the
// store can index and serve back: a JSON object with an id.
func decodeAdvisory(data []byte) (*Advisory, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty")
	}
	if data[0] != '{' {
		return nil, fmt.Errorf("not an OSV record: %s, want a JSON object", jsonKind(data[0]))
	}
	var adv Advisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return nil, fmt.Errorf("decode OSV record: %w", err)
	}
	if adv.ID == "" {
		return nil, errors.New("not an OSV record: no id")
	}
	if len(adv.ID) > 256 || !utf8.ValidString(adv.ID) || strings.ContainsFunc(adv.ID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("not an OSV record: bad id %q", truncate(adv.ID, 64))
	}
	return &adv, nil
}

func jsonKind(c byte) string {
	switch {
	case c == '[':
		return "a JSON array"
	case c == '"':
		return "a JSON string"
	case c == '-' || ('0' <= c && c <= '9'):
		return "a JSON number"
	case c == 't' || c == 'f':
		return "a JSON boolean"
	case c == 'n':
		return "JSON null"
	case c == '<':
		return "looks like HTML or XML"
	}
	return "not JSON"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// EcosystemCVE holds the records of a CVE that name no package (the
// NVD-derived records osv.dev publishes by CVE id): matching never looks
// there; they rate other records of the same CVE through KnownAs.
const EcosystemCVE = "CVE"

// indexKey is one row of the affected index, before the advisory id.
type indexKey struct{ ecosystem, name string }

// keys lists the distinct (ecosystem, normalised name) pairs adv names.
func keys(adv *Advisory) []indexKey {
	var out []indexKey
	seen := map[indexKey]bool{}
	for _, a := range adv.Affected {
		eco, name := a.Package.Ecosystem, a.Package.Name
		if eco == "" || name == "" {
			continue
		}
		k := indexKey{eco, normalizeName(eco, name)}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// entryFunc receives one record's bytes; name is for error messages.
type entryFunc func(name string, data []byte) error

// errSourceTooBig aborts a source that would decompress past the cap.
var errSourceTooBig = errors.New("source exceeds the uncompressed size cap")

// walkZip feeds every file entry of the zip to fn. Entry and total sizes are
// capped by counting bytes actually inflated, since zip headers can lie.
// Entries that are not .json, or exceed the per-record cap, are reported to
// bad; a damaged archive ends the walk with an error.
func walkZip(ctx context.Context, r io.ReaderAt, size int64, cfg *config, fn entryFunc, bad func(string, error)) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	var total int64
	var buf bytes.Buffer
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if !strings.EqualFold(pathExt(f.Name), ".json") {
			bad(f.Name, errors.New("not a .json entry"))
			continue
		}
		if f.UncompressedSize64 > uint64(cfg.maxRecord) {
			bad(f.Name, fmt.Errorf("entry declares %d bytes, over the %d-byte record cap", f.UncompressedSize64, cfg.maxRecord))
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("read zip entry %s: %w", f.Name, err)
		}
		buf.Reset()
		n, err := buf.ReadFrom(io.LimitReader(rc, cfg.maxRecord+1))
		rc.Close()
		total += n
		if err != nil {
			// A checksum or inflate failure means the archive itself is
			// damaged (truncated download), not one bad record.
			return fmt.Errorf("read zip entry %s: %w", f.Name, err)
		}
		if total > cfg.maxUncompessed {
			return fmt.Errorf("read zip: %w (%d bytes)", errSourceTooBig, cfg.maxUncompessed)
		}
		if n > cfg.maxRecord {
			bad(f.Name, fmt.Errorf("entry inflates past the %d-byte record cap", cfg.maxRecord))
			continue
		}
		if err := fn(f.Name, buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func pathExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 && !strings.ContainsAny(name[i:], "/\\") {
		return name[i:]
	}
	return ""
}

// walkDir feeds every *.json file under dir (recursively, in lexical order,
// not following symlinked directories) to fn.
func walkDir(ctx context.Context, dir string, cfg *config, fn entryFunc, bad func(string, error)) error {
	var total int64
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() || !strings.EqualFold(filepath.Ext(path), ".json") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		data, err := io.ReadAll(io.LimitReader(f, cfg.maxRecord+1))
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		total += int64(len(data))
		if total > cfg.maxUncompessed {
			return fmt.Errorf("read %s: %w (%d bytes)", dir, errSourceTooBig, cfg.maxUncompessed)
		}
		if int64(len(data)) > cfg.maxRecord {
			bad(path, fmt.Errorf("file is over the %d-byte record cap", cfg.maxRecord))
			return nil
		}
		return fn(path, data)
	})
}

// source is one input to a build.
type source struct {
	label string // path or URL, for stats
	path  string // local file or directory
	isZip bool
	// ecosystem is the export's declared top-level ecosystem (Update knows
	// it); empty means infer it.
	ecosystem string
	// etag and lastModified are the validators the export was served with.
	etag, lastModified string
}

// readSource streams src's records into the build and returns its stats.
func (b *builder) readSource(ctx context.Context, src source) (SourceStats, error) {
	st := SourceStats{Source: src.label}
	tops := map[string]int{} // top-level ecosystem → records naming it
	emit := func(name string, data []byte) error {
		st.Entries++
		adv, err := decodeAdvisory(data)
		if err != nil {
			st.malformed(name, err)
			return nil
		}
		if adv.Withdrawn != nil && !adv.Withdrawn.IsZero() {
			st.Withdrawn++
			return nil
		}
		ks := keys(adv)
		if len(ks) == 0 && isCVEID(adv.ID) && len(adv.Severity) > 0 {
			// An NVD-derived record names no package an inventory holds,
			// but its CVSS rates the other records of the CVE: it is kept
			// under the CVE pseudo-ecosystem, found through the alias
			// index only.
			ks = []indexKey{{EcosystemCVE, adv.ID}}
		}
		if len(ks) == 0 {
			st.NoPackages++
			return nil
		}
		if err := b.add(ctx, adv, ks); err != nil {
			return err
		}
		st.Records++
		seen := map[string]bool{}
		for _, k := range ks {
			if t := topLevel(k.ecosystem); !seen[t] {
				seen[t] = true
				tops[t]++
			}
		}
		return nil
	}
	bad := func(name string, err error) { st.Entries++; st.malformed(name, err) }

	var err error
	// Debian security tracker data is converted to OSV records (debian.go).
	if debian, derr := b.readDebianSource(ctx, src, emit, bad); debian {
		err = derr
	} else if src.isZip {
		err = b.readZipFile(ctx, src.path, emit, bad)
	} else {
		err = walkDir(ctx, src.path, b.cfg, emit, bad)
	}
	if err != nil {
		return st, err
	}
	if st.Records == 0 {
		if len(st.Errors) > 0 {
			return st, fmt.Errorf("no OSV records in %s (%d of %d entries malformed; first: %w)", src.label, st.Malformed, st.Entries, st.Errors[0])
		}
		if st.Withdrawn == 0 && st.NoPackages == 0 {
			return st, fmt.Errorf("no OSV records in %s", src.label)
		}
	}
	// An export is produced by a machine; more than a sliver of garbage
	// means a damaged or wrong file, and loading it would silently drop
	// the ecosystem's other records.
	if src.isZip && st.Malformed*100 > st.Entries {
		return st, fmt.Errorf("%s looks damaged: %d of %d entries are not OSV records (first: %w)", src.label, st.Malformed, st.Entries, st.Errors[0])
	}
	st.Ecosystems = scopeOf(src, tops)
	if src.ecosystem != "" && st.Records > 0 && tops[src.ecosystem] == 0 {
		return st, fmt.Errorf("%s holds no %s records: wrong content", src.label, src.ecosystem)
	}
	return st, nil
}

// scopeOf decides which top-level ecosystems a source replaces. An export
// zip is one ecosystem's (declared, or the one most of its records name):
// records cross-listed in another ecosystem also sit in that ecosystem's
// export, and must not make this one replace it. A directory is a set of
// records of any ecosystems, and replaces each one it names.
func scopeOf(src source, tops map[string]int) []string {
	if src.ecosystem != "" {
		return []string{src.ecosystem}
	}
	var out []string
	if src.isZip {
		best := ""
		for t, n := range tops {
			if best == "" || n > tops[best] || (n == tops[best] && t < best) {
				best = t
			}
		}
		if best != "" {
			out = append(out, best)
		}
		return out
	}
	for t := range tops {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (b *builder) readZipFile(ctx context.Context, path string, emit entryFunc, bad func(string, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if err := walkZip(ctx, f, fi.Size(), b.cfg, emit, bad); err != nil {
		if errors.Is(err, zip.ErrFormat) {
			return fmt.Errorf("%s: neither an OSV export zip nor the Debian security tracker's JSON export: %w", path, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
