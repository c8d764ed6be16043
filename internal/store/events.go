package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

func (s *DB) addEvent(ctx context.Context, t tx, e Event) error {
	at := nanos(e.At)
	if at == 0 {
		at = nanos(s.now())
	}
	_, err := t.exec(ctx, `INSERT INTO events (at, kind, digest, vuln_id, workload, detail, role) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		at, e.Kind, e.Digest, e.VulnID, e.Workload, e.Detail, e.Role)
	return err
}

// AddEvent records an event (rebuilds, rollouts, database updates).
func (s *DB) AddEvent(ctx context.Context, e Event) error {
	if err := s.inTx(ctx, func(t tx) error { return s.addEvent(ctx, t, e) }); err != nil {
		return fmt.Errorf("record event %s: %w", e.Kind, err)
	}
	return nil
}

// EventFilter narrows the event history.
type EventFilter struct {
	// Before is the id of the last event of the previous page (0: newest).
	Before int64
	// After, when set, lists the events after that id oldest first (a
	// live stream catching up); Before is then ignored.
	After  int64
	Limit  int
	Kind   string
	Digest string
	VulnID string
}

// Events returns events newest first.
func (s *DB) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var where []string
	var args []any
	if f.Before > 0 && f.After == 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.Digest != "" {
		where, args = append(where, "digest = ?"), append(args, f.Digest)
	}
	if f.VulnID != "" {
		where, args = append(where, "vuln_id = ?"), append(args, f.VulnID)
	}
	if f.After > 0 {
		where, args = append(where, "id > ?"), append(args, f.After)
	}
	q := `SELECT id, at, kind, digest, vuln_id, workload, detail, role FROM events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if f.After > 0 {
		// Oldest first: a stream catching up sends events in order.
		q += " ORDER BY id LIMIT ?"
	} else {
		q += " ORDER BY id DESC LIMIT ?"
	}
	rows, err := s.query(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Digest, &e.VulnID, &e.Workload, &e.Detail, &e.Role); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PutVerdict records a pushed verdict.
func (s *DB) PutVerdict(ctx context.Context, v Verdict) error {
	err := s.inTx(ctx, func(t tx) error {
		if _, err := t.exec(ctx, `INSERT INTO verdicts (digest, result, policy, fingerprint, ref, signed_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (digest) DO UPDATE SET result = excluded.result, policy = excluded.policy, fingerprint = excluded.fingerprint,
			ref = excluded.ref, signed_at = excluded.signed_at`,
			v.Digest, v.Result, v.Policy, v.Fingerprint, v.Ref, nanos(v.SignedAt)); err != nil {
			return err
		}
		return s.addEvent(ctx, t, Event{Kind: EventVerdict, Digest: v.Digest, Detail: v.Result + " (" + v.Policy + "): " + v.Ref})
	})
	if err != nil {
		return fmt.Errorf("store verdict %s: %w", v.Digest, err)
	}
	return nil
}

// Verdict returns the last verdict pushed for a digest.
func (s *DB) Verdict(ctx context.Context, digest string) (*Verdict, error) {
	var v Verdict
	var at int64
	err := s.queryRow(ctx, `SELECT digest, result, policy, fingerprint, ref, signed_at FROM verdicts WHERE digest = ?`, digest).
		Scan(&v.Digest, &v.Result, &v.Policy, &v.Fingerprint, &v.Ref, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("verdict %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read verdict %s: %w", digest, err)
	}
	v.SignedAt = fromNanos(at)
	return &v, nil
}

// SetWorkload records which digest a workload container runs; it says
// whether that changed and what ran before ("" when new).
func (s *DB) SetWorkload(ctx context.Context, w Workload) (changed bool, previous string, err error) {
	err = s.inTx(ctx, func(t tx) error {
		changed, previous = false, ""
		rows, err := t.query(ctx, `SELECT digest FROM workloads WHERE cluster = ? AND namespace = ? AND kind = ? AND name = ? AND container = ?`,
			w.Cluster, w.Namespace, w.Kind, w.Name, w.Container)
		if err != nil {
			return err
		}
		found := false
		for rows.Next() {
			found = true
			if err := rows.Scan(&previous); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if found && previous == w.Digest {
			return nil
		}
		changed = true
		if _, err := t.exec(ctx, `INSERT INTO workloads (cluster, namespace, kind, name, container, image, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (cluster, namespace, kind, name, container) DO UPDATE SET image = excluded.image, digest = excluded.digest, updated_at = excluded.updated_at`,
			w.Cluster, w.Namespace, w.Kind, w.Name, w.Container, w.Image, w.Digest, nanos(s.now())); err != nil {
			return err
		}
		detail := "runs " + w.Image
		if previous != "" {
			detail += " (was " + previous + ")"
			if err := s.addEvent(ctx, t, Event{Kind: EventStopped, Digest: previous, Workload: w.Key(), Detail: "moved to " + w.Digest}); err != nil {
				return err
			}
		}
		return s.addEvent(ctx, t, Event{Kind: EventRunning, Digest: w.Digest, Workload: w.Key(), Detail: detail})
	})
	if err != nil {
		return false, "", fmt.Errorf("store workload %s: %w", w.Key(), err)
	}
	return changed, previous, nil
}

// DeleteWorkload forgets a workload container that no longer runs (its
// digest is read from the store).
func (s *DB) DeleteWorkload(ctx context.Context, w Workload) error {
	err := s.inTx(ctx, func(t tx) error {
		rows, err := t.query(ctx, `DELETE FROM workloads WHERE cluster = ? AND namespace = ? AND kind = ? AND name = ? AND container = ? RETURNING digest`,
			w.Cluster, w.Namespace, w.Kind, w.Name, w.Container)
		if err != nil {
			return err
		}
		var digests []string
		for rows.Next() {
			var d string
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return err
			}
			digests = append(digests, d)
		}
		rows.Close()
		for _, d := range digests {
			if err := s.addEvent(ctx, t, Event{Kind: EventStopped, Digest: d, Workload: w.Key(), Detail: "workload gone"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete workload %s: %w", w.Key(), err)
	}
	return nil
}

// Workloads lists running workload containers, optionally only those
// running one digest.
func (s *DB) Workloads(ctx context.Context, digest string) ([]Workload, error) {
	q := `SELECT cluster, namespace, kind, name, container, image, digest, updated_at FROM workloads`
	var args []any
	if digest != "" {
		// A runtime may report the index digest of a multi-arch image.
		q += ` WHERE digest = ? OR digest = (SELECT index_digest FROM images WHERE digest = ? AND index_digest <> '')`
		args = append(args, digest, digest)
	}
	q += ` ORDER BY cluster, namespace, kind, name, container`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list workloads: %w", err)
	}
	defer rows.Close()
	var out []Workload
	for rows.Next() {
		var w Workload
		var at int64
		if err := rows.Scan(&w.Cluster, &w.Namespace, &w.Kind, &w.Name, &w.Container, &w.Image, &w.Digest, &at); err != nil {
			return nil, fmt.Errorf("list workloads: %w", err)
		}
		w.UpdatedAt = fromNanos(at)
		out = append(out, w)
	}
	return out, rows.Err()
}

// SeverityCounts counts scanned images by their worst finding (for
// /metrics), and how many distinct running digests have one at or above
// HIGH.
func (s *DB) SeverityCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.query(ctx, `SELECT max_rank, COUNT(*) FROM images WHERE scanned_at <> 0 GROUP BY max_rank`)
	if err != nil {
		return nil, fmt.Errorf("count images: %w", err)
	}
	defer rows.Close()
	names := map[int]string{-1: "none", 0: "unknown", 1: "none", 2: "low", 3: "medium", 4: "high", 5: "critical"}
	out := map[string]int{}
	for rows.Next() {
		var r, n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		out[names[r]] += n
	}
	return out, rows.Err()
}

// VulnerableRunning counts running workload containers whose image has a
// finding at or above minSeverity.
func (s *DB) VulnerableRunning(ctx context.Context, minSeverity string) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT COUNT(*) FROM workloads w JOIN images i ON i.digest = w.digest WHERE i.max_rank >= ?`, SeverityRank(minSeverity)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count running: %w", err)
	}
	return n, nil
}

// Meta reads a server setting kept in the store ("" when unset), such as
// the fingerprint of the vulnerability database last matched.
func (s *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}

// SetMeta writes a server setting.
func (s *DB) SetMeta(ctx context.Context, key, value string) error {
	if _, err := s.exec(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
