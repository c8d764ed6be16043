package freshness

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics counts what the watcher sees and does, for Prometheus: base
// changes by how they were noticed, rebuilds by outcome, and how long each
// took from start to done.
type Metrics struct {
	reg        *prometheus.Registry
	detections *prometheus.CounterVec
	rebuilds   *prometheus.CounterVec
	duration   prometheus.Histogram
}

// NewMetrics makes a registry of its own, so a drydock embedded elsewhere
// does not clash with the default one.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_watch_detections_total", Help: "Base image changes noticed, by source (poll or event:<registry kind>).",
		}, []string{"source"}),
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_watch_rebuilds_total", Help: "Rebuilds finished, by final state (done or failed).",
		}, []string{"state"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "drydock_watch_rebuild_seconds", Help: "Time from the start of a rebuild to its end (rebuild, scan, sign, deploy).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
	}
	m.reg.MustRegister(m.detections, m.rebuilds, m.duration, collectors.NewGoCollector())
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) detected(source string) {
	if m != nil {
		m.detections.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) finished(items []Item) {
	if m == nil {
		return
	}
	for _, it := range items {
		if it.RebuildID != "" && (it.State == StateDone || it.State == StateFailed) {
			m.rebuilds.WithLabelValues(string(it.State)).Inc()
			m.duration.Observe(it.Duration.Seconds())
		}
	}
}
