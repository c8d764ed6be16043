package server

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store"
)

// The timeline tells the base's rebuild from the application's: a new
// digest in the repository the affected app is built on is "base rebuilt",
// a new app digest (dated by drydock's rebuild event, recorded with its
// role) is "app rebuilt", and the last pod moving off is "rolled out";
// each step's latency is from the step before.
func TestTimelineBaseThenApp(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	now := t0
	st.SetClock(func() time.Time { return now })
	d := func(c byte) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c
		}
		return "sha256:" + string(b)
	}
	b1, b2, a1, a2, other := d('1'), d('2'), d('3'), d('4'), d('5')
	vuln := []store.Finding{{ID: "CVE-2026-1000", Package: "libfoo", Version: "1", Fixed: "2", Severity: "HIGH", FixPath: "base"}}
	put := func(digest, repo, baseName, baseDigest string, fs []store.Finding) {
		t.Helper()
		if _, err := st.PutImage(ctx, store.Image{Digest: digest, Registry: "reg.example", Repository: repo, BaseName: baseName, BaseDigest: baseDigest}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SaveFindings(ctx, digest, fs, store.EventScan); err != nil {
			t.Fatal(err)
		}
	}
	// An unrelated image of another repository, scanned later, is no fix.
	put(b1, "reg.example/os/debian", "", "", vuln)
	put(a1, "reg.example/team/app", "reg.example/os/debian:12", b1, vuln)
	wl := store.Workload{Cluster: "prod", Namespace: "shop", Kind: "Deployment", Name: "app", Container: "app", Image: "reg.example/team/app:1", Digest: a1}
	if _, _, err := st.SetWorkload(ctx, wl); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(time.Hour)
	put(b2, "reg.example/os/debian", "", "", nil)
	now = t0.Add(150 * time.Minute)
	if err := st.AddEvent(ctx, store.Event{Kind: store.EventRebuild, Digest: a2, Role: store.RoleApp, Detail: "app: rebuild done"}); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(3 * time.Hour)
	put(a2, "reg.example/team/app", "reg.example/os/debian:12", b2, nil)
	put(other, "reg.example/team/unrelated", "", "", nil)
	now = t0.Add(5 * time.Hour)
	wl.Digest = a2
	if _, _, err := st.SetWorkload(ctx, wl); err != nil {
		t.Fatal(err)
	}

	fs, err := st.Affected(ctx, "CVE-2026-1000")
	if err != nil {
		t.Fatal(err)
	}
	images, err := st.ImagesByDigest(ctx, []string{a1, b1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := patchLatency(ctx, st, "CVE-2026-1000", fs, images, false)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Step, State       string
		At                time.Time
		Seconds, SinceFix float64
	}
	var got []row
	for _, s := range l.Timeline {
		got = append(got, row{s.Step, s.State, s.At, s.Seconds, s.SinceFix})
	}
	want := []row{
		{StepFixAvailable, StepDone, t0, 0, 0},
		{StepBaseRebuilt, StepDone, t0.Add(time.Hour), 3600, 3600},
		{StepAppRebuilt, StepDone, t0.Add(150 * time.Minute), 5400, 9000},
		{StepRolledOut, StepDone, t0.Add(5 * time.Hour), 9000, 18000},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}

	// The vulnerability page renders the steps with their latencies.
	ui, err := NewUI(&API{Store: st, OpenReads: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/vulnerabilities/CVE-2026-1000", nil))
	html := rec.Body.String()
	for _, w := range []string{
		`data-step="base-rebuilt" data-state="done"`, "Base image rebuilt</strong>: 2026-03-01 09:00:00Z", "(step took 1h00m; 1h00m after the fix)",
		`data-step="app-rebuilt" data-state="done"`, "Application image rebuilt</strong>: 2026-03-01 10:30:00Z", "(step took 1h30m; 2h30m after the fix)",
		`data-step="rolled-out" data-state="done"`, "(step took 2h30m; 5h00m after the fix)",
	} {
		if !strings.Contains(html, w) {
			t.Errorf("vulnerability page (%d) lacks %q", rec.Code, w)
		}
	}
}

// A vulnerability in the application's own layers: its base cannot fix it,
// so the base step is not applicable; the app's rebuild is pending while a
// pod still runs it.
func TestTimelineAppOnlyPending(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a1 := "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	if _, err := st.PutImage(ctx, store.Image{Digest: a1, Registry: "reg.example", Repository: "reg.example/team/app", BaseName: "reg.example/os/debian:12"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveFindings(ctx, a1, []store.Finding{{ID: "GHSA-1", Package: "p", Version: "1", Fixed: "2", Severity: "HIGH", FixPath: "app"}}, store.EventScan); err != nil {
		t.Fatal(err)
	}
	fs, _ := st.Affected(ctx, "GHSA-1")
	images, _ := st.ImagesByDigest(ctx, []string{a1})
	l, err := patchLatency(ctx, st, "GHSA-1", fs, images, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range l.Timeline {
		got = append(got, s.Step+"="+s.State)
	}
	want := []string{"fix-available=done", "base-rebuilt=not-applicable", "app-rebuilt=pending", "rolled-out=pending"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
}

// Each step's latency is from the latest step done before it; an app
// rebuilt before its base counts from the fix; nothing counts before the
// fix or while it is unknown.
func TestTimelineSteps(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	h := func(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }
	type row struct {
		Step, State       string
		Seconds, SinceFix float64
	}
	for _, tc := range []struct {
		name string
		l    PatchLatency
		base bool
		want []row
	}{
		{"app before base", PatchLatency{FixAvailable: t0, BaseRebuilt: h(2), AppRebuilt: h(1), LastPodOff: h(3)}, true, []row{
			{StepFixAvailable, StepDone, 0, 0}, {StepBaseRebuilt, StepDone, 7200, 7200},
			{StepAppRebuilt, StepDone, 3600, 3600}, {StepRolledOut, StepDone, 3600, 10800}}},
		{"rebuilt before the fix was known", PatchLatency{FixAvailable: h(2), AppRebuilt: h(1), StillRunning: true}, false, []row{
			{StepFixAvailable, StepDone, 0, 0}, {StepBaseRebuilt, StepNotApplicable, 0, 0},
			{StepAppRebuilt, StepDone, 0, 0}, {StepRolledOut, StepPending, 0, 0}}},
		{"no fix yet", PatchLatency{StillRunning: true}, true, []row{
			{StepFixAvailable, StepPending, 0, 0}, {StepBaseRebuilt, StepPending, 0, 0},
			{StepAppRebuilt, StepPending, 0, 0}, {StepRolledOut, StepPending, 0, 0}}},
	} {
		var got []row
		for _, s := range timeline(tc.l, tc.base, true, true) {
			got = append(got, row{s.Step, s.State, s.Seconds, s.SinceFix})
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
