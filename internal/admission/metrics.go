package admission

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus collectors.
type Metrics struct {
	// Decisions counts image decisions by result (allow, deny, warn,
	// audit, exempt, error) and mode.
	Decisions *prometheus.CounterVec
	// Reviews counts AdmissionReviews by webhook (validate, mutate) and
	// outcome (allowed, denied, bad_request).
	Reviews *prometheus.CounterVec
	// Latency is the time to answer a review, by webhook.
	Latency *prometheus.HistogramVec
	// Cache counts verification cache lookups by result (hit, miss).
	Cache *prometheus.CounterVec
	// Verifications counts Verifier calls by result (verified,
	// not_verified, error).
	Verifications *prometheus.CounterVec
}

// NewMetrics makes the collectors and registers them with reg (if not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_admission_decisions_total",
			Help: "Image admission decisions by result and mode.",
		}, []string{"result", "mode"}),
		Reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_admission_reviews_total",
			Help: "AdmissionReview requests by webhook and outcome.",
		}, []string{"webhook", "outcome"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "drydock_admission_decision_seconds",
			Help:    "Time to answer an AdmissionReview.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"webhook"}),
		Cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_admission_cache_lookups_total",
			Help: "Verification cache lookups by result (hit, miss).",
		}, []string{"result"}),
		Verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drydock_admission_verifications_total",
			Help: "Verdict verifications against the registry by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Decisions, m.Reviews, m.Latency, m.Cache, m.Verifications)
	}
	return m
}
