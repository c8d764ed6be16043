package freshness

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsServed(t *testing.T) {
	cfg, err := ParseConfig([]byte("images:\n  - name: app\n    image: reg.example/team/app:1\n    base: reg.example/os/base:1\n    rebuild: {kind: rebase}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	w := &Watcher{R: &Reconciler{Config: cfg}, Metrics: m}
	m.detected("poll")
	m.detected("event:distribution")
	m.detected("event:distribution")
	m.finished([]Item{
		{Name: "app", RebuildID: "rb-1", State: StateDone, Duration: 2 * time.Second},
		{Name: "web", RebuildID: "rb-2", State: StateFailed, Duration: time.Second},
		{Name: "api", State: StateDone}, // up to date: no rebuild ran
	})
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`drydock_watch_detections_total{source="event:distribution"} 2`,
		`drydock_watch_detections_total{source="poll"} 1`,
		`drydock_watch_rebuilds_total{state="done"} 1`,
		`drydock_watch_rebuilds_total{state="failed"} 1`,
		`drydock_watch_rebuild_seconds_count 2`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
