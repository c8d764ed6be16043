package jobs

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Backoff keeps, per registry host, when drydock may talk to it again. A
// registry that answers 429 (honouring its Retry-After) or 503, or cannot
// be reached, is left alone until then: its jobs are snoozed, not failed,
// while the other registries' crawls and scans go on. It is per replica;
// each replica learns a registry's limits from its own requests.
type Backoff struct {
	// Min and Max bound the wait when the registry names none (defaults
	// 2s and 5m); it doubles with each failure in a row.
	Min, Max time.Duration
	// OnBackoff is told each new backoff (for events and metrics).
	OnBackoff func(host string, wait time.Duration, reason string)

	mu    sync.Mutex
	hosts map[string]*hostState
	now   func() time.Time
}

type hostState struct {
	until    time.Time
	failures int
}

// ErrBackingOff is returned, without a request sent, for a registry that
// is backing off.
var ErrBackingOff = errors.New("registry is backing off")

// BackoffError names the registry and until when.
type BackoffError struct {
	Host  string
	Until time.Time
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%s: %v until %s", e.Host, ErrBackingOff, e.Until.UTC().Format(time.RFC3339))
}

func (e *BackoffError) Unwrap() error { return ErrBackingOff }

func (b *Backoff) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// Wait is how long host must still be left alone (0: go ahead).
func (b *Backoff) Wait(host string) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.hosts[host]; s != nil {
		if d := s.until.Sub(b.clock()); d > 0 {
			return d
		}
	}
	return 0
}

// Snooze turns an error of a job against host into a snooze when host is
// backing off, so the job waits without spending an attempt; other
// errors pass through.
func (b *Backoff) Snooze(host string, err error) error {
	if d := b.Wait(host); d > 0 && (err == nil || errors.Is(err, ErrBackingOff) || b.failing(host)) {
		return river.JobSnooze(d)
	}
	return err
}

func (b *Backoff) failing(host string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.hosts[host]
	return s != nil && s.failures > 0
}

func (b *Backoff) record(host string, retryAfter time.Duration, reason string) {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 2 * time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	b.mu.Lock()
	if b.hosts == nil {
		b.hosts = map[string]*hostState{}
	}
	s := b.hosts[host]
	if s == nil {
		s = &hostState{}
		b.hosts[host] = s
	}
	now := b.clock()
	if s.until.After(now) && retryAfter <= 0 {
		// Requests already in flight when the backoff began.
		b.mu.Unlock()
		return
	}
	s.failures++
	wait := retryAfter
	if wait <= 0 {
		wait = lo << min(s.failures-1, 16)
		if wait > hi || wait <= 0 {
			wait = hi
		}
	} else if wait > time.Hour {
		wait = time.Hour // a hostile Retry-After must not park a registry for ever
	}
	s.until = now.Add(wait)
	b.mu.Unlock()
	if b.OnBackoff != nil {
		b.OnBackoff(host, wait, reason)
	}
}

func (b *Backoff) ok(host string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.hosts[host]; s != nil && !s.until.After(b.clock()) {
		s.failures = 0
	}
}

// Transport wraps next: requests to a host that is backing off fail at
// once with a *BackoffError; 429 and 503 answers and unreachable hosts
// start a backoff.
func (b *Backoff) Transport(next http.RoundTripper) http.RoundTripper {
	return &backoffTransport{b: b, next: next}
}

type backoffTransport struct {
	b    *Backoff
	next http.RoundTripper
}

func (t *backoffTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if d := t.b.Wait(host); d > 0 {
		return nil, &BackoffError{Host: host, Until: t.b.clock().Add(d)}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		if req.Context().Err() == nil && unreachable(err) {
			t.b.record(host, 0, "unreachable: "+err.Error())
		}
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		ra, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), t.b.clock())
		reason := fmt.Sprintf("answered %d", resp.StatusCode)
		if ok {
			reason += " with Retry-After " + resp.Header.Get("Retry-After")
		}
		t.b.record(host, ra, reason)
	default:
		if resp.StatusCode < 500 {
			t.b.ok(host)
		}
	}
	return resp, nil
}

// unreachable tells a registry that is down (refused, unresolvable, timed
// out) from a failed protocol guess: go-containerregistry tries HTTPS
// before plain HTTP on local registries, and that TLS failure must not
// park the registry.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 section 10.2.3).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > 86400 {
			n = 86400
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}
