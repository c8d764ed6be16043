package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// chunk splits keys into IN lists PostgreSQL and SQLite both accept.
func chunk(keys []string, f func(part []string, placeholders string, args []any) error) error {
	const size = 500
	for len(keys) > 0 {
		n := min(size, len(keys))
		part := keys[:n]
		keys = keys[n:]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		if err := f(part, "?"+strings.Repeat(", ?", len(part)-1), args); err != nil {
			return err
		}
	}
	return nil
}

// ImagesByDigest reads many images at once (with tags), keyed by digest;
// unknown digests are left out.
func (s *DB) ImagesByDigest(ctx context.Context, digests []string) (map[string]*Image, error) {
	out := map[string]*Image{}
	err := chunk(digests, func(_ []string, ph string, args []any) error {
		rows, err := s.queryDirect(ctx, `SELECT `+imageCols+` FROM images i WHERE i.digest IN (`+ph+`)`, args...)
		if err != nil {
			return err
		}
		var got []*Image
		for rows.Next() {
			im, err := scanImage(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out[im.Digest] = &im
			got = append(got, &im)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return s.fillTags(ctx, got, true)
	})
	if err != nil {
		return nil, fmt.Errorf("read images: %w", err)
	}
	return out, nil
}

// ImagesInRepositories lists the images of the repositories (no tags): a
// digest in several of them once per repository, Repository naming it.
func (s *DB) ImagesInRepositories(ctx context.Context, repos []string) ([]Image, error) {
	var out []Image
	err := chunk(repos, func(_ []string, ph string, args []any) error {
		rows, err := s.queryDirect(ctx, `SELECT `+refImageCols+` FROM `+refImages+` WHERE r.repository IN (`+ph+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			im, err := scanImage(rows)
			if err != nil {
				return err
			}
			out = append(out, im)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// WorkloadsRunning lists the workload containers running any of the
// digests (or the index they came through).
func (s *DB) WorkloadsRunning(ctx context.Context, digests []string) ([]Workload, error) {
	var out []Workload
	err := chunk(digests, func(_ []string, ph string, args []any) error {
		rows, err := s.queryDirect(ctx, `SELECT cluster, namespace, kind, name, container, image, digest, updated_at FROM workloads
			WHERE digest IN (`+ph+`) OR digest IN (SELECT index_digest FROM images WHERE index_digest <> '' AND digest IN (`+ph+`))
			ORDER BY cluster, namespace, kind, name, container`, append(args, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w Workload
			var at int64
			if err := rows.Scan(&w.Cluster, &w.Namespace, &w.Kind, &w.Name, &w.Container, &w.Image, &w.Digest, &at); err != nil {
				return err
			}
			w.UpdatedAt = fromNanos(at)
			out = append(out, w)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list workloads: %w", err)
	}
	return out, nil
}

// LastEvent returns, per digest, the time of the newest event of a kind.
func (s *DB) LastEvent(ctx context.Context, kind string, digests []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := chunk(digests, func(_ []string, ph string, args []any) error {
		rows, err := s.queryDirect(ctx, `SELECT digest, MAX(at) FROM events WHERE kind = ? AND digest IN (`+ph+`) GROUP BY digest`, append([]any{kind}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d string
			var at int64
			if err := rows.Scan(&d, &at); err != nil {
				return err
			}
			out[d] = fromNanos(at)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
