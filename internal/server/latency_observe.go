package server

import (
	"context"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock/drydock/internal/store"
)

// latencyObserver completes patch latencies for the histogram: when a
// digest stops running, every vulnerability with a fix that it carried and
// that no running digest carries any more has reached production, and the
// seconds from its fix being available to that moment are observed, once
// per vulnerability and stop.
type latencyObserver struct {
	st   Store
	hist *prometheus.HistogramVec
	log  *slog.Logger
}

func newPatchLatencyHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "drydock_server_patch_latency_seconds",
		Help: "Seconds from a fix being available for a vulnerability to the last running workload moving off every digest that has it (observed when that happens), by the finding's severity.",
		// One minute to about four months.
		Buckets: prometheus.ExponentialBuckets(60, 3, 12),
	}, []string{"severity"})
}

// stopped is called after a workload moved off digest (or went away).
func (o *latencyObserver) stopped(ctx context.Context, digest string) {
	if o == nil || digest == "" {
		return
	}
	if still, err := o.st.WorkloadsRunning(ctx, []string{digest}); err != nil || len(still) > 0 {
		return
	}
	fs, err := o.st.Findings(ctx, digest)
	if err != nil {
		return
	}
	done := map[string]bool{}
	for _, f := range fs {
		if f.Fixed == "" || done[f.ID] {
			continue
		}
		done[f.ID] = true
		if err := o.complete(ctx, f); err != nil {
			o.log.Warn("patch latency", "vulnerability", f.ID, "err", err)
		}
	}
}

func (o *latencyObserver) complete(ctx context.Context, f store.Finding) error {
	affected, err := o.st.Affected(ctx, f.ID)
	if err != nil {
		return err
	}
	var digests []string
	seen := map[string]bool{}
	for _, a := range affected {
		if !seen[a.Digest] {
			seen[a.Digest] = true
			digests = append(digests, a.Digest)
		}
	}
	running, err := o.st.WorkloadsRunning(ctx, digests)
	if err != nil || len(running) > 0 {
		return err // not yet in production everywhere
	}
	images, err := o.st.ImagesByDigest(ctx, digests)
	if err != nil {
		return err
	}
	for _, a := range affected {
		if images[a.Digest] == nil {
			images[a.Digest] = &store.Image{Digest: a.Digest}
		}
	}
	l, err := patchLatency(ctx, o.st, f.ID, affected, images, false)
	if err != nil {
		return err
	}
	if l.FixAvailable.IsZero() || l.LastPodOff.IsZero() || l.ToProduction < 0 {
		return nil
	}
	o.hist.WithLabelValues(strings.ToLower(severityOr(f.Severity))).Observe(l.ToProduction)
	o.log.Info("patch reached production", "vulnerability", f.ID, "seconds", int64(l.ToProduction))
	return nil
}

func severityOr(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
