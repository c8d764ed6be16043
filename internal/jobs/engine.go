package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/store"
)

// Schedule sets how often the leader enqueues the periodic jobs; zero
// turns one off.
type Schedule struct {
	Crawl     time.Duration
	DBUpdate  time.Duration
	Reconcile time.Duration
	// Trend samples the open fixable critical and high findings in running
	// images for the overview's chart.
	Trend time.Duration
	// Workers is how many jobs this replica runs at once.
	Workers int
	// ID names this replica in River (default: River's own).
	ID string
	// JobTimeout bounds one job (default 10m); a job of a replica that
	// died is rescued by another after RescueAfter (default JobTimeout+1m).
	JobTimeout  time.Duration
	RescueAfter time.Duration
}

// Engine is a started or startable River client with drydock's workers.
type Engine struct {
	deps   *Deps
	insert func(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	count  func(ctx context.Context) (int, error)
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()
}

// OpenSQLite makes the embedded engine: River's SQLite driver on its own
// file in the data directory (River wants a single connection there).
func OpenSQLite(ctx context.Context, path string, d *Deps, s Schedule) (*Engine, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(20000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("job queue %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	e, err := newEngine(ctx, riversqlite.New(db), d, s)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("job queue %s: %w", path, err)
	}
	e.close = func() { db.Close() }
	return e, nil
}

// OpenPostgres makes the engine on PostgreSQL, shared by every replica.
func OpenPostgres(ctx context.Context, dbURL string, d *Deps, s Schedule) (*Engine, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, errors.New("job queue: --database is not a PostgreSQL URL")
	}
	e, err := newEngine(ctx, riverpgxv5.New(pool), d, s)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("job queue: %w", err)
	}
	e.close = pool.Close
	return e, nil
}

func newEngine[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], d *Deps, s Schedule) (*Engine, error) {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	e := &Engine{deps: d}
	e.wireBackoff()
	workers := river.NewWorkers()
	river.AddWorker(workers, &crawlAllWorker{e: e})
	river.AddWorker(workers, &crawlWorker{e: e})
	river.AddWorker(workers, &resolveWorker{e: e})
	river.AddWorker(workers, &scanWorker{e: e})
	river.AddWorker(workers, &rematchWorker{e: e})
	river.AddWorker(workers, &rematchBatchWorker{e: e})
	river.AddWorker(workers, &dbUpdateWorker{e: e})
	river.AddWorker(workers, &signWorker{e: e})
	river.AddWorker(workers, &reconcileWorker{e: e})
	river.AddWorker(workers, &reconcileImageWorker{e: e})
	river.AddWorker(workers, &trendWorker{e: e})

	var periodic []*river.PeriodicJob
	add := func(every time.Duration, args river.JobArgs) {
		if every > 0 {
			periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
				func() (river.JobArgs, *river.InsertOpts) { return args, nil },
				&river.PeriodicJobOpts{RunOnStart: true}))
		}
	}
	add(s.Crawl, CrawlAllArgs{})
	add(s.DBUpdate, DBUpdateArgs{})
	if d.Reconcile != nil {
		add(s.Reconcile, ReconcileArgs{})
	}
	add(s.Trend, TrendArgs{})
	n := s.Workers
	if n <= 0 {
		n = 4
	}
	timeout, rescue := s.JobTimeout, s.RescueAfter
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if rescue <= 0 {
		rescue = timeout + time.Minute
	}
	client, err := river.NewClient(driver, &river.Config{
		ID:           s.ID,
		Logger:       d.log(),
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}},
		Workers:      workers,
		PeriodicJobs: periodic,
		JobTimeout:   timeout,
		MaxAttempts:  5,
		// A killed replica's running jobs are rescued by another after this.
		RescueStuckJobsAfter: rescue,
		FetchPollInterval:    200 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	e.insert = client.Insert
	e.start = client.Start
	e.stop = client.Stop
	e.count = func(ctx context.Context) (int, error) {
		res, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled).First(10000))
		if err != nil {
			return 0, err
		}
		return len(res.Jobs), nil
	}
	return e, nil
}

// wireBackoff puts the per-registry backoff in front of every registry
// request of the crawl and the scans, and records each backoff as an event.
func (e *Engine) wireBackoff() {
	d := e.deps
	if d.Backoff == nil {
		d.Backoff = &Backoff{}
	}
	d.Backoff.OnBackoff = func(host string, wait time.Duration, reason string) {
		d.log().Warn("registry backing off", "registry", host, "wait", wait.Round(time.Millisecond).String(), "reason", reason)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Store.AddEvent(ctx, store.Event{Kind: store.EventBackoff,
			Detail: fmt.Sprintf("%s %s: its jobs wait %s", host, reason, wait.Round(time.Second))})
		if d.OnBackoff != nil {
			d.OnBackoff(host, wait, reason)
		}
	}
	t := d.Backoff.Transport(remote.DefaultTransport)
	d.ImageOptions = append(append([]image.Option{}, d.ImageOptions...), image.WithTransport(t))
	d.Inventory.Image = append(append([]image.Option{}, d.Inventory.Image...), image.WithTransport(t))
}

// Start runs the workers (and, on the leader, the periodic jobs).
func (e *Engine) Start(ctx context.Context) error { return e.start(ctx) }

// Stop waits for running jobs to finish, then closes the queue.
func (e *Engine) Stop(ctx context.Context) error {
	err := e.stop(ctx)
	if e.close != nil {
		e.close()
	}
	return err
}

// Depth counts jobs waiting or running (for /metrics; capped at 10000).
func (e *Engine) Depth(ctx context.Context) (int, error) { return e.count(ctx) }

// Enqueue inserts a job; false means an identical one is already queued or
// done (unique jobs).
func (e *Engine) Enqueue(ctx context.Context, args river.JobArgs) (bool, error) {
	res, err := e.insert(ctx, args, nil)
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}
