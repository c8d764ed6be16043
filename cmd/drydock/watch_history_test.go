package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/freshness"
)

// TestWatchHistory writes a store the way watch does (through the store's
// own API) and reads it back with the binary.
func TestWatchHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "watch.db")
	st, err := freshness.OpenStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	const newBase = "r.example/base@sha256:1111111111111111111111111111111111111111111111111111111111111111"
	if err := st.RecordDetection(ctx, freshness.Detection{BaseTag: "r.example/base:12", Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111", Source: "poll"}); err != nil {
		t.Fatal(err)
	}
	rec := freshness.RebuildRecord{ID: freshness.RebuildID("app", "r.example/app@sha256:aa", newBase), Image: "app", Target: "r.example/app:1",
		Current: "r.example/app@sha256:aa", NewBase: newBase, NewBaseTag: "r.example/base:12", Kind: "rebase"}
	if _, err := st.Plan(ctx, rec); err != nil {
		t.Fatal(err)
	}
	st.Transition(ctx, rec.ID, freshness.StateRunning, "", "")
	st.RecordResult(ctx, rec.ID, "rebuild", true, "r.example/app@sha256:bb")
	st.Transition(ctx, rec.ID, freshness.StatePushed, "r.example/app@sha256:bb", "")
	st.RecordResult(ctx, rec.ID, "scan", false, "2 HIGH")
	st.Close()

	e := newEnv(t)
	out, errOut, code := e.run(t, "watch", "history", "--store", path)
	if code != 0 {
		t.Fatalf("watch history: exit %d: %s", code, errOut)
	}
	for _, w := range []string{"DETECTED (1)", "r.example/base:12", "poll", "REBUILDS (1)", "app", "pushed", "rebase", "rebuild ok, scan failed"} {
		if !strings.Contains(out, w) {
			t.Errorf("table does not show %q:\n%s", w, out)
		}
	}
	out, _, code = e.run(t, "watch", "history", "--store", path, "-f", "json")
	var doc struct {
		Detections []struct{ BaseTag string }
		Rebuilds   []struct {
			ID, State string
			Steps     []struct {
				Step string
				OK   bool
			}
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Detections) != 1 || len(doc.Rebuilds) != 1 ||
		doc.Rebuilds[0].ID != rec.ID || len(doc.Rebuilds[0].Steps) != 2 || doc.Rebuilds[0].Steps[1].OK {
		t.Errorf("json history: exit %d, %+v\n%s", code, doc, out)
	}
	out, errOut, code = e.run(t, "watch", "history", "--store", filepath.Join(t.TempDir(), "none.db"))
	if code != 2 || out != "" || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
