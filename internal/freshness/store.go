package freshness

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Rebuild states. A rebuild moves forward only:
//
//	planned → running → pushed → scanned → signed → done
//	any state but done → failed; failed → running (retry)
type State string

const (
	StatePlanned State = "planned"
	StateRunning State = "running"
	StatePushed  State = "pushed"
	StateScanned State = "scanned"
	StateSigned  State = "signed"
	StateDone    State = "done"
	StateFailed  State = "failed"
)

var transitions = map[State][]State{
	StatePlanned: {StateRunning, StateFailed},
	StateRunning: {StateRunning, StatePushed, StateDone, StateFailed},
	StatePushed:  {StateScanned, StateSigned, StateDone, StateFailed},
	StateScanned: {StateSigned, StateDone, StateFailed},
	StateSigned:  {StateDone, StateFailed},
	StateFailed:  {StateRunning, StateFailed},
	StateDone:    {},
}

// ErrTransition is returned for a state change the machine does not allow.
var ErrTransition = errors.New("invalid rebuild state transition")

// Finished reports whether no more work is due for a rebuild in state s.
func (s State) Finished() bool { return s == StateDone || s == StateFailed }

// RebuildRecord is one row of the rebuilds table.
type RebuildRecord struct {
	ID         string    `json:"id"`
	Image      string    `json:"image"`
	Target     string    `json:"target"`
	Current    string    `json:"current"`
	OldBase    string    `json:"oldBase,omitempty"`
	NewBase    string    `json:"newBase"`
	NewBaseTag string    `json:"newBaseTag"`
	Kind       string    `json:"kind"`
	State      State     `json:"state"`
	Attempts   int       `json:"attempts"`
	Result     string    `json:"result,omitempty"`
	Error      string    `json:"error,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
}

// Detection is a base tag seen at a digest.
type Detection struct {
	BaseTag string
	Digest  string
	Source  string // poll, event:<kind>, reconcile
	At      time.Time
}

// RebuildID is the stable identity of "rebuild image (now at current) on
// newBase": a retry after a crash computes the same ID, so executors can
// recognise work they already did.
func RebuildID(image, current, newBase string) string {
	h := sha256.Sum256([]byte(image + "\x00" + current + "\x00" + newBase))
	return "rb-" + hex.EncodeToString(h[:8])
}

// Store is the embedded SQLite store of detections, rebuilds and results.
type Store struct {
	db  *sql.DB
	now func() time.Time
}

const schema = `
CREATE TABLE IF NOT EXISTS detections (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	base_tag TEXT NOT NULL,
	digest TEXT NOT NULL,
	source TEXT NOT NULL,
	at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bases (
	base_tag TEXT PRIMARY KEY,
	digest TEXT NOT NULL,
	at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rebuilds (
	id TEXT PRIMARY KEY,
	image TEXT NOT NULL,
	target TEXT NOT NULL,
	current TEXT NOT NULL,
	old_base TEXT NOT NULL,
	new_base TEXT NOT NULL,
	new_base_tag TEXT NOT NULL,
	kind TEXT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	result TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	created TEXT NOT NULL,
	updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rebuilds_state ON rebuilds(state);
CREATE TABLE IF NOT EXISTS results (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	rebuild_id TEXT NOT NULL REFERENCES rebuilds(id),
	step TEXT NOT NULL,
	ok INTEGER NOT NULL,
	detail TEXT NOT NULL,
	at TEXT NOT NULL
);
`

// OpenStore opens (creating) the store at path; "" opens a private
// in-memory store.
func OpenStore(ctx context.Context, path string) (*Store, error) {
	dsn := "file::memory:"
	if path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		dsn = "file:" + (&url.URL{Path: abs}).EscapedPath()
	}
	dsn += "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; also keeps an in-memory store whole
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) ts() string { return s.now().UTC().Format(time.RFC3339Nano) }

func parseTS(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// RecordDetection appends a detection.
func (s *Store) RecordDetection(ctx context.Context, d Detection) error {
	at := d.At
	if at.IsZero() {
		at = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO detections(base_tag, digest, source, at) VALUES (?,?,?,?)`,
		d.BaseTag, d.Digest, d.Source, at.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("store: record detection: %w", err)
	}
	return nil
}

// Detections lists detections, oldest first.
func (s *Store) Detections(ctx context.Context) ([]Detection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT base_tag, digest, source, at FROM detections ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []Detection
	for rows.Next() {
		var d Detection
		var at string
		if err := rows.Scan(&d.BaseTag, &d.Digest, &d.Source, &at); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		d.At = parseTS(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// BaseDigest returns the last digest recorded for a base tag ("" if none).
func (s *Store) BaseDigest(ctx context.Context, tag string) (string, error) {
	var d string
	err := s.db.QueryRowContext(ctx, `SELECT digest FROM bases WHERE base_tag = ?`, tag).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return d, nil
}

// SetBaseDigest records the digest a base tag was last seen at; it reports
// whether that changed.
func (s *Store) SetBaseDigest(ctx context.Context, tag, digest string) (changed bool, err error) {
	old, err := s.BaseDigest(ctx, tag)
	if err != nil {
		return false, err
	}
	if old == digest {
		return false, nil
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO bases(base_tag, digest, at) VALUES (?,?,?)
		ON CONFLICT(base_tag) DO UPDATE SET digest = excluded.digest, at = excluded.at`, tag, digest, s.ts())
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return true, nil
}

const rebuildCols = `id, image, target, current, old_base, new_base, new_base_tag, kind, state, attempts, result, error, created, updated`

func scanRebuild(row interface{ Scan(...any) error }) (*RebuildRecord, error) {
	var r RebuildRecord
	var state, created, updated string
	if err := row.Scan(&r.ID, &r.Image, &r.Target, &r.Current, &r.OldBase, &r.NewBase, &r.NewBaseTag, &r.Kind,
		&state, &r.Attempts, &r.Result, &r.Error, &created, &updated); err != nil {
		return nil, err
	}
	r.State = State(state)
	r.Created, r.Updated = parseTS(created), parseTS(updated)
	return &r, nil
}

// Rebuild returns the rebuild with id, or nil.
func (s *Store) Rebuild(ctx context.Context, id string) (*RebuildRecord, error) {
	r, err := scanRebuild(s.db.QueryRowContext(ctx, `SELECT `+rebuildCols+` FROM rebuilds WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return r, nil
}

// Rebuilds lists rebuilds in creation order, optionally only those in the
// given states.
func (s *Store) Rebuilds(ctx context.Context, states ...State) ([]*RebuildRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rebuildCols+` FROM rebuilds ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []*RebuildRecord
	for rows.Next() {
		r, err := scanRebuild(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if len(states) > 0 {
			keep := false
			for _, st := range states {
				keep = keep || r.State == st
			}
			if !keep {
				continue
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Unfinished lists rebuilds a crash may have interrupted.
func (s *Store) Unfinished(ctx context.Context) ([]*RebuildRecord, error) {
	return s.Rebuilds(ctx, StatePlanned, StateRunning, StatePushed, StateScanned, StateSigned)
}

// LastDone returns the newest finished rebuild of image whose result is
// digest, or nil.
func (s *Store) LastDone(ctx context.Context, image, resultDigest string) (*RebuildRecord, error) {
	rs, err := s.Rebuilds(ctx, StatePushed, StateScanned, StateSigned, StateDone)
	if err != nil {
		return nil, err
	}
	var last *RebuildRecord
	for _, r := range rs {
		if r.Image == image && r.Result != "" && digestOf(r.Result) == resultDigest {
			last = r
		}
	}
	return last, nil
}

// Plan inserts a rebuild in state planned; an existing ID is left alone and
// returned.
func (s *Store) Plan(ctx context.Context, r RebuildRecord) (*RebuildRecord, error) {
	now := s.ts()
	_, err := s.db.ExecContext(ctx, `INSERT INTO rebuilds(`+rebuildCols+`) VALUES (?,?,?,?,?,?,?,?,?,0,'','',?,?)
		ON CONFLICT(id) DO NOTHING`,
		r.ID, r.Image, r.Target, r.Current, r.OldBase, r.NewBase, r.NewBaseTag, r.Kind, string(StatePlanned), now, now)
	if err != nil {
		return nil, fmt.Errorf("store: plan %s: %w", r.ID, err)
	}
	return s.Rebuild(ctx, r.ID)
}

// Transition moves a rebuild to state to, checking the state machine.
// Entering running counts an attempt; result and errText are stored when
// not empty.
func (s *Store) Transition(ctx context.Context, id string, to State, result, errText string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer tx.Rollback()
	var from string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM rebuilds WHERE id = ?`, id).Scan(&from); err != nil {
		return fmt.Errorf("store: transition %s: %w", id, err)
	}
	allowed := false
	for _, st := range transitions[State(from)] {
		allowed = allowed || st == to
	}
	if !allowed {
		return fmt.Errorf("%w: %s → %s (rebuild %s)", ErrTransition, from, to, id)
	}
	inc := 0
	if to == StateRunning {
		inc = 1
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rebuilds SET state = ?, attempts = attempts + ?,
		result = CASE WHEN ? <> '' THEN ? ELSE result END,
		error = CASE WHEN ? = 'failed' THEN ? WHEN ? = 'running' THEN '' ELSE error END,
		updated = ? WHERE id = ?`,
		string(to), inc, result, result, string(to), errText, string(to), s.ts(), id); err != nil {
		return fmt.Errorf("store: transition %s: %w", id, err)
	}
	return tx.Commit()
}

// RecordResult appends the outcome of one step (rebuild, scan, attest).
func (s *Store) RecordResult(ctx context.Context, id, step string, ok bool, detail string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO results(rebuild_id, step, ok, detail, at) VALUES (?,?,?,?,?)`,
		id, step, ok, detail, s.ts())
	if err != nil {
		return fmt.Errorf("store: record result: %w", err)
	}
	return nil
}

// StepResult is one row of the results table.
type StepResult struct {
	RebuildID string    `json:"rebuildId"`
	Step      string    `json:"step"`
	OK        bool      `json:"ok"`
	Detail    string    `json:"detail"`
	At        time.Time `json:"at"`
}

// Results lists the step results of a rebuild ("" for all).
func (s *Store) Results(ctx context.Context, id string) ([]StepResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rebuild_id, step, ok, detail, at FROM results WHERE ? = '' OR rebuild_id = ? ORDER BY id`, id, id)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer rows.Close()
	var out []StepResult
	for rows.Next() {
		var r StepResult
		var at string
		if err := rows.Scan(&r.RebuildID, &r.Step, &r.OK, &r.Detail, &at); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		r.At = parseTS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// digestOf returns the digest part of "repo@sha256:..." (or the input).
func digestOf(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[i+1:]
		}
	}
	return ref
}
