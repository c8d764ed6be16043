package jobs_test

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/jobs"
	"github.com/drydock/drydock/internal/loop"
	"github.com/drydock/drydock/internal/store"
)

// limitedRegistry is the in-process registry behind a rate limiter that,
// while on, answers every request 429 with Retry-After (as Docker Hub and
// registry quotas do), recording when each request came.
type limitedRegistry struct {
	host    string
	limited atomic.Bool
	mu      sync.Mutex
	times   []time.Time
	limits  []time.Time
}

func startLimitedRegistry(t *testing.T, retryAfter string) *limitedRegistry {
	l := &limitedRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		l.mu.Lock()
		l.times = append(l.times, now)
		if l.limited.Load() {
			l.limits = append(l.limits, now)
		}
		l.mu.Unlock()
		if l.limited.Load() {
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited"}]}`, http.StatusTooManyRequests)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	l.host = strings.TrimPrefix(s.URL, "http://")
	return l
}

// One registry answers 429 with Retry-After: 3 while the other is crawled
// and scanned meanwhile; the limited one is not asked again before its
// Retry-After ran out, the backoff is an event, and once the limit lifts
// its crawl resumes on its own (snoozed, not failed).
func TestRateLimitedRegistryBacksOffAlone(t *testing.T) {
	lay := demoLayout(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	limited := startLimitedRegistry(t, "3")
	normal := startRegistry(t)
	limitedApp := push(t, lay, "base", limited.host+"/os/debian:12") // not the same digest as the other
	normalApp := push(t, lay, "app", normal.Host+"/team/app:1")
	limited.limited.Store(true)

	dir := t.TempDir()
	var backoffs atomic.Int64
	d := &jobs.Deps{
		DBPath:    filepath.Join(dir, "vulndb.sqlite"),
		Inventory: loop.InventoryOptions{CacheDir: filepath.Join(dir, "cache"), TempDir: filepath.Join(dir, "cache", "tmp"), Tool: "drydock test"},
		Targets: []jobs.Target{
			{Registry: limited.host, Repositories: []string{"os/debian"}},
			{Registry: normal.Host, Repositories: []string{"team/app"}},
		},
		ImageOptions: []image.Option{image.WithUserAgent("drydock-test")},
		OnBackoff:    func(string, time.Duration, string) { backoffs.Add(1) },
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	st, e := engineCases[0].open(t, ctx, dir, d, jobs.Schedule{Workers: 2})
	defer st.Close()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	if _, err := e.Enqueue(ctx, jobs.CrawlAllArgs{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other registry's image scanned", func() bool {
		ok, _ := st.Scanned(ctx, normalApp.DigestStr())
		return ok
	})
	waitFor(t, "a backoff event", func() bool {
		evs, _ := st.Events(ctx, store.EventFilter{Kind: store.EventBackoff})
		return len(evs) > 0
	})
	evs, _ := st.Events(ctx, store.EventFilter{Kind: store.EventBackoff})
	if d := evs[len(evs)-1].Detail; !strings.Contains(d, limited.host) || !strings.Contains(d, "429") || !strings.Contains(d, "Retry-After 3") {
		t.Errorf("backoff event = %q; want the registry, the 429 and its Retry-After", d)
	}
	for _, ev := range evs {
		if strings.Contains(ev.Detail, normal.Host) {
			t.Errorf("the healthy registry backed off: %q", ev.Detail)
		}
	}
	if backoffs.Load() == 0 {
		t.Error("OnBackoff (the metrics hook) was not told")
	}
	if ok, _ := st.Scanned(ctx, limitedApp.DigestStr()); ok {
		t.Fatal("the rate-limited registry's image was scanned while it answered 429")
	}
	time.Sleep(500 * time.Millisecond)
	limited.limited.Store(false)
	waitFor(t, "the limited registry's image scanned once the limit lifted", func() bool {
		ok, _ := st.Scanned(ctx, limitedApp.DigestStr())
		return ok
	})

	// Retry-After honoured: after a 429, nothing until it ran out.
	limited.mu.Lock()
	defer limited.mu.Unlock()
	first := limited.limits[0]
	var early []string
	for _, at := range limited.times {
		if at.After(first) && at.Before(first.Add(3*time.Second-50*time.Millisecond)) {
			early = append(early, at.Sub(first).String())
		}
	}
	if diff := cmp.Diff([]string(nil), early); diff != "" {
		t.Errorf("requests within Retry-After of the first 429 (-want +got):\n%s", diff)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{"-1", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{"Fri, 02 Jan 2026 03:05:05 GMT", time.Minute, true},
		{"Fri, 02 Jan 2026 03:00:00 GMT", 0, true},
		{"soon", 0, false},
	} {
		got, ok := jobs.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
