package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/drydock/drydock/internal/finding"
)

// SeverityRank orders ratings: UNKNOWN 0 … CRITICAL 5; -1 is not a
// rating (finding.SeverityRank).
func SeverityRank(r string) int { return finding.SeverityRank(r) }

// PutImage records an image the first time it is seen and refreshes its
// descriptive fields after; it says whether the digest was new (a digest
// is scanned once, whatever repositories it is in). Each repository the
// digest is put under is kept, so listings show it under every one.
func (s *DB) PutImage(ctx context.Context, im Image) (bool, error) {
	var n int64
	err := s.inTx(ctx, func(t tx) error {
		now := nanos(s.now())
		res, err := t.exec(ctx, `INSERT INTO images (digest, registry, repository, platform, index_digest, base_name, base_digest, first_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
			im.Digest, im.Registry, im.Repository, im.Platform, im.Index, im.BaseName, im.BaseDigest, now)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := t.exec(ctx, `INSERT INTO image_repositories (digest, repository, registry, first_seen) VALUES (?, ?, ?, ?)
			ON CONFLICT (digest, repository, registry) DO NOTHING`, im.Digest, im.Repository, im.Registry, now); err != nil {
			return err
		}
		if n == 0 && (im.BaseName != "" || im.Platform != "") {
			if _, err := t.exec(ctx, `UPDATE images SET
				platform = CASE WHEN ? = '' THEN platform ELSE ? END,
				base_name = CASE WHEN ? = '' THEN base_name ELSE ? END,
				base_digest = CASE WHEN ? = '' THEN base_digest ELSE ? END
				WHERE digest = ?`, im.Platform, im.Platform, im.BaseName, im.BaseName, im.BaseDigest, im.BaseDigest, im.Digest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store image %s: %w", im.Digest, err)
	}
	return n > 0, nil
}

// SetTag points repository:tag at digest.
func (s *DB) SetTag(ctx context.Context, repository, tag, digest string) error {
	_, err := s.exec(ctx, `INSERT INTO tags (repository, tag, digest, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		repository, tag, digest, nanos(s.now()))
	if err != nil {
		return fmt.Errorf("store tag %s:%s: %w", repository, tag, err)
	}
	return nil
}

// imageCols reads an image as first seen; refImageCols reads it as one
// of its repositories (FROM image_repositories r JOIN images i).
const (
	imageCols    = `i.digest, i.registry, i.repository, ` + imageTail
	refImageCols = `i.digest, r.registry, r.repository, ` + imageTail
	refImages    = `image_repositories r JOIN images i ON i.digest = r.digest`
)

const imageTail = `i.platform, i.index_digest, i.base_name, i.base_digest, i.first_seen, i.scanned_at, i.scan_error,
	i.critical, i.high, i.medium, i.low, i.unknown, i.fixable, i.total,
	EXISTS (SELECT 1 FROM workloads w WHERE w.digest = i.digest OR (i.index_digest <> '' AND w.digest = i.index_digest)),
	COALESCE((SELECT v.result FROM verdicts v WHERE v.digest = i.digest), '')`

func scanImage(r interface{ Scan(...any) error }) (Image, error) {
	var im Image
	var first, scanned int64
	err := r.Scan(&im.Digest, &im.Registry, &im.Repository, &im.Platform, &im.Index, &im.BaseName, &im.BaseDigest, &first, &scanned, &im.ScanError,
		&im.Counts.Critical, &im.Counts.High, &im.Counts.Medium, &im.Counts.Low, &im.Counts.Unknown, &im.Counts.Fixable, &im.Counts.Total, &im.Running, &im.Verdict)
	im.FirstSeen, im.ScannedAt = fromNanos(first), fromNanos(scanned)
	return im, err
}

// Image returns one image with its tags and every repository it is in.
func (s *DB) Image(ctx context.Context, digest string) (*Image, error) {
	im, err := scanImage(s.queryRow(ctx, `SELECT `+imageCols+` FROM images i WHERE i.digest = ?`, digest))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("image %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", digest, err)
	}
	if err := s.fillTags(ctx, []*Image{&im}, true); err != nil {
		return nil, err
	}
	return &im, nil
}

// fillTags sets each image's Tags to those of its Repository and, with
// repos, its Repositories (every repository the digest is in, with the
// tags there).
func (s *DB) fillTags(ctx context.Context, ims []*Image, repos bool) error {
	if len(ims) == 0 {
		return nil
	}
	type ref struct{ digest, repository string }
	by := map[ref][]*Image{}
	byDigest := map[string][]*Image{}
	args := make([]any, 0, len(ims))
	for _, im := range ims {
		k := ref{im.Digest, im.Repository}
		by[k] = append(by[k], im)
		if len(byDigest[im.Digest]) == 0 {
			args = append(args, im.Digest)
		}
		byDigest[im.Digest] = append(byDigest[im.Digest], im)
	}
	ph := `(?` + strings.Repeat(", ?", len(args)-1) + `)`
	tags := map[ref][]string{}
	rows, err := s.queryDirect(ctx, `SELECT digest, repository, tag FROM tags WHERE digest IN `+ph+` ORDER BY tag`, args...)
	if err != nil {
		return fmt.Errorf("read tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k ref
		var t string
		if err := rows.Scan(&k.digest, &k.repository, &t); err != nil {
			return fmt.Errorf("read tags: %w", err)
		}
		tags[k] = append(tags[k], t)
		for _, im := range by[k] {
			im.Tags = append(im.Tags, t)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tags: %w", err)
	}
	if !repos {
		return nil
	}
	rrows, err := s.queryDirect(ctx, `SELECT digest, registry, repository FROM image_repositories WHERE digest IN `+ph+` ORDER BY digest, repository, registry`, args...)
	if err != nil {
		return fmt.Errorf("read repositories: %w", err)
	}
	defer rrows.Close()
	for rrows.Next() {
		var d string
		var r Reference
		if err := rrows.Scan(&d, &r.Registry, &r.Repository); err != nil {
			return fmt.Errorf("read repositories: %w", err)
		}
		r.Tags = tags[ref{d, r.Repository}]
		for _, im := range byDigest[d] {
			im.Repositories = append(im.Repositories, r)
		}
	}
	return rrows.Err()
}

func imageWhere(f ImageFilter) ([]string, []any) {
	var where []string
	var args []any
	if f.Registry != "" {
		where, args = append(where, "r.registry = ?"), append(args, f.Registry)
	}
	if f.Repository != "" {
		where, args = append(where, "r.repository = ?"), append(args, f.Repository)
	}
	if f.Query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(f.Query) + "%"
		where = append(where, `(r.repository LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM tags t WHERE t.digest = i.digest AND t.repository = r.repository AND t.tag LIKE ? ESCAPE '\'))`)
		args = append(args, like, like)
	}
	if f.BaseDigest != "" {
		where, args = append(where, "i.base_digest = ?"), append(args, f.BaseDigest)
	}
	if f.MinSeverity != "" {
		where, args = append(where, "i.max_rank >= ?"), append(args, SeverityRank(f.MinSeverity))
	}
	if f.Fixable != nil {
		if *f.Fixable {
			where = append(where, "i.fixable > 0")
		} else {
			where = append(where, "i.fixable = 0")
		}
	}
	if f.Running != nil {
		not := ""
		if !*f.Running {
			not = "NOT "
		}
		where = append(where, not+"EXISTS (SELECT 1 FROM workloads w WHERE w.digest = i.digest OR (i.index_digest <> '' AND w.digest = i.index_digest))")
	}
	return where, args
}

// CountImages counts the listing rows (a digest once per repository) a
// filter keeps (After, Sort and paging ignored).
func (s *DB) CountImages(ctx context.Context, f ImageFilter) (int, error) {
	where, args := imageWhere(f)
	q := `SELECT COUNT(*) FROM ` + refImages
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	var n int
	if err := s.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count images: %w", err)
	}
	return n, nil
}

// Images lists images in digest order (or f.Sort), a page at a time: a
// digest in several repositories is one row per repository (digest,
// repository, registry order), with the tags it has there.
func (s *DB) Images(ctx context.Context, f ImageFilter) ([]Image, error) {
	where, args := imageWhere(f)
	if f.After != "" && f.AfterRepository != "" {
		where = append(where, "(r.digest > ? OR (r.digest = ? AND (r.repository > ? OR (r.repository = ? AND r.registry > ?))))")
		args = append(args, f.After, f.After, f.AfterRepository, f.AfterRepository, f.AfterRegistry)
	} else if f.After != "" {
		where, args = append(where, "r.digest > ?"), append(args, f.After)
	}
	q := `SELECT ` + refImageCols + ` FROM ` + refImages
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if col, ok := ImageSorts[f.Sort]; ok && f.Sort != "digest" {
		dir := " ASC"
		if f.Desc {
			dir = " DESC"
		}
		q += " ORDER BY " + col + dir + ", r.digest, r.repository, r.registry LIMIT ?"
	} else if f.Desc {
		q += " ORDER BY r.digest DESC, r.repository DESC, r.registry DESC LIMIT ?"
	} else {
		q += " ORDER BY r.digest, r.repository, r.registry LIMIT ?"
	}
	args = append(args, limit)
	if f.Offset > 0 {
		q += " OFFSET ?"
		args = append(args, f.Offset)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	defer rows.Close()
	var out []Image
	for rows.Next() {
		im, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		out = append(out, im)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	ptrs := make([]*Image, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	return out, s.fillTags(ctx, ptrs, false)
}

// Scanned says whether the digest has a stored scan.
func (s *DB) Scanned(ctx context.Context, digest string) (bool, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT scanned_at FROM images WHERE digest = ?`, digest).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read image %s: %w", digest, err)
	}
	return n != 0, nil
}

// ScanFailed records why an image could not be scanned.
func (s *DB) ScanFailed(ctx context.Context, digest, reason string) error {
	return s.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `UPDATE images SET scan_error = ? WHERE digest = ?`, reason, digest); err != nil {
			return err
		}
		return s.addEvent(ctx, t, Event{Kind: EventScanFailed, Digest: digest, Detail: reason})
	})
}

// PutInventory stores an image's inventory (JSON) once per digest.
func (s *DB) PutInventory(ctx context.Context, digest string, inventoryJSON []byte) error {
	_, err := s.exec(ctx, `INSERT INTO inventories (digest, data, stored_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
		digest, s.compress(inventoryJSON), nanos(s.now()))
	if err != nil {
		return fmt.Errorf("store inventory %s: %w", digest, err)
	}
	return nil
}

// Inventory returns a stored inventory's JSON.
func (s *DB) Inventory(ctx context.Context, digest string) ([]byte, error) {
	var b []byte
	err := s.queryRow(ctx, `SELECT data FROM inventories WHERE digest = ?`, digest).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("inventory %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", digest, err)
	}
	return s.decompress(b)
}

// InventoryDigests lists stored inventories in digest order after the
// given one: the pages re-match batches are cut from.
func (s *DB) InventoryDigests(ctx context.Context, after string, limit int) ([]string, error) {
	rows, err := s.query(ctx, `SELECT digest FROM inventories WHERE digest > ? ORDER BY digest LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list inventories: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

const findingCols = `f.digest, f.vuln_id, f.package, f.version, f.ecosystem, f.fixed, f.severity, f.fix_path, f.layer, f.aliases`

func scanFindings(rows *sql.Rows) ([]Finding, error) {
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var aliases string
		if err := rows.Scan(&f.Digest, &f.ID, &f.Package, &f.Version, &f.Ecosystem, &f.Fixed, &f.Severity, &f.FixPath, &f.Layer, &aliases); err != nil {
			return nil, err
		}
		if aliases != "" {
			f.Aliases = strings.Split(aliases, " ")
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Findings returns an image's findings, worst first.
func (s *DB) Findings(ctx context.Context, digest string) ([]Finding, error) {
	rows, err := s.query(ctx, `SELECT `+findingCols+` FROM findings f WHERE f.digest = ?`, digest)
	if err != nil {
		return nil, fmt.Errorf("read findings %s: %w", digest, err)
	}
	fs, err := scanFindings(rows)
	if err != nil {
		return nil, fmt.Errorf("read findings %s: %w", digest, err)
	}
	sortFindings(fs)
	return fs, nil
}

func sortFindings(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.Digest != b.Digest {
			return a.Digest < b.Digest
		}
		return a.key() < b.key()
	})
}

// Affected returns every stored finding of a vulnerability, by its id or
// any alias (a CVE id finds the distro advisories that alias it).
func (s *DB) Affected(ctx context.Context, id string) ([]Finding, error) {
	rows, err := s.query(ctx, `SELECT `+findingCols+` FROM findings f WHERE EXISTS (
		SELECT 1 FROM finding_ids x WHERE x.id = ? AND x.digest = f.digest AND x.vuln_id = f.vuln_id)`, id)
	if err != nil {
		return nil, fmt.Errorf("read vulnerability %s: %w", id, err)
	}
	fs, err := scanFindings(rows)
	if err != nil {
		return nil, fmt.Errorf("read vulnerability %s: %w", id, err)
	}
	sortFindings(fs)
	return fs, nil
}

// SaveFindings replaces an image's findings with a fresh match and records
// what changed: a scan event the first time, appeared/disappeared events
// (and a rematch event) when a later match differs. cause is EventScan or
// EventRematch.
func (s *DB) SaveFindings(ctx context.Context, digest string, findings []Finding, cause string) (Diff, error) {
	var d Diff
	err := s.inTx(ctx, func(t tx) error {
		d = Diff{}
		return s.saveFindings(ctx, t, digest, findings, cause, &d)
	})
	if err != nil {
		return Diff{}, fmt.Errorf("store findings %s: %w", digest, err)
	}
	if d.First {
		d.Appeared = nil
	}
	return d, nil
}

// FindingsUpdate is one image's fresh match, for SaveFindingsMany.
type FindingsUpdate struct {
	Digest   string
	Findings []Finding
}

// SaveFindingsMany is SaveFindings for several images in one transaction
// (a re-match batch: one commit instead of one per image). An image no
// longer stored is skipped (its Diff is empty); any other error rolls the
// whole batch back.
func (s *DB) SaveFindingsMany(ctx context.Context, ups []FindingsUpdate, cause string) ([]Diff, error) {
	diffs := make([]Diff, len(ups))
	err := s.inTx(ctx, func(t tx) error {
		for i, u := range ups {
			diffs[i] = Diff{}
			if err := s.saveFindings(ctx, t, u.Digest, u.Findings, cause, &diffs[i]); errors.Is(err, ErrNotFound) {
				diffs[i] = Diff{}
				continue
			} else if err != nil {
				return fmt.Errorf("store findings %s: %w", u.Digest, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range diffs {
		if diffs[i].First {
			diffs[i].Appeared = nil
		}
	}
	return diffs, nil
}

func (s *DB) saveFindings(ctx context.Context, t tx, digest string, findings []Finding, cause string, d *Diff) error {
	var scannedAt int64
	if err := t.QueryRowContext(ctx, t.d.q(`SELECT scanned_at FROM images WHERE digest = ?`), digest).Scan(&scannedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("image %s: %w", digest, ErrNotFound)
		}
		return err
	}
	d.First = scannedAt == 0
	rows, err := t.query(ctx, `SELECT `+findingCols+` FROM findings f WHERE f.digest = ?`, digest)
	if err != nil {
		return err
	}
	old, err := scanFindings(rows)
	if err != nil {
		return err
	}
	oldBy := map[string]Finding{}
	for _, f := range old {
		oldBy[f.key()] = f
	}
	newBy := map[string]Finding{}
	var c Counts
	maxRank := -1
	for _, f := range findings {
		f.Digest = digest
		if _, dup := newBy[f.key()]; dup {
			continue
		}
		newBy[f.key()] = f
		c.Total++
		switch strings.ToUpper(f.Severity) {
		case "CRITICAL":
			c.Critical++
		case "HIGH":
			c.High++
		case "MEDIUM":
			c.Medium++
		case "LOW":
			c.Low++
		default:
			c.Unknown++
		}
		if f.Fixed != "" {
			c.Fixable++
		}
		if r := SeverityRank(f.Severity); r > maxRank {
			maxRank = r
		}
	}
	var changed []Finding
	for k, f := range newBy {
		o, ok := oldBy[k]
		if !ok {
			d.Appeared = append(d.Appeared, f)
			changed = append(changed, f)
		} else if !sameFinding(o, f) {
			changed = append(changed, f)
		}
	}
	for k, f := range oldBy {
		if _, ok := newBy[k]; !ok {
			d.Disappeared = append(d.Disappeared, f)
		}
	}
	sortFindings(d.Appeared)
	sortFindings(d.Disappeared)
	for _, f := range d.Disappeared {
		if _, err := t.exec(ctx, `DELETE FROM findings WHERE digest = ? AND vuln_id = ? AND package = ? AND version = ?`, digest, f.ID, f.Package, f.Version); err != nil {
			return err
		}
	}
	var frows [][]any
	for _, f := range changed {
		frows = append(frows, []any{digest, f.ID, f.Package, f.Version, f.Ecosystem, f.Fixed, f.Severity, f.FixPath, f.Layer, strings.Join(f.Aliases, " ")})
	}
	if err := insertMany(ctx, t, `INSERT INTO findings (digest, vuln_id, package, version, ecosystem, fixed, severity, fix_path, layer, aliases) VALUES `, frows,
		` ON CONFLICT (digest, vuln_id, package, version) DO UPDATE SET ecosystem = excluded.ecosystem, fixed = excluded.fixed,
			severity = excluded.severity, fix_path = excluded.fix_path, layer = excluded.layer, aliases = excluded.aliases`); err != nil {
		return err
	}
	if len(changed)+len(d.Disappeared) > 0 {
		if _, err := t.exec(ctx, `DELETE FROM finding_ids WHERE digest = ?`, digest); err != nil {
			return err
		}
		seen := map[[2]string]bool{}
		var irows [][]any
		for _, f := range newBy {
			for _, id := range append([]string{f.ID}, f.Aliases...) {
				if seen[[2]string{id, f.ID}] {
					continue
				}
				seen[[2]string{id, f.ID}] = true
				irows = append(irows, []any{id, digest, f.ID})
			}
		}
		if err := insertMany(ctx, t, `INSERT INTO finding_ids (id, digest, vuln_id) VALUES `, irows, ""); err != nil {
			return err
		}
	}
	now := nanos(s.now())
	scanned := scannedAt
	if cause == EventScan || scanned == 0 {
		scanned = now
	}
	if _, err := t.exec(ctx, `UPDATE images SET scanned_at = ?, scan_error = '', critical = ?, high = ?, medium = ?, low = ?, unknown = ?, fixable = ?, total = ?, max_rank = ?
		WHERE digest = ?`, scanned, c.Critical, c.High, c.Medium, c.Low, c.Unknown, c.Fixable, c.Total, maxRank, digest); err != nil {
		return err
	}
	if d.First || cause == EventScan {
		return s.addEvent(ctx, t, Event{Kind: EventScan, Digest: digest, Detail: fmt.Sprintf("%d findings (%d critical, %d high, %d fixable)", c.Total, c.Critical, c.High, c.Fixable)})
	}
	if !d.Changed() {
		return nil
	}
	var erows [][]any
	for _, f := range d.Appeared {
		erows = append(erows, []any{now, EventAppeared, digest, f.ID, "", findingDetail(f)})
	}
	for _, f := range d.Disappeared {
		erows = append(erows, []any{now, EventDisappeared, digest, f.ID, "", findingDetail(f)})
	}
	if err := insertMany(ctx, t, `INSERT INTO events (at, kind, digest, vuln_id, workload, detail) VALUES `, erows, ""); err != nil {
		return err
	}
	return s.addEvent(ctx, t, Event{Kind: EventRematch, Digest: digest, Detail: fmt.Sprintf("%d appeared, %d disappeared", len(d.Appeared), len(d.Disappeared))})
}

func findingDetail(f Finding) string {
	s := f.Package + " " + f.Version + " (" + f.Severity
	if f.Fixed != "" {
		s += ", fixed in " + f.Fixed
	}
	return s + ")"
}

func sameFinding(a, b Finding) bool {
	return a.Ecosystem == b.Ecosystem && a.Fixed == b.Fixed && a.Severity == b.Severity && a.FixPath == b.FixPath &&
		a.Layer == b.Layer && strings.Join(a.Aliases, " ") == strings.Join(b.Aliases, " ")
}

// insertMany inserts rows with multi-row VALUES statements (a statement per
// row costs more than the row itself), in order.
func insertMany(ctx context.Context, t tx, head string, rows [][]any, tail string) error {
	const per = 50
	for len(rows) > 0 {
		n := min(per, len(rows))
		part := rows[:n]
		rows = rows[n:]
		one := "(?" + strings.Repeat(", ?", len(part[0])-1) + ")"
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, n*len(part[0]))
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = append(args, r...)
		}
		b.WriteString(tail)
		// The text depends on the row count only: the statement cache
		// holds at most one statement per count.
		if _, err := t.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
