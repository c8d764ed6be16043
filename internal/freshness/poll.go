package freshness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Header is what a manifest HEAD tells.
type Header interface {
	// Head returns the digest the tag points at.
	Head(ctx context.Context, tag string) (string, error)
}

// RateLimitError is a 429 answer; RetryAfter is zero when the registry
// gave no usable Retry-After.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited (429), retry after %s", e.RetryAfter)
}

// HTTPHeader HEADs manifests with net/http (authenticated through
// go-containerregistry's transport), so that a 429's Retry-After is seen
// rather than retried away.
type HTTPHeader struct {
	Config    *Config
	Keychain  authn.Keychain
	Transport http.RoundTripper
	UserAgent string
}

var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// Head implements Header.
func (h *HTTPHeader) Head(ctx context.Context, ref string) (string, error) {
	tag, err := name.NewTag(ref, h.Config.NameOptions(ref)...)
	if err != nil {
		return "", err
	}
	kc := h.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, err := kc.Resolve(tag.Context())
	if err != nil {
		return "", fmt.Errorf("credentials for %s: %w", tag.Context(), err)
	}
	base := h.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if h.UserAgent != "" {
		base = transport.NewUserAgent(base, h.UserAgent)
	}
	rt, err := transport.NewWithContext(ctx, tag.Context().Registry, auth, base, []string{tag.Context().Scope(transport.PullScope)})
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == http.StatusTooManyRequests {
			return "", &RateLimitError{}
		}
		return "", fmt.Errorf("HEAD %s: %w", ref, err)
	}
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", tag.Context().Registry.Scheme(), tag.Context().RegistryStr(), tag.Context().RepositoryStr(), tag.TagStr())
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", fmt.Errorf("HEAD %s: %w", ref, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", &RateLimitError{RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("HEAD %s: %w", ref, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("HEAD %s: %s", ref, resp.Status)
	}
	d := resp.Header.Get("Docker-Content-Digest")
	if d == "" {
		return "", fmt.Errorf("HEAD %s: no Docker-Content-Digest header", ref)
	}
	return d, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; bad values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, 24*time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// Poller HEADs one base tag every Interval (± Jitter), backing off
// exponentially after errors up to MaxBackoff and waiting at least as long
// as a 429's Retry-After. OnChange gets each new digest (not the first one
// seen when Initial is empty).
type Poller struct {
	Tag        string
	Header     Header
	Interval   time.Duration
	Jitter     float64
	MaxBackoff time.Duration
	// Initial is the digest known before the first poll (from the store).
	Initial  string
	OnChange func(digest string)
	OnError  func(err error, wait time.Duration)
	// Sleep waits or returns false when ctx ends (tests replace it).
	Sleep func(ctx context.Context, d time.Duration) bool
	// Rand returns a float in [0,1) (tests replace it).
	Rand func() float64
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// NextWait computes the wait before the next HEAD: the interval with
// jitter after success; after n consecutive failures, interval×2^n capped
// at MaxBackoff, and never shorter than a 429's Retry-After.
func (p *Poller) NextWait(failures int, err error) time.Duration {
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	wait := p.Interval
	if failures > 0 {
		for i := 0; i < failures && wait < p.MaxBackoff; i++ {
			wait *= 2
		}
		wait = min(wait, p.MaxBackoff)
	}
	if p.Jitter > 0 {
		wait = time.Duration(float64(wait) * (1 + p.Jitter*(2*rnd()-1)))
	}
	var rl *RateLimitError
	if errors.As(err, &rl) && rl.RetryAfter > wait {
		wait = rl.RetryAfter
	}
	return max(wait, time.Millisecond)
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	sleep := p.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	last := p.Initial
	failures := 0
	// Start at a random point of the interval, so that many tags do not
	// HEAD the registry in lockstep.
	first := p.Interval
	if p.Jitter > 0 {
		rnd := p.Rand
		if rnd == nil {
			rnd = rand.Float64
		}
		first = time.Duration(float64(p.Interval) * p.Jitter * rnd())
	}
	if !sleep(ctx, max(first, time.Millisecond)) {
		return
	}
	for {
		d, err := p.Header.Head(ctx, p.Tag)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait := p.NextWait(failures, err)
			if p.OnError != nil {
				p.OnError(err, wait)
			}
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		if d != last {
			if last != "" && p.OnChange != nil {
				p.OnChange(d)
			}
			last = d
		}
		if !sleep(ctx, p.NextWait(0, nil)) {
			return
		}
	}
}
