package freshness

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Watcher runs the reconcile continuously: from polls of every base tag and
// from registry push events, debounced per base tag. Reconciles run one at a
// time (each runs independent images concurrently); triggers that arrive
// meanwhile are merged into the next one.
type Watcher struct {
	R      *Reconciler
	Header Header // nil disables polling
	// Token authenticates push events.
	Token string
	// OnReconcile, when set, gets each reconcile's items (tests).
	OnReconcile func(tags []string, items []Item)
	// Metrics, when set, is updated as events arrive and rebuilds end, and
	// served on /metrics.
	Metrics *Metrics

	mu      sync.Mutex
	pending map[string]bool // normalised base tags waiting; "" = everything
	wake    chan struct{}
	deb     *Debouncer
}

func (w *Watcher) log() *slog.Logger { return w.R.log() }

// enqueue asks for a reconcile of the images affected by tag ("" = all).
func (w *Watcher) enqueue(tag string) {
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]bool{}
	}
	w.pending[tag] = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Watcher) init() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
	if w.deb == nil {
		w.deb = &Debouncer{Window: w.R.Config.Watch.Debounce.Duration, Fire: w.enqueue}
	}
}

// Handler serves the event endpoints (/events/<source>) and /healthz.
func (w *Watcher) Handler() http.Handler {
	w.init()
	mux := http.NewServeMux()
	mux.Handle("/events/", &EventHandler{Token: w.Token, OnPush: w.onPush})
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, r *http.Request) { rw.Write([]byte("ok\n")) })
	if w.Metrics != nil {
		mux.Handle("/metrics", w.Metrics.Handler())
	}
	return mux
}

// tracked maps a pushed repository:tag to the configured base tags it is.
func (w *Watcher) tracked(ev PushEvent) []string {
	var out []string
	for _, b := range w.R.Config.BaseTags() {
		t, err := name.NewTag(b)
		if err != nil {
			continue
		}
		// The registry host in an event is whatever name the pusher used
		// (127.0.0.1:5000, localhost:5000, a load balancer's name), so
		// match on repository and tag; the reconcile asks the registry
		// itself what the tag holds.
		if t.TagStr() == ev.Tag && (t.RepositoryStr() == ev.Repository || t.Context().RepositoryStr() == ev.Repository) {
			out = append(out, normTag(b))
		}
	}
	return out
}

func (w *Watcher) onPush(source string, evs []PushEvent) {
	for _, ev := range evs {
		tags := w.tracked(ev)
		for _, t := range tags {
			w.log().Info("push event", "source", source, "tag", t, "digest", ev.Digest)
			w.Metrics.detected("event:" + source)
			if w.R.Store != nil {
				_ = w.R.Store.RecordDetection(context.Background(), Detection{BaseTag: t, Digest: ev.Digest, Source: "event:" + source})
			}
			w.deb.Trigger(t)
		}
	}
}

// Run resumes interrupted rebuilds, reconciles everything once, then polls
// and serves triggers until ctx ends. The HTTP handler is served by the
// caller (Handler).
func (w *Watcher) Run(ctx context.Context) error {
	w.init()
	defer w.deb.Stop()
	if items := w.R.Resume(ctx); len(items) > 0 {
		w.Metrics.finished(items)
		if w.OnReconcile != nil {
			w.OnReconcile([]string{"resume"}, items)
		}
	}
	w.enqueue("")

	var wg sync.WaitGroup
	defer wg.Wait()
	if w.Header != nil && w.R.Config.Watch.PollInterval.Duration > 0 {
		for _, b := range w.R.Config.BaseTags() {
			tag := normTag(b)
			initial := ""
			if w.R.Store != nil {
				initial, _ = w.R.Store.BaseDigest(ctx, tag)
			}
			p := &Poller{
				Tag: b, Header: w.Header, Initial: initial,
				Interval:   w.R.Config.Watch.PollInterval.Duration,
				Jitter:     *w.R.Config.Watch.Jitter,
				MaxBackoff: w.R.Config.Watch.MaxBackoff.Duration,
				OnChange: func(d string) {
					if w.R.Store != nil {
						changed, err := w.R.Store.SetBaseDigest(ctx, tag, d)
						if err == nil && !changed {
							return // a reconcile already saw it
						}
						_ = w.R.Store.RecordDetection(ctx, Detection{BaseTag: tag, Digest: d, Source: "poll"})
					}
					w.Metrics.detected("poll")
					w.log().Info("base moved (poll)", "tag", tag, "digest", d)
					w.enqueue(tag)
				},
				OnError: func(err error, wait time.Duration) {
					w.log().Warn("poll failed", "tag", tag, "err", err, "retry_in", wait)
				},
			}
			wg.Add(1)
			go func() { defer wg.Done(); p.Run(ctx) }()
		}
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		}
		w.mu.Lock()
		pending := w.pending
		w.pending = nil
		w.mu.Unlock()
		if len(pending) == 0 {
			continue
		}
		var tags []string
		if !pending[""] {
			for t := range pending {
				tags = append(tags, t)
			}
		}
		start := time.Now()
		items := w.R.Reconcile(ctx, tags...)
		rebuilt := 0
		for _, it := range items {
			if it.RebuildID != "" && it.State == StateDone {
				rebuilt++
			}
			if it.Error != "" {
				w.log().Error("reconcile", "image", it.Name, "err", it.Error)
			}
		}
		w.log().Info("reconciled", "tags", tags, "images", len(items), "rebuilt", rebuilt, "took", time.Since(start).Round(time.Millisecond))
		w.Metrics.finished(items)
		if w.OnReconcile != nil {
			w.OnReconcile(tags, items)
		}
	}
}
