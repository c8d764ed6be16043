package freshness

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestStoreStateMachineAndRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "watch.sqlite")
	s, err := OpenStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := RebuildID("app", "r/app@sha256:1", "sha256:2")
	if id != RebuildID("app", "r/app@sha256:1", "sha256:2") || id == RebuildID("app", "r/app@sha256:1", "sha256:3") {
		t.Fatal("rebuild IDs are not a function of image, current and new base")
	}
	rec := RebuildRecord{ID: id, Image: "app", Target: "r/app:1", Current: "r/app@sha256:1", NewBase: "r/b@sha256:2", NewBaseTag: "r/b:1", Kind: "rebase"}
	got, err := s.Plan(ctx, rec)
	if err != nil || got.State != StatePlanned {
		t.Fatalf("plan: %+v %v", got, err)
	}
	if err := s.Transition(ctx, id, StatePushed, "", ""); !errors.Is(err, ErrTransition) {
		t.Errorf("planned → pushed: %v, want ErrTransition", err)
	}
	if err := s.Transition(ctx, id, StateRunning, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDetection(ctx, Detection{BaseTag: "r/b:1", Digest: "sha256:2", Source: "poll"}); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.SetBaseDigest(ctx, "r/b:1", "sha256:2"); err != nil || !changed {
		t.Fatalf("set base: %v %v", changed, err)
	}
	s.Close() // the crash

	s, err = OpenStore(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	un, err := s.Unfinished(ctx)
	if err != nil || len(un) != 1 || un[0].ID != id || un[0].State != StateRunning || un[0].Attempts != 1 {
		t.Fatalf("unfinished after restart = %+v, %v; want the running rebuild", un, err)
	}
	// Planning the same rebuild again keeps the record.
	again, _ := s.Plan(ctx, rec)
	if again.State != StateRunning {
		t.Errorf("re-plan reset state to %s", again.State)
	}
	if d, _ := s.BaseDigest(ctx, "r/b:1"); d != "sha256:2" {
		t.Errorf("base digest after restart = %q", d)
	}
	if changed, _ := s.SetBaseDigest(ctx, "r/b:1", "sha256:2"); changed {
		t.Error("same digest reported as a change")
	}
	for _, st := range []State{StateRunning, StatePushed, StateScanned, StateSigned, StateDone} {
		res := ""
		if st == StatePushed {
			res = "r/app@sha256:9"
		}
		if err := s.Transition(ctx, id, st, res, ""); err != nil {
			t.Fatalf("→ %s: %v", st, err)
		}
	}
	if err := s.Transition(ctx, id, StateRunning, "", ""); !errors.Is(err, ErrTransition) {
		t.Errorf("done → running: %v, want ErrTransition", err)
	}
	r, _ := s.Rebuild(ctx, id)
	if r.State != StateDone || r.Result != "r/app@sha256:9" || r.Attempts != 2 {
		t.Errorf("final record %+v", r)
	}
	if last, _ := s.LastDone(ctx, "app", "sha256:9"); last == nil || last.ID != id {
		t.Errorf("LastDone = %+v", last)
	}
	if un, _ := s.Unfinished(ctx); len(un) != 0 {
		t.Errorf("unfinished = %+v", un)
	}
	ds, _ := s.Detections(ctx)
	if len(ds) != 1 || ds[0].Source != "poll" {
		t.Errorf("detections = %+v", ds)
	}
	_ = s.RecordResult(ctx, id, "scan", true, "0 findings")
	if rs, _ := s.Results(ctx, id); len(rs) != 1 || rs[0].Step != "scan" {
		t.Errorf("results = %+v", rs)
	}
}
