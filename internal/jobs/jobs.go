// Package jobs runs drydock server's work as River jobs: crawl a registry,
// scan a digest, re-match stored inventories after a database change (one
// job split into batches), update the database, sign verdicts, and run the
// freshness reconcile. The queue is River's, on SQLite embedded or on
// PostgreSQL shared by replicas; periodic jobs run on River's elected
// leader. Workers call scanner, match, attest and the freshness loop; none
// of those call back.
package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/registryauth"
	"github.com/drydock/drydock/internal/store"
)

// Store is what the workers need of internal/store.
type Store interface {
	PutImage(ctx context.Context, im store.Image) (bool, error)
	SetTag(ctx context.Context, repository, tag, digest string) error
	Scanned(ctx context.Context, digest string) (bool, error)
	ScanFailed(ctx context.Context, digest, reason string) error
	PutInventory(ctx context.Context, digest string, inventoryJSON []byte) error
	Inventory(ctx context.Context, digest string) ([]byte, error)
	InventoryDigests(ctx context.Context, after string, limit int) ([]string, error)
	SaveFindings(ctx context.Context, digest string, findings []store.Finding, cause string) (store.Diff, error)
	SaveFindingsMany(ctx context.Context, ups []store.FindingsUpdate, cause string) ([]store.Diff, error)
	Verdict(ctx context.Context, digest string) (*store.Verdict, error)
	PutVerdict(ctx context.Context, v store.Verdict) error
	AddEvent(ctx context.Context, e store.Event) error
	Meta(ctx context.Context, key string) (string, error)
	SetMeta(ctx context.Context, key, value string) error
	SampleTrend(ctx context.Context, keep int) (store.TrendPoint, error)
}

var _ Store = (*store.DB)(nil)

// Target is one registry the crawl covers.
type Target struct {
	// Registry is the host ("registry.example:5000").
	Registry string `json:"registry"`
	// Catalog lists repositories with /v2/_catalog (where the registry
	// allows it); Repositories are then globs over its answer. Without
	// it, Repositories are literal names.
	Catalog      bool     `json:"catalog,omitempty"`
	Repositories []string `json:"repositories,omitempty"`
	// Tags are globs over each repository's tags (default every tag).
	Tags     []string `json:"tags,omitempty"`
	Insecure bool     `json:"insecure,omitempty"`
}

// PullFrom names the workload whose pull credentials read an image: the
// server's cluster watch sets it for the images Pods run, so a private
// image is read the way the kubelet pulled it.
type PullFrom struct {
	Cluster        string   `json:"cluster"`
	Namespace      string   `json:"namespace"`
	ServiceAccount string   `json:"serviceAccount,omitempty"`
	PullSecrets    []string `json:"pullSecrets,omitempty"`
}

// Deps are what the workers work with.
type Deps struct {
	Store Store
	// DBPath is the vulnerability database file.
	DBPath string
	// Inventory reads images (cache directory, scratch directory, image
	// options); TempDir is the parent of each scan's own scratch directory.
	Inventory loop.InventoryOptions
	// ImageOptions reach registries for the crawl (auth, user agent).
	ImageOptions []image.Option
	Targets      []Target
	// Signer and Evaluator sign a verdict for each scanned digest when set.
	Signer    *attest.Signer
	Evaluator attest.Evaluator
	Tool      attest.Scanner
	// UpdateDB refreshes the vulnerability database (nil: the database is
	// only watched for changes made by `drydock db`).
	UpdateDB func(ctx context.Context) error
	// Reconcile runs the freshness loop (nil: off); ReconcileImage runs it
	// for one configured image only (POST /api/v1/rebuild).
	Reconcile      func(ctx context.Context) []freshness.Item
	ReconcileImage func(ctx context.Context, name string) freshness.Item
	// Role says whether a configured image is a base other tracked images
	// are built on (store.RoleBase) or an application (store.RoleApp);
	// rebuild and rollout events record it (nil: unrecorded).
	Role func(name string) string
	// Backoff leaves a registry that rate-limits or is down alone while
	// the others are crawled (nil: a default one). Its OnBackoff is set by
	// the engine (an event); OnBackoff here is told too (metrics).
	Backoff   *Backoff
	OnBackoff func(host string, wait time.Duration, reason string)
	// RematchBatch is how many inventories one re-match job matches.
	RematchBatch int
	// Credentials, when set, give the pull credentials of a workload a
	// job reads an image for (ResolveArgs.Pull, ScanArgs.Pull): its
	// imagePullSecrets or its ServiceAccount's, then the node-style
	// providers. Jobs carry only the workload's names, never credentials.
	Credentials func(ctx context.Context, p PullFrom) (registryauth.Credentials, error)
	// Observe receives durations for /metrics ("scan", "rematch").
	Observe func(kind string, d time.Duration)
	Log     *slog.Logger
}

func (d *Deps) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

func (d *Deps) observe(kind string, start time.Time) {
	if d.Observe != nil {
		d.Observe(kind, time.Since(start))
	}
}
