package admission

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Bounds on the work one AdmissionReview can cause. An object may name any
// number of images, and every one may need registry round trips: without
// bounds one review could start thousands of requests, outlive the
// apiserver's timeout and grow the webhook's memory with each.
const (
	// DefaultMaxImages is how many distinct images one object may name;
	// more are denied without checking any. Real pods have a handful.
	DefaultMaxImages = 64
	// DefaultReviewConcurrency is how many images of one review are checked
	// at once.
	DefaultReviewConcurrency = 8
	// DefaultRegistryConcurrency is how many registry calls (a tag
	// resolution or a verdict verification, each a few sequential HTTP
	// requests) run at once against one registry host, across all reviews.
	DefaultRegistryConcurrency = 16

	// maxListed is how many per-image messages a denial or the warnings
	// list; the rest are counted ("… and 2,990 more").
	maxListed = 10
	// maxMessage bounds one per-image message: image references and
	// registry error texts are chosen by whoever wrote the object or runs
	// the registry.
	maxMessage = 400
)

// forEach calls f(i) for i in [0, n) on at most workers goroutines.
func forEach(n, workers int, f func(i int)) {
	workers = min(workers, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

// hostLimiter bounds the registry calls in flight per registry host,
// shared by all reviews. An entry lives only while a call holds or waits
// for one of its slots, so hosts named once do not accumulate.
type hostLimiter struct {
	max   int
	mu    sync.Mutex
	hosts map[string]*hostSlots
}

type hostSlots struct {
	ch    chan struct{}
	users int // holding or waiting
}

func newHostLimiter(max int) *hostLimiter {
	return &hostLimiter{max: max, hosts: map[string]*hostSlots{}}
}

// acquire waits for a slot of host until ctx ends; release returns it.
func (l *hostLimiter) acquire(ctx context.Context, host string) (release func(), err error) {
	l.mu.Lock()
	h := l.hosts[host]
	if h == nil {
		h = &hostSlots{ch: make(chan struct{}, l.max)}
		l.hosts[host] = h
	}
	h.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if h.users--; h.users == 0 {
			delete(l.hosts, host)
		}
		l.mu.Unlock()
	}
	select {
	case h.ch <- struct{}{}:
		return func() { <-h.ch; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("waiting for one of the %d concurrent calls allowed to registry %s (--registry-concurrency): %w", l.max, host, ctx.Err())
	}
}

// len is the number of hosts with calls holding or waiting (for tests).
func (l *hostLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}

// clip shortens s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// listed keeps the first maxListed messages and counts the rest in a last
// entry (prefix+"… and 2,990 more"), so a review naming thousands of images
// gets a short answer.
func listed(msgs []string, prefix string) []string {
	if len(msgs) <= maxListed {
		return msgs
	}
	return append(msgs[:maxListed:maxListed], prefix+"… and "+thousands(len(msgs)-maxListed)+" more")
}

// thousands formats n with comma separators: 2990 → "2,990".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
