package freshness

import (
	"sync"
	"time"
)

// Debouncer calls Fire(key) once per burst: after Window passes with no new
// Trigger for that key, or MaxWait after the burst's first trigger, so that
// a steady stream cannot postpone the work forever.
type Debouncer struct {
	Window  time.Duration
	MaxWait time.Duration // default 10 × Window
	Fire    func(key string)

	mu      sync.Mutex
	pending map[string]*burst
	stopped bool
}

type burst struct {
	timer *time.Timer
	first time.Time
}

// Trigger notes an event for key.
func (d *Debouncer) Trigger(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if d.Window <= 0 {
		go d.Fire(key)
		return
	}
	if d.pending == nil {
		d.pending = map[string]*burst{}
	}
	maxWait := d.MaxWait
	if maxWait <= 0 {
		maxWait = 10 * d.Window
	}
	now := time.Now()
	b := d.pending[key]
	if b == nil {
		b = &burst{first: now}
		d.pending[key] = b
		b.timer = time.AfterFunc(d.Window, func() { d.fire(key, b) })
		return
	}
	wait := d.Window
	if left := maxWait - now.Sub(b.first); left < wait {
		wait = max(left, 0)
	}
	b.timer.Reset(wait)
}

func (d *Debouncer) fire(key string, b *burst) {
	d.mu.Lock()
	if d.pending[key] != b || d.stopped {
		d.mu.Unlock()
		return
	}
	delete(d.pending, key)
	d.mu.Unlock()
	d.Fire(key)
}

// Stop drops pending bursts.
func (d *Debouncer) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	for k, b := range d.pending {
		b.timer.Stop()
		delete(d.pending, k)
	}
}
