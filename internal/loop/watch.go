package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/drydock/drydock/internal/freshness"
)

// WatchOptions configure the continuous reconcile of `drydock watch`.
type WatchOptions struct {
	// Listen is the address of the event endpoint.
	Listen    string
	Token     string
	UserAgent string
	// Listening, when set, is told the bound address once the endpoint is up.
	Listening func(addr net.Addr)
}

// Watch polls the base tags, takes registry push events on an HTTP
// endpoint and reconciles until ctx ends.
func Watch(ctx context.Context, r *freshness.Reconciler, o WatchOptions) error {
	w := &freshness.Watcher{
		R:       r,
		Token:   o.Token,
		Header:  &freshness.HTTPHeader{Config: r.Config, Keychain: authn.DefaultKeychain, UserAgent: o.UserAgent},
		Metrics: freshness.NewMetrics(),
	}
	if o.Token == "" {
		slog.Warn("no watch.events.tokenEnv configured: push events are refused, polling only")
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	if o.Listening != nil {
		o.Listening(ln.Addr())
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(runCtx) }()
	select {
	case err = <-srvErr:
		cancel()
		<-runErr
		return fmt.Errorf("event server: %w", err)
	case err = <-runErr:
	}
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	if serr := srv.Shutdown(shutCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		slog.Warn("event server shutdown", "err", serr)
	}
	return err
}
