package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are drydock server's Prometheus metrics. Gauges are read from
// the store at scrape time, so every replica reports the shared state.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	// backoffs counts, per registry, the times it rate-limited drydock or
	// was down and its jobs were made to wait.
	backoffs *prometheus.CounterVec
	// patchLatency is observed as each vulnerability's fix reaches
	// production (latency_observe.go).
	patchLatency *prometheus.HistogramVec
}

type gaugeSource interface {
	SeverityCounts(ctx context.Context) (map[string]int, error)
	VulnerableRunning(ctx context.Context, minSeverity string) (int, error)
}

type collector struct {
	st    gaugeSource
	depth func(ctx context.Context) (int, error)

	images, running, queue *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.images
	ch <- c.running
	ch <- c.queue
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := c.st.SeverityCounts(ctx); err == nil {
		for _, sev := range []string{"critical", "high", "medium", "low", "unknown", "none"} {
			ch <- prometheus.MustNewConstMetric(c.images, prometheus.GaugeValue, float64(counts[sev]), sev)
		}
	} else {
		slog.Warn("metrics: count images", "err", err)
	}
	if n, err := c.st.VulnerableRunning(ctx, "HIGH"); err == nil {
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(n))
	}
	if c.depth != nil {
		if n, err := c.depth(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(n))
		}
	}
}

func newMetrics(st gaugeSource, depth func(ctx context.Context) (int, error)) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "drydock_server_job_duration_seconds",
			Help:    "Duration of scans (one image) and re-match batches.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
		}, []string{"kind"}),
	}
	m.backoffs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "drydock_server_registry_backoffs_total",
		Help: "Times a registry answered 429/503 or was unreachable and its jobs were made to wait (Retry-After honoured).",
	}, []string{"registry"})
	m.patchLatency = newPatchLatencyHistogram()
	m.reg.MustRegister(m.duration, m.backoffs, m.patchLatency, &collector{
		st:    st,
		depth: depth,
		images: prometheus.NewDesc("drydock_server_images", "Scanned images by their worst finding's severity.",
			[]string{"severity"}, nil),
		running: prometheus.NewDesc("drydock_server_running_vulnerable_containers",
			"Running workload containers whose image has a finding of HIGH or worse.", nil, nil),
		queue: prometheus.NewDesc("drydock_server_queue_depth", "Jobs waiting or running (capped at 10000).", nil, nil),
	})
	return m
}
