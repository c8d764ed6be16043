package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/dbdist"
)

// dbFromFlags point a long-running process at a signed database in a
// registry (--db-from oci://REF --db-key pub.pem).
type dbFromFlags struct {
	from     string
	keys     []string
	interval time.Duration
}

func (f *dbFromFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.from, "db-from", "", "oci://REF: keep the vulnerability database the one \"drydock db push\" signed there, pulled at start and every --db-pull-interval (needs --db-key)")
	fl.StringArrayVar(&f.keys, "db-key", nil, "with --db-from: trusted public key of the database signer (PEM; repeatable)")
	fl.DurationVar(&f.interval, "db-pull-interval", time.Hour, "with --db-from: how often the reference is pulled again (a failed pull is retried sooner)")
}

// syncer checks the flags and returns a Syncer for dbPath, or nil without
// --db-from.
func (f *dbFromFlags) syncer(ctx context.Context, dbPath string, insecure bool) (*dbdist.Syncer, error) {
	if f.from == "" {
		if len(f.keys) > 0 {
			return nil, errors.New("--db-key needs --db-from")
		}
		return nil, nil
	}
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := dbdist.ParseFrom(f.from, nopts...)
	if err != nil {
		return nil, fmt.Errorf("--db-from %w", err)
	}
	keys, err := dbdist.LoadKeys(f.keys)
	if err != nil {
		return nil, fmt.Errorf("--db-key: %w", err)
	}
	if f.interval < time.Minute {
		return nil, fmt.Errorf("--db-pull-interval %s: want at least 1m", f.interval)
	}
	return &dbdist.Syncer{DBPath: dbPath, Ref: ref, Keys: keys, Options: dbRemote(ctx, insecure)}, nil
}

// logPull logs the outcome of one pull of a database reference: each
// change at the default level, a failure as an error (the installed
// database stays).
func logPull(ref string, res *dbdist.PullResult, err error) {
	switch {
	case err != nil:
		slog.Error("vulnerability database pull failed; keeping the installed database", "ref", ref, "err", err)
	case res.Unchanged:
		slog.Debug("vulnerability database unchanged", "ref", ref, "manifest", res.Manifest.DigestStr())
	default:
		slog.Info("vulnerability database installed", "ref", ref, "manifest", res.Manifest.DigestStr(), "signed", res.Created,
			"key", res.KeyID, "layers", res.Downloaded, "of", res.Layers, "bytes", res.Bytes)
	}
}
