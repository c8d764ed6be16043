// Package server is drydock server: it wires the store, the job engine,
// the registry crawl, the push-event intake, the cluster informer and the
// freshness loop, and serves the REST API, /metrics, /healthz and /readyz.
// It orchestrates; scanning, matching, signing and rollouts stay in their
// packages.
package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/jobs"
)

// Config is the "server:" section of drydock.yaml.
type Config struct {
	// Listen is the API address (default 127.0.0.1:8088).
	Listen string `json:"listen,omitempty"`
	// TokenEnv names the variable holding the API bearer token. Without a
	// token, reads are served on a loopback address only and writes are
	// refused.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// Registries are crawled for images.
	Registries []jobs.Target `json:"registries,omitempty"`
	// CrawlInterval between crawls (default 15m; "0s" crawls on push
	// events and POST /api/v1/scan only).
	CrawlInterval *freshness.Duration `json:"crawlInterval,omitempty"`
	// DBUpdateInterval between database updates (default 6h; "0s" off).
	// Without DBMirror the database is only checked for changes made by
	// `drydock db` and re-matched when it changed.
	DBUpdateInterval *freshness.Duration `json:"dbUpdateInterval,omitempty"`
	// DBMirror is the base URL of an OSV export mirror (<base>/<Ecosystem>/all.zip).
	DBMirror string `json:"dbMirror,omitempty"`
	// DBFrom ("oci://REGISTRY/REPOSITORY:TAG") keeps the database the one
	// "drydock db push" signed there, pulled every DBPullInterval (default
	// 1h) and verified with DBKeys (public key files); each replica pulls
	// its own copy. Not with DBMirror.
	DBFrom         string              `json:"dbFrom,omitempty"`
	DBKeys         []string            `json:"dbKeys,omitempty"`
	DBPullInterval *freshness.Duration `json:"dbPullInterval,omitempty"`
	Ecosystems     []string            `json:"ecosystems,omitempty"`
	// RematchBatch is how many inventories one re-match job matches (default 250).
	RematchBatch int `json:"rematchBatch,omitempty"`
	// Workers is how many jobs this replica runs at once (default 4).
	Workers int `json:"workers,omitempty"`
	// JobTimeout bounds one job (default 10m); a job of a replica that died
	// is taken over by another after it (plus a margin).
	JobTimeout *freshness.Duration `json:"jobTimeout,omitempty"`
	// Clusters are watched for running images.
	Clusters []ClusterConfig `json:"clusters,omitempty"`
}

// ClusterConfig names a cluster to watch.
type ClusterConfig struct {
	// Name identifies the cluster in the API.
	Name string `json:"name"`
	// Kubeconfig and Context reach it ("" for both: in-cluster or the
	// default kubeconfig).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	// PullCredentials reads the images a Pod runs with its
	// imagePullSecrets (or its ServiceAccount's), then drydock's own
	// credentials, as the kubelet pulled them. Needs get, list and watch
	// on secrets and serviceaccounts in that cluster.
	PullCredentials bool `json:"pullCredentials,omitempty"`
}

// Defaults.
const (
	DefaultListen           = "127.0.0.1:8088"
	DefaultCrawlInterval    = 15 * time.Minute
	DefaultDBUpdateInterval = 6 * time.Hour
	DefaultRematchBatch     = 250
	DefaultDBPullInterval   = time.Hour
)

// ParseConfig reads the server section strictly (unknown fields are
// errors naming the field) and fills defaults.
func ParseConfig(fc *freshness.Config) (*Config, error) {
	c := &Config{}
	if len(fc.Server) > 0 {
		dec := json.NewDecoder(bytes.NewReader(fc.Server))
		dec.DisallowUnknownFields()
		if err := dec.Decode(c); err != nil {
			return nil, fmt.Errorf("%w: server: %v", freshness.ErrConfig, err)
		}
	}
	var errs []string
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.CrawlInterval == nil {
		c.CrawlInterval = &freshness.Duration{Duration: DefaultCrawlInterval}
	}
	if c.DBUpdateInterval == nil {
		c.DBUpdateInterval = &freshness.Duration{Duration: DefaultDBUpdateInterval}
	}
	for _, d := range []struct {
		f string
		v time.Duration
	}{{"server.crawlInterval", c.CrawlInterval.Duration}, {"server.dbUpdateInterval", c.DBUpdateInterval.Duration}} {
		if d.v < 0 || (d.v > 0 && d.v < time.Second) {
			errs = append(errs, fmt.Sprintf("%s: %s: want 0s (off) or at least 1s", d.f, d.v))
		}
	}
	if c.DBPullInterval == nil {
		c.DBPullInterval = &freshness.Duration{Duration: DefaultDBPullInterval}
	} else if c.DBPullInterval.Duration < time.Minute {
		errs = append(errs, fmt.Sprintf("server.dbPullInterval: %s: want at least 1m", c.DBPullInterval.Duration))
	}
	switch {
	case c.DBFrom != "" && c.DBMirror != "":
		errs = append(errs, "server.dbFrom and server.dbMirror: choose one source of the vulnerability database")
	case c.DBFrom != "" && !strings.HasPrefix(c.DBFrom, "oci://"):
		errs = append(errs, fmt.Sprintf("server.dbFrom: %q: want oci://REGISTRY/REPOSITORY:TAG", c.DBFrom))
	case c.DBFrom != "" && len(c.DBKeys) == 0:
		errs = append(errs, "server.dbKeys: name the public key files the database is signed with (dbFrom needs them)")
	case c.DBFrom == "" && len(c.DBKeys) > 0:
		errs = append(errs, "server.dbKeys: only used with server.dbFrom")
	}
	if c.JobTimeout == nil {
		c.JobTimeout = &freshness.Duration{Duration: 10 * time.Minute}
	} else if c.JobTimeout.Duration < time.Second {
		errs = append(errs, fmt.Sprintf("server.jobTimeout: %s: want at least 1s", c.JobTimeout.Duration))
	}
	if c.RematchBatch == 0 {
		c.RematchBatch = DefaultRematchBatch
	} else if c.RematchBatch < 1 || c.RematchBatch > 10000 {
		errs = append(errs, fmt.Sprintf("server.rematchBatch: %d is outside 1..10000", c.RematchBatch))
	}
	if c.Workers < 0 || c.Workers > 256 {
		errs = append(errs, fmt.Sprintf("server.workers: %d is outside 1..256", c.Workers))
	}
	for i, r := range c.Registries {
		f := fmt.Sprintf("server.registries[%d]", i)
		if r.Registry == "" || strings.ContainsAny(r.Registry, "/ ") {
			errs = append(errs, f+".registry: want a host[:port]")
		}
		if !r.Catalog && len(r.Repositories) == 0 {
			errs = append(errs, f+".repositories: name the repositories, or set catalog: true to list them")
		}
		for _, g := range append(append([]string{}, r.Repositories...), r.Tags...) {
			if _, err := path.Match(g, ""); err != nil {
				errs = append(errs, fmt.Sprintf("%s: bad glob %q", f, g))
			}
			if !r.Catalog && strings.ContainsAny(g, "*?[") && contains(r.Repositories, g) {
				errs = append(errs, fmt.Sprintf("%s.repositories: glob %q needs catalog: true", f, g))
			}
		}
	}
	names := map[string]bool{}
	for i, cl := range c.Clusters {
		if cl.Name == "" || names[cl.Name] {
			errs = append(errs, fmt.Sprintf("server.clusters[%d].name: want a unique name", i))
		}
		names[cl.Name] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", freshness.ErrConfig, strings.Join(errs, "; "))
	}
	// Registries listed under registries.insecure are reached over HTTP.
	for i := range c.Registries {
		for _, h := range fc.Registries.Insecure {
			if h == c.Registries[i].Registry {
				c.Registries[i].Insecure = true
			}
		}
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
