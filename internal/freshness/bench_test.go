package freshness

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/rebuild"
)

// BenchmarkPushToRebuilt measures, on the rebase path with the product
// rebase executor and go-containerregistry's in-process registry, the time
// from the registry push of a new base to the last of N dependent
// application images rebuilt and pushed, triggered by a push event
// (debounce 50ms) or by polling (interval 200ms, jitter 10%).
// Metrics: ms/push-to-all (what the table in scripts/bench-fresh.sh prints).
func BenchmarkPushToRebuilt(b *testing.B) {
	for _, mode := range []string{"event", "poll"} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("%s/dependents=%d", mode, n), func(b *testing.B) { benchPushToRebuilt(b, mode, n) })
		}
	}
}

func benchPushToRebuilt(b *testing.B, mode string, n int) {
	var cfg strings.Builder
	if mode == "event" {
		cfg.WriteString("watch: {debounce: 50ms, pollInterval: 0s, concurrency: 8, events: {tokenEnv: T}}\nimages:\n")
	} else {
		cfg.WriteString("watch: {pollInterval: 200ms, jitter: 0.1, concurrency: 8, events: {tokenEnv: T}}\nimages:\n")
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&cfg, "  - {name: app%d, image: REG/team/app%d:1, base: REG/base/os:12, rebuild: {kind: rebase}}\n", i, i)
	}
	f := newFixture(b, cfg.String(), "")
	f.r.NewExecutor = func(kind string, c map[string]string) (rebuild.Executor, error) { return rebuild.New(kind, c) }
	base := randomImage(b)
	f.reg.push(b, "base/os:12", base)
	for i := 0; i < n; i++ {
		f.reg.push(b, fmt.Sprintf("team/app%d:1", i), onBase(b, base, f.reg.host+"/base/os:12"))
	}
	reconciled := make(chan []Item, 64)
	w := &Watcher{R: f.r, Token: "tok", OnReconcile: func(_ []string, items []Item) { reconciled <- items }}
	if mode == "poll" {
		w.Header = &HTTPHeader{Config: f.cfg}
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-reconciled // start-up reconcile
	time.Sleep(300 * time.Millisecond)

	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		nb := randomImage(b)
		b.StartTimer()
		start := time.Now()
		d := f.reg.push(b, "base/os:12", nb)
		if mode == "event" {
			body := fmt.Sprintf(`{"events":[{"action":"push","target":{"digest":%q,"repository":"base/os","tag":"12"}}]}`, d)
			resp, err := http.Post(srv.URL+"/events/distribution?token=tok", "application/json", bytes.NewBufferString(body))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
		rebuilt := 0
		for rebuilt < n {
			select {
			case items := <-reconciled:
				for _, it := range items {
					if it.State == StateDone && it.RebuildID != "" {
						rebuilt++
					} else if it.Error != "" {
						b.Fatalf("%s: %s", it.Name, it.Error)
					}
				}
			case <-time.After(2 * time.Minute):
				b.Fatalf("only %d of %d rebuilt", rebuilt, n)
			}
		}
		total += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/push-to-all")
}
