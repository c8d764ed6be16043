package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Summary is the estate at a glance (GET /api/v1/summary).
type Summary struct {
	Images     int `json:"images"`
	Scanned    int `json:"scanned"`
	ScanFailed int `json:"scanFailed"`
	// RunningWorkloads counts workload containers; RunningImages the
	// distinct images they run.
	RunningWorkloads int `json:"runningWorkloads"`
	RunningImages    int `json:"runningImages"`
	// Findings by severity, split by whether a fixed version exists.
	Findings map[string]FixSplit `json:"findings"`
	// StaleBases counts images whose base tag now points at another digest.
	StaleBases      int `json:"staleBases"`
	VerdictsMissing int `json:"verdictsMissing"`
	VerdictsFailing int `json:"verdictsFailing"`
	// OpenFixableRunning counts fixable critical and high findings in
	// images a workload runs.
	OpenFixableRunning int `json:"openFixableRunning"`
	// SlowestOpen are the vulnerabilities fixable for longest that still
	// run somewhere.
	SlowestOpen []OpenLatency `json:"slowestOpen"`
}

// FixSplit counts findings with and without a fixed version.
type FixSplit struct {
	Fixable    int `json:"fixable"`
	NotFixable int `json:"notFixable"`
}

// OpenLatency is a fixable vulnerability still running.
type OpenLatency struct {
	ID string `json:"id"`
	// FixKnownSince is the earliest scan of a running image that reported
	// the fixed version.
	FixKnownSince time.Time `json:"fixKnownSince"`
	Images        int       `json:"images"`
}

const runningImage = `EXISTS (SELECT 1 FROM workloads w WHERE w.digest = i.digest OR (i.index_digest <> '' AND w.digest = i.index_digest))`

// Summarize computes the Summary.
func (s *DB) Summarize(ctx context.Context) (*Summary, error) {
	sum := &Summary{Findings: map[string]FixSplit{}, SlowestOpen: []OpenLatency{}}
	counts := []struct {
		dst *int
		q   string
	}{
		{&sum.Images, `SELECT COUNT(*) FROM images`},
		{&sum.Scanned, `SELECT COUNT(*) FROM images WHERE scanned_at <> 0`},
		{&sum.ScanFailed, `SELECT COUNT(*) FROM images WHERE scan_error <> ''`},
		{&sum.RunningWorkloads, `SELECT COUNT(*) FROM workloads`},
		{&sum.RunningImages, `SELECT COUNT(*) FROM images i WHERE ` + runningImage},
		{&sum.StaleBases, `SELECT COUNT(*) FROM images i WHERE i.base_name <> '' AND i.base_digest <> '' AND EXISTS (
			SELECT 1 FROM tags t WHERE t.repository || ':' || t.tag = i.base_name AND t.digest <> i.base_digest)`},
		{&sum.VerdictsMissing, `SELECT COUNT(*) FROM images i WHERE i.scanned_at <> 0 AND NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.digest = i.digest)`},
		{&sum.VerdictsFailing, `SELECT COUNT(*) FROM verdicts WHERE result <> 'pass'`},
		{&sum.OpenFixableRunning, openFixableRunning},
	}
	for _, c := range counts {
		if err := s.queryRow(ctx, c.q).Scan(c.dst); err != nil {
			return nil, fmt.Errorf("summarize: %w", err)
		}
	}
	rows, err := s.query(ctx, `SELECT severity, fixed <> '', COUNT(*) FROM findings GROUP BY severity, fixed <> ''`)
	if err != nil {
		return nil, fmt.Errorf("summarize findings: %w", err)
	}
	for rows.Next() {
		var sev string
		var fixable bool
		var n int
		if err := rows.Scan(&sev, &fixable, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("summarize findings: %w", err)
		}
		sev = strings.ToLower(sev)
		if sev == "" {
			sev = "unknown"
		}
		fs := sum.Findings[sev]
		if fixable {
			fs.Fixable += n
		} else {
			fs.NotFixable += n
		}
		sum.Findings[sev] = fs
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summarize findings: %w", err)
	}
	rows, err = s.query(ctx, `SELECT f.vuln_id, MIN(i.scanned_at), COUNT(DISTINCT i.digest) FROM findings f JOIN images i ON i.digest = f.digest
		WHERE f.fixed <> '' AND i.scanned_at <> 0 AND `+runningImage+` GROUP BY f.vuln_id ORDER BY MIN(i.scanned_at), f.vuln_id LIMIT 10`)
	if err != nil {
		return nil, fmt.Errorf("summarize latencies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var o OpenLatency
		var since int64
		if err := rows.Scan(&o.ID, &since, &o.Images); err != nil {
			return nil, fmt.Errorf("summarize latencies: %w", err)
		}
		o.FixKnownSince = fromNanos(since)
		sum.SlowestOpen = append(sum.SlowestOpen, o)
	}
	return sum, rows.Err()
}

// VulnMatch is one vulnerability id found by a search, with the id or
// alias that matched.
type VulnMatch struct {
	ID      string `json:"id"`
	Matched string `json:"matched"`
	Images  int    `json:"images"`
}

// SearchVulnerabilities finds stored vulnerabilities whose id or an alias
// (CVE, GHSA, DSA…) contains q, case-insensitively.
func (s *DB) SearchVulnerabilities(ctx context.Context, q string, limit int) ([]VulnMatch, error) {
	like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToUpper(q)) + "%"
	rows, err := s.query(ctx, `SELECT vuln_id, MIN(id), COUNT(DISTINCT digest) FROM finding_ids WHERE UPPER(id) LIKE ? ESCAPE '\'
		GROUP BY vuln_id ORDER BY vuln_id LIMIT ?`, like, limit)
	if err != nil {
		return nil, fmt.Errorf("search vulnerabilities: %w", err)
	}
	defer rows.Close()
	out := []VulnMatch{}
	for rows.Next() {
		var m VulnMatch
		if err := rows.Scan(&m.ID, &m.Matched, &m.Images); err != nil {
			return nil, fmt.Errorf("search vulnerabilities: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// TrendPoint is one sample of the open fixable critical and high findings
// in running images.
type TrendPoint struct {
	At    time.Time `json:"at"`
	Value int       `json:"value"`
}

// openFixableRunning counts what Summary.OpenFixableRunning counts.
const openFixableRunning = `SELECT COUNT(*) FROM findings f JOIN images i ON i.digest = f.digest
	WHERE f.fixed <> '' AND f.severity IN ('CRITICAL', 'HIGH', 'critical', 'high') AND ` + runningImage

// SampleTrend records the current count of open fixable critical and high
// findings in running images and keeps the newest keep samples.
func (s *DB) SampleTrend(ctx context.Context, keep int) (TrendPoint, error) {
	p := TrendPoint{At: s.now().UTC()}
	err := s.inTx(ctx, func(t tx) error {
		rows, err := t.query(ctx, openFixableRunning)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := rows.Scan(&p.Value); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO trend (at, open_fixable_running) VALUES (?, ?)
			ON CONFLICT (at) DO UPDATE SET open_fixable_running = excluded.open_fixable_running`, nanos(p.At), p.Value); err != nil {
			return err
		}
		if keep > 0 {
			_, err = t.exec(ctx, `DELETE FROM trend WHERE at < COALESCE((SELECT at FROM trend ORDER BY at DESC LIMIT 1 OFFSET ?), 0)`, keep-1)
		}
		return err
	})
	if err != nil {
		return TrendPoint{}, fmt.Errorf("sample trend: %w", err)
	}
	return p, nil
}

// Trend returns the newest limit samples, oldest first.
func (s *DB) Trend(ctx context.Context, limit int) ([]TrendPoint, error) {
	rows, err := s.query(ctx, `SELECT at, open_fixable_running FROM trend ORDER BY at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read trend: %w", err)
	}
	defer rows.Close()
	out := []TrendPoint{}
	for rows.Next() {
		var at int64
		var p TrendPoint
		if err := rows.Scan(&at, &p.Value); err != nil {
			return nil, fmt.Errorf("read trend: %w", err)
		}
		p.At = fromNanos(at)
		out = append(out, p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}
