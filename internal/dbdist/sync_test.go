package dbdist

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The Syncer of the server and the webhook: a verified pull counts as
// installed; a later pull that fails (untrusted signer) keeps the database,
// and the failure is in the status; a database put there by other means
// does not count as installed.
func TestSyncer(t *testing.T) {
	ctx := context.Background()
	tr := newRegistry(t, true)
	good, other := newKey(t), newKey(t)
	tr.push(t, buildDB(t, map[string]int{"npm": 5}, "a"), "latest", good)
	ref, err := ParseFrom("oci://" + tr.host + "/security/vulndb:latest")
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "vulndb.sqlite")
	s := &Syncer{DBPath: local, Ref: ref, Keys: good.keys}
	if s.Installed() {
		t.Fatal("installed before any pull")
	}
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); !s.Installed() || st.Error != "" || st.LastSuccess.IsZero() || st.Manifest == "" {
		t.Fatalf("after a pull: installed %v, status %+v", s.Installed(), st)
	}
	want := fileDigest(t, local)

	time.Sleep(1100 * time.Millisecond)
	tr.push(t, buildDB(t, map[string]int{"npm": 6}, "b"), "latest", other)
	if _, err := s.Sync(ctx); err == nil {
		t.Fatal("a database signed by an untrusted key was pulled")
	}
	if st := s.Status(); !strings.Contains(st.Error, "no valid signature by a trusted key") || !s.Installed() {
		t.Errorf("after a failed pull: installed %v, status %+v", s.Installed(), st)
	}
	if fileDigest(t, local) != want {
		t.Error("a failed pull changed the database")
	}

	copyFile(t, buildDB(t, map[string]int{"npm": 7}, "c"), local)
	if s.Installed() {
		t.Error("a database copied in counts as a verified one")
	}
	for _, bad := range []string{tr.host + "/security/vulndb:latest", "oci://", "oci://UPPER/x:y"} {
		if _, err := ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q) accepted", bad)
		}
	}
}
