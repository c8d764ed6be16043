package freshness

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"999999999": 24 * time.Hour,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestNextWait(t *testing.T) {
	p := &Poller{Interval: time.Minute, MaxBackoff: 10 * time.Minute, Rand: func() float64 { return 0.5 }, Jitter: 0.2}
	if w := p.NextWait(0, nil); w != time.Minute {
		t.Errorf("no failure: %v", w)
	}
	if w := p.NextWait(1, errors.New("x")); w != 2*time.Minute {
		t.Errorf("1 failure: %v", w)
	}
	if w := p.NextWait(3, errors.New("x")); w != 8*time.Minute {
		t.Errorf("3 failures: %v", w)
	}
	if w := p.NextWait(10, errors.New("x")); w != 10*time.Minute {
		t.Errorf("10 failures: %v, want the cap", w)
	}
	if w := p.NextWait(1, &RateLimitError{RetryAfter: time.Hour}); w != time.Hour {
		t.Errorf("429 Retry-After 1h: %v", w)
	}
	p.Rand = func() float64 { return 0 }
	if w := p.NextWait(0, nil); w != 48*time.Second {
		t.Errorf("jitter low end: %v", w)
	}
}

// TestPollerAgainstRegistry HEADs a fake registry that answers 429 with
// Retry-After once, then digests, and checks the poller waits as told and
// reports the change.
func TestPollerAgainstRegistry(t *testing.T) {
	var mu sync.Mutex
	digest := "sha256:" + strings.Repeat("a", 64)
	heads := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		if r.Method != http.MethodHead || r.URL.Path != "/v2/base/os/manifests/12" {
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		heads++
		if heads == 2 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Docker-Content-Digest", digest)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := &Config{}
	hd := &HTTPHeader{Config: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	changes := make(chan string, 4)
	p := &Poller{
		Tag: host + "/base/os:12", Header: hd, Interval: time.Second, MaxBackoff: time.Minute,
		OnChange: func(d string) { changes <- d },
		Sleep: func(ctx context.Context, d time.Duration) bool {
			waits = append(waits, d)
			mu.Lock()
			if heads == 3 {
				digest = "sha256:" + strings.Repeat("b", 64)
			}
			mu.Unlock()
			return ctx.Err() == nil && len(waits) < 6
		},
	}
	p.Run(ctx)
	// waits: first (start offset), after HEAD 1 (ok), after HEAD 2 (429: ≥3s), ...
	if len(waits) < 3 || waits[2] < 3*time.Second {
		t.Errorf("waits = %v, want the third ≥ 3s (Retry-After)", waits)
	}
	select {
	case d := <-changes:
		if !strings.HasSuffix(d, "bbbb") {
			t.Errorf("change to %s", d)
		}
	default:
		t.Errorf("no change reported (heads=%d)", heads)
	}
}
