package dbdist

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/attest"
)

// ParseFrom parses an "oci://REGISTRY/REPOSITORY:TAG" (or @digest)
// database reference, as --db-from and "db update --from" take it.
func ParseFrom(from string, opts ...name.Option) (name.Reference, error) {
	s, ok := strings.CutPrefix(from, "oci://")
	if !ok {
		return nil, fmt.Errorf("%q: want oci://REGISTRY/REPOSITORY:TAG", from)
	}
	ref, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", from, err)
	}
	return ref, nil
}

// LoadKeys reads trusted public keys (PEM files) for database signatures.
func LoadKeys(paths []string) (*attest.Keys, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no key: the public key the database is signed with is required")
	}
	var pems [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		pems = append(pems, b)
	}
	return attest.ParseKeys(pems...)
}

// Syncer keeps the database at DBPath the one signed at Ref, for
// long-running processes (the server, the admission webhook): it pulls
// now and then every interval; a failed pull keeps the database that was
// installed and is reported, never half-applied.
type Syncer struct {
	DBPath  string
	Ref     name.Reference
	Keys    *attest.Keys
	Options []remote.Option

	mu sync.Mutex
	st SyncStatus
}

// SyncStatus is what the last pulls did.
type SyncStatus struct {
	Ref         string    `json:"ref"`
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	// Manifest is the artifact installed by the last successful pull.
	Manifest string `json:"manifest,omitempty"`
	// Error is why the last pull failed ("" when it did not).
	Error string `json:"error,omitempty"`
}

// Sync pulls once and records the outcome.
func (s *Syncer) Sync(ctx context.Context) (*PullResult, error) {
	res, err := Pull(ctx, s.DBPath, s.Ref, s.Keys, s.Options...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Ref = s.Ref.String()
	s.st.LastAttempt = time.Now()
	if err != nil {
		s.st.Error = err.Error()
		return nil, err
	}
	s.st.Error, s.st.LastSuccess, s.st.Manifest = "", s.st.LastAttempt, res.Manifest.DigestStr()
	return res, nil
}

// Status returns the outcome of the pulls so far.
func (s *Syncer) Status() SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Ref = s.Ref.String()
	return st
}

// Installed reports whether the database at DBPath is one a pull verified
// and installed (its record matches the file): a database put there by
// other means, or none, does not count.
func (s *Syncer) Installed() bool {
	in, err := readInstalled(s.DBPath)
	return err == nil && in.matches(s.DBPath)
}

// Run syncs now and then every interval (a failure is retried sooner, at
// most every interval/4 and at least every 10s) until ctx ends, telling
// report each outcome.
func (s *Syncer) Run(ctx context.Context, interval time.Duration, report func(*PullResult, error)) {
	for {
		res, err := s.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		if report != nil {
			report(res, err)
		}
		wait := interval
		if err != nil {
			wait = max(min(interval/4, time.Minute), 10*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
