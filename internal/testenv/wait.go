package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after d (give a
// loaded machine a generous d: 30-90 s).
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
