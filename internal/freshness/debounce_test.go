package freshness

import (
	"sync"
	"testing"
	"time"
)

func TestDebounceBurstFiresOnce(t *testing.T) {
	var mu sync.Mutex
	fired := map[string]int{}
	d := &Debouncer{Window: 100 * time.Millisecond, Fire: func(k string) { mu.Lock(); fired[k]++; mu.Unlock() }}
	for i := 0; i < 10; i++ {
		d.Trigger("base:12")
		time.Sleep(10 * time.Millisecond)
	}
	d.Trigger("other:1")
	time.Sleep(400 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if fired["base:12"] != 1 || fired["other:1"] != 1 {
		t.Errorf("fired = %v, want one per key", fired)
	}
}

func TestDebounceMaxWait(t *testing.T) {
	var mu sync.Mutex
	n := 0
	d := &Debouncer{Window: 50 * time.Millisecond, MaxWait: 120 * time.Millisecond, Fire: func(string) { mu.Lock(); n++; mu.Unlock() }}
	stop := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(stop) { // a stream with gaps shorter than Window
		d.Trigger("k")
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	d.Stop()
	mu.Lock()
	defer mu.Unlock()
	if n < 2 {
		t.Errorf("fired %d times in a 300ms stream with MaxWait 120ms, want at least 2", n)
	}
}
