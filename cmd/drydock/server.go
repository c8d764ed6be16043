package main

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/server"
)

func newServerCommand(g *globals) *cobra.Command {
	var (
		f        freshFlags
		database string
		listen   string
		replica  string
		dbf      dbFromFlags
	)
	cmd := &cobra.Command{
		Use:   "server --config drydock.yaml",
		Short: "Keep the whole estate scanned: crawl registries, watch clusters, re-match on new CVEs, serve the API",
		Long: `Run drydock continuously: crawl the registries of the config's server section (on a
schedule and on registry push events), scan each new digest once (each platform of a
multi-arch image), watch the clusters' Pods for running digests, update the vulnerability
database and re-match every stored inventory when it changes (no image is downloaded),
sign verdicts (--key with --policy, --fail-on or --no-policy), run the freshness loop of "drydock watch" for the
config's images, and serve the REST API (/api/v1), /metrics, /healthz and /readyz.

The store and job queue are SQLite files in --data-dir; --database postgres://... puts
both on PostgreSQL so several replicas share the work. See docs/server.md and
docs/server-api.yaml.`,
		Example: `  drydock server --config drydock.yaml
  DRYDOCK_SERVER_TOKEN=... drydock server --config drydock.yaml --listen 0.0.0.0:8088
  drydock server --config drydock.yaml --database postgres://drydock@db:5432/drydock --key verdicts.key --policy policy.yaml
  # Air-gapped: the vulnerability database from the cluster's own registry, signed by "drydock db push"
  drydock server --config drydock.yaml --db-from oci://registry.example.com/security/vulndb:latest --db-key db.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := freshness.LoadConfig(f.config)
			if err != nil {
				return err
			}
			sc, err := server.ParseConfig(cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", f.config, err)
			}
			if listen != "" {
				sc.Listen = listen
			}
			// --db-from and --db-key override the config's dbFrom and dbKeys.
			if dbf.from == "" {
				dbf.from = sc.DBFrom
			}
			if len(dbf.keys) == 0 {
				dbf.keys = sc.DBKeys
			}
			if cmd.Flags().Changed("db-pull-interval") {
				sc.DBPullInterval.Duration = dbf.interval
			} else {
				dbf.interval = sc.DBPullInterval.Duration
			}
			insecureDB := false
			if ref, ok := strings.CutPrefix(dbf.from, "oci://"); ok {
				insecureDB = slices.ContainsFunc(cfg.Registries.Insecure, func(h string) bool { return strings.HasPrefix(ref, h+"/") })
			}
			sy, err := dbf.syncer(ctx, g.dbPath(), insecureDB)
			if err != nil {
				return err
			}
			o := server.Options{
				Config:    cfg,
				Server:    sc,
				DataDir:   g.dataDir,
				CacheDir:  g.cacheDir,
				Database:  database,
				DBPath:    g.dbPath(),
				Tool:      attest.Scanner{Name: "drydock", Version: version},
				UserAgent: "drydock/" + version,
				ReplicaID: replica,
				DBSync:    sy,
				Listening: func(addr net.Addr) {
					fmt.Fprintf(g.notices(cmd), "drydock server: listening on %s\n", addr)
				},
			}
			if replica != "" {
				// Registries' logs then tell replicas apart.
				o.UserAgent += " (replica " + replica + ")"
			}
			if sc.TokenEnv != "" {
				if o.Token = os.Getenv(sc.TokenEnv); o.Token == "" {
					return fmt.Errorf("server.tokenEnv: $%s is empty", sc.TokenEnv)
				}
			}
			if o.EventToken, err = cfg.EventToken(os.Getenv); err != nil {
				return err
			}
			decided := f.policy != "" || f.failOn != "" || f.noPolicy
			if f.key != "" && !decided {
				return errNoDecision("--key")
			}
			if decided {
				if o.Evaluator, err = policyEvaluator(f.policy, f.failOn, "", f.noPolicy); err != nil {
					return err
				}
			}
			if f.key != "" {
				if o.Signer, err = loadSigner(f.key); err != nil {
					return err
				}
			}
			if len(cfg.Images) > 0 {
				storePath := f.store
				if storePath == "" {
					storePath = defaultStorePath(g)
				}
				r, err := newReconciler(ctx, g, &f, storePath)
				if err != nil {
					return err
				}
				defer r.Store.Close()
				o.Reconciler = r
			}
			return server.Run(ctx, o)
		},
	}
	f.register(cmd, "SQLite file of the freshness loop's detections and rebuilds (default <data-dir>/watch.sqlite)")
	fl := cmd.Flags()
	fl.StringVar(&database, "database", os.Getenv("DRYDOCK_DATABASE"), "PostgreSQL URL for the store and job queue, shared by replicas (env DRYDOCK_DATABASE; default SQLite in --data-dir)")
	fl.StringVar(&listen, "listen", "", "API address (overrides server.listen; default 127.0.0.1:8088)")
	dbf.register(cmd)
	fl.StringVar(&replica, "replica-id", os.Getenv("HOSTNAME"), "name of this replica in the job engine (env HOSTNAME)")
	return cmd
}
