package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/loop"
)

func newWatchCommand(g *globals) *cobra.Command {
	var (
		f            freshFlags
		listen       string
		pollInterval time.Duration
		debounce     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch --config drydock.yaml",
		Short: "Keep the tracked images fresh: poll base tags, take registry push events, rebuild",
		Long: `Run the reconcile of "drydock rebuild" continuously. Every base tag is polled with a
manifest HEAD (watch.pollInterval, with jitter, exponential backoff after errors, and
429 Retry-After respected), and registry push events are taken on
  POST /events/distribution   (Docker/distribution registry notifications)
  POST /events/acr            (Azure Container Registry webhooks)
  POST /events/harbor         (Harbor webhooks)
  POST /events/dockerhub      (Docker Hub webhooks)
authenticated with the shared secret in the variable named by watch.events.tokenEnv,
sent as "Authorization: Bearer <token>" or "?token=<token>". Pushes of one base tag are
debounced (watch.debounce). Every detection, rebuild and result is recorded in the
store, so a restart resumes interrupted rebuilds with the same rebuild ID.

` + signingHelp,
		Example: `  # Watch, rebuild, and sign a verdict for each rebuilt image under a policy
  DRYDOCK_KEY_PASSWORD=... drydock watch --config drydock.yaml --key ci.key --policy policy.yaml

  # Also roll passing rebuilt images out to opted-in workloads
  drydock watch --config drydock.yaml --key ci.key --fail-on high --deploy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			storePath := f.store
			if storePath == "" {
				storePath = defaultStorePath(g)
			}
			r, err := newReconciler(ctx, g, &f, storePath)
			if err != nil {
				return err
			}
			defer r.Store.Close()
			if cmd.Flags().Changed("poll-interval") {
				r.Config.Watch.PollInterval = &freshness.Duration{Duration: pollInterval}
			}
			if cmd.Flags().Changed("debounce") {
				r.Config.Watch.Debounce = &freshness.Duration{Duration: debounce}
			}
			token, err := r.Config.EventToken(os.Getenv)
			if err != nil {
				return err
			}
			return loop.Watch(ctx, r, loop.WatchOptions{
				Listen:    listen,
				Token:     token,
				UserAgent: "drydock/" + version,
				Listening: func(addr net.Addr) {
					fmt.Fprintf(g.notices(cmd), "drydock watch: listening on %s, store %s, polling every %s\n",
						addr, storePath, r.Config.Watch.PollInterval.Duration)
				},
			})
		},
	}
	f.register(cmd, "SQLite file recording detections, rebuilds and results (default <data-dir>/watch.sqlite)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the event endpoint")
	cmd.Flags().DurationVar(&pollInterval, "poll-interval", 0, "poll each base tag this often (overrides watch.pollInterval; 0 disables polling)")
	cmd.Flags().DurationVar(&debounce, "debounce", 0, "quiet time after a push before rebuilding (overrides watch.debounce)")
	return cmd
}
