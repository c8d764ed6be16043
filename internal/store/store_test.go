package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store"
	"github.com/drydock/drydock/internal/store/storetest"
)

// engines opens an empty store on each engine; every conformance test runs
// against both.
var engines = []struct {
	name string
	open func(t *testing.T) (*store.DB, func() (*store.DB, error))
}{
	{"sqlite", func(t *testing.T) (*store.DB, func() (*store.DB, error)) {
		p := filepath.Join(t.TempDir(), "server.sqlite")
		reopen := func() (*store.DB, error) { return store.OpenSQLite(context.Background(), p) }
		s, err := reopen()
		if err != nil {
			t.Fatal(err)
		}
		return s, reopen
	}},
	{"postgres", func(t *testing.T) (*store.DB, func() (*store.DB, error)) {
		u := storetest.PostgresURL(t)
		reopen := func() (*store.DB, error) { return store.OpenPostgres(context.Background(), u) }
		s, err := reopen()
		if err != nil {
			t.Fatal(err)
		}
		return s, reopen
	}},
}

func forEach(t *testing.T, f func(t *testing.T, s *store.DB, reopen func() (*store.DB, error))) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s, reopen := e.open(t)
			t.Cleanup(func() { s.Close() })
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s.SetClock(func() time.Time { clock = clock.Add(time.Second); return clock })
			f(t, s, reopen)
		})
	}
}

const (
	dA = "sha256:aaaa"
	dB = "sha256:bbbb"
	dC = "sha256:cccc"
)

func put(t *testing.T, s *store.DB, digest, repo string) {
	t.Helper()
	if _, err := s.PutImage(context.Background(), store.Image{Digest: digest, Registry: "reg.example", Repository: repo, Platform: "linux/amd64"}); err != nil {
		t.Fatal(err)
	}
}

func kinds(es []store.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind+":"+e.VulnID)
	}
	return out
}

func TestMigrationsAndReopen(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, reopen func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/app")
		if err := s.PutInventory(ctx, dA, []byte(`{"packages":[]}`)); err != nil {
			t.Fatal(err)
		}
		// A second open applies nothing again and keeps the data.
		s2, err := reopen()
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s2.Close()
		got, err := s2.Inventory(ctx, dA)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != `{"packages":[]}` {
			t.Errorf("inventory after reopen = %s", got)
		}
	})
}

func TestImagesAndTags(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		isNew, err := s.PutImage(ctx, store.Image{Digest: dA, Registry: "reg.example", Repository: "reg.example/app"})
		if err != nil || !isNew {
			t.Fatalf("first PutImage = %v, %v; want new", isNew, err)
		}
		isNew, err = s.PutImage(ctx, store.Image{Digest: dA, Registry: "reg.example", Repository: "reg.example/app", BaseName: "debian:12"})
		if err != nil || isNew {
			t.Fatalf("second PutImage = %v, %v; want not new", isNew, err)
		}
		for _, tag := range []string{"2", "1"} {
			if err := s.SetTag(ctx, "reg.example/app", tag, dA); err != nil {
				t.Fatal(err)
			}
		}
		im, err := s.Image(ctx, dA)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"1", "2"}, im.Tags); diff != "" {
			t.Errorf("tags (-want +got):\n%s", diff)
		}
		if im.BaseName != "debian:12" || im.Running || !im.ScannedAt.IsZero() {
			t.Errorf("image = %+v", im)
		}
		// A tag moves.
		put(t, s, dB, "reg.example/app")
		if err := s.SetTag(ctx, "reg.example/app", "2", dB); err != nil {
			t.Fatal(err)
		}
		im, _ = s.Image(ctx, dA)
		if diff := cmp.Diff([]string{"1"}, im.Tags); diff != "" {
			t.Errorf("tags after move (-want +got):\n%s", diff)
		}
		if _, err := s.Image(ctx, "sha256:none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing image: err = %v, want ErrNotFound", err)
		}
		if ok, err := s.Scanned(ctx, dA); ok || err != nil {
			t.Errorf("Scanned before scan = %v, %v", ok, err)
		}
	})
}

func TestInventoriesOncePerDigest(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		for _, d := range []string{dC, dA, dB} {
			put(t, s, d, "reg.example/app")
			if err := s.PutInventory(ctx, d, []byte(`{"digest":"`+d+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		// Stored once: a second put does not replace the first.
		if err := s.PutInventory(ctx, dA, []byte(`{"other":1}`)); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Inventory(ctx, dA)
		if string(got) != `{"digest":"`+dA+`"}` {
			t.Errorf("inventory = %s", got)
		}
		page1, err := s.InventoryDigests(ctx, "", 2)
		if err != nil {
			t.Fatal(err)
		}
		page2, _ := s.InventoryDigests(ctx, page1[len(page1)-1], 2)
		if diff := cmp.Diff([]string{dA, dB, dC}, append(page1, page2...)); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		if _, err := s.Inventory(ctx, "sha256:none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing inventory: err = %v", err)
		}
	})
}

var (
	fCrit  = store.Finding{ID: "DSA-1", Aliases: []string{"CVE-2024-1"}, Package: "openssl", Version: "3.0.1", Fixed: "3.0.2", Severity: "CRITICAL", FixPath: "base"}
	fLow   = store.Finding{ID: "GHSA-x", Package: "left-pad", Version: "1.0.0", Severity: "LOW", FixPath: "app"}
	fHighC = store.Finding{ID: "DSA-2", Aliases: []string{"CVE-2024-2"}, Package: "zlib", Version: "1.2", Fixed: "1.3", Severity: "HIGH"}
)

func TestFindingsDiffAndEvents(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/app")
		d, err := s.SaveFindings(ctx, dA, []store.Finding{fLow, fCrit}, store.EventScan)
		if err != nil {
			t.Fatal(err)
		}
		if !d.First || d.Changed() {
			t.Errorf("first scan diff = %+v; want first, nothing appeared", d)
		}
		im, _ := s.Image(ctx, dA)
		if diff := cmp.Diff(store.Counts{Critical: 1, Low: 1, Fixable: 1, Total: 2}, im.Counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		if im.ScannedAt.IsZero() {
			t.Error("ScannedAt not set")
		}
		// Re-match with the same result changes nothing and records nothing.
		before, _ := s.Events(ctx, store.EventFilter{})
		d, err = s.SaveFindings(ctx, dA, []store.Finding{fCrit, fLow}, store.EventRematch)
		if err != nil || d.Changed() {
			t.Fatalf("same re-match: %+v, %v", d, err)
		}
		after, _ := s.Events(ctx, store.EventFilter{})
		if len(after) != len(before) {
			t.Errorf("an unchanged re-match recorded events: %v", kinds(after))
		}
		// A database change: zlib appears, left-pad is withdrawn.
		d, err = s.SaveFindings(ctx, dA, []store.Finding{fCrit, fHighC}, store.EventRematch)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Appeared) != 1 || d.Appeared[0].ID != "DSA-2" || len(d.Disappeared) != 1 || d.Disappeared[0].ID != "GHSA-x" {
			t.Errorf("diff = %+v", d)
		}
		evs, _ := s.Events(ctx, store.EventFilter{Digest: dA})
		want := []string{"rematch:", "finding-disappeared:GHSA-x", "finding-appeared:DSA-2", "scan:"}
		if diff := cmp.Diff(want, kinds(evs)); diff != "" {
			t.Errorf("events newest first (-want +got):\n%s", diff)
		}
		got, _ := s.Findings(ctx, dA)
		var ids []string
		for _, f := range got {
			ids = append(ids, f.ID)
		}
		if diff := cmp.Diff([]string{"DSA-1", "DSA-2"}, ids); diff != "" {
			t.Errorf("findings worst first (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"CVE-2024-1"}, got[0].Aliases); diff != "" {
			t.Errorf("aliases (-want +got):\n%s", diff)
		}
		if _, err := s.SaveFindings(ctx, "sha256:none", nil, store.EventScan); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("findings of an unknown image: err = %v", err)
		}
	})
}

func TestAffectedByAlias(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/app")
		put(t, s, dB, "reg.example/other")
		s.SaveFindings(ctx, dA, []store.Finding{fCrit, fLow}, store.EventScan)
		s.SaveFindings(ctx, dB, []store.Finding{fCrit}, store.EventScan)
		for _, id := range []string{"CVE-2024-1", "DSA-1"} {
			got, err := s.Affected(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var digests []string
			for _, f := range got {
				digests = append(digests, f.Digest)
			}
			if diff := cmp.Diff([]string{dA, dB}, digests); diff != "" {
				t.Errorf("Affected(%s) (-want +got):\n%s", id, diff)
			}
		}
		if got, _ := s.Affected(ctx, "CVE-1999-0"); len(got) != 0 {
			t.Errorf("unknown id: %v", got)
		}
	})
}

func TestImageFilters(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/app")
		put(t, s, dB, "reg.example/other")
		put(t, s, dC, "reg.example/app")
		s.SaveFindings(ctx, dA, []store.Finding{fCrit}, store.EventScan)
		s.SaveFindings(ctx, dB, []store.Finding{fLow}, store.EventScan)
		s.SaveFindings(ctx, dC, nil, store.EventScan)
		if _, _, err := s.SetWorkload(ctx, store.Workload{Cluster: "c", Namespace: "ns", Kind: "Deployment", Name: "web", Container: "app", Image: "reg.example/other:1", Digest: dB}); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		for _, tc := range []struct {
			name string
			f    store.ImageFilter
			want []string
		}{
			{"all", store.ImageFilter{}, []string{dA, dB, dC}},
			{"repository", store.ImageFilter{Repository: "reg.example/app"}, []string{dA, dC}},
			{"severity high", store.ImageFilter{MinSeverity: "high"}, []string{dA}},
			{"severity low", store.ImageFilter{MinSeverity: "LOW"}, []string{dA, dB}},
			{"fixable", store.ImageFilter{Fixable: &yes}, []string{dA}},
			{"not fixable", store.ImageFilter{Fixable: &no}, []string{dB, dC}},
			{"running", store.ImageFilter{Running: &yes}, []string{dB}},
			{"not running", store.ImageFilter{Running: &no}, []string{dA, dC}},
			{"page", store.ImageFilter{After: dA, Limit: 1}, []string{dB}},
			{"registry", store.ImageFilter{Registry: "elsewhere"}, nil},
		} {
			got, err := s.Images(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ds []string
			for _, im := range got {
				ds = append(ds, im.Digest)
			}
			if diff := cmp.Diff(tc.want, ds); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
		n, err := s.VulnerableRunning(ctx, "LOW")
		if err != nil || n != 1 {
			t.Errorf("VulnerableRunning(LOW) = %d, %v; want 1", n, err)
		}
		counts, err := s.SeverityCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"critical": 1, "low": 1, "none": 1}, counts); diff != "" {
			t.Errorf("severity counts (-want +got):\n%s", diff)
		}
	})
}

func TestWorkloadsAndVerdicts(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		w := store.Workload{Cluster: "c", Namespace: "ns", Kind: "Deployment", Name: "web", Container: "app", Image: "app:1", Digest: dA}
		for i, tc := range []struct {
			digest      string
			wantChanged bool
			wantPrev    string
		}{{dA, true, ""}, {dA, false, dA}, {dB, true, dA}} {
			w.Digest = tc.digest
			changed, prev, err := s.SetWorkload(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.wantChanged || prev != tc.wantPrev {
				t.Errorf("step %d: SetWorkload = %v, %q; want %v, %q", i, changed, prev, tc.wantChanged, tc.wantPrev)
			}
		}
		ws, _ := s.Workloads(ctx, dB)
		if len(ws) != 1 || ws[0].Key() != "c/ns/Deployment/web/app" {
			t.Errorf("workloads of %s = %+v", dB, ws)
		}
		if err := s.DeleteWorkload(ctx, w); err != nil {
			t.Fatal(err)
		}
		if ws, _ := s.Workloads(ctx, ""); len(ws) != 0 {
			t.Errorf("after delete: %+v", ws)
		}
		evs, _ := s.Events(ctx, store.EventFilter{})
		if diff := cmp.Diff([]string{"stopped:", "running:", "stopped:", "running:"}, kinds(evs)); diff != "" {
			t.Errorf("workload events (-want +got):\n%s", diff)
		}
		// Paging newest first.
		page, _ := s.Events(ctx, store.EventFilter{Before: evs[1].ID, Limit: 2})
		if len(page) != 2 || page[0].ID != evs[2].ID {
			t.Errorf("page = %+v", page)
		}

		if _, err := s.Verdict(ctx, dA); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("no verdict yet: err = %v", err)
		}
		v := store.Verdict{Digest: dA, Result: "pass", Policy: "ci", Fingerprint: "f1", Ref: "reg.example/app@sha256:ffff", SignedAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
		if err := s.PutVerdict(ctx, v); err != nil {
			t.Fatal(err)
		}
		got, err := s.Verdict(ctx, dA)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, *got); diff != "" {
			t.Errorf("verdict (-want +got):\n%s", diff)
		}
	})
}

func TestMeta(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		if v, err := s.Meta(ctx, "k"); v != "" || err != nil {
			t.Errorf("unset = %q, %v", v, err)
		}
		for _, v := range []string{"1", "2"} {
			if err := s.SetMeta(ctx, "k", v); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Meta(ctx, "k"); got != v {
				t.Errorf("Meta = %q, want %q", got, v)
			}
		}
	})
}

// A re-match batch saves several images in one transaction with the same
// diffs and events as one SaveFindings each; an image no longer stored is
// skipped.
func TestSaveFindingsMany(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/team/a")
		put(t, s, dB, "reg.example/team/b")
		s.SaveFindings(ctx, dA, []store.Finding{fLow}, store.EventScan)
		s.SaveFindings(ctx, dB, []store.Finding{fCrit}, store.EventScan)
		diffs, err := s.SaveFindingsMany(ctx, []store.FindingsUpdate{
			{Digest: dA, Findings: []store.Finding{fLow, fCrit}},
			{Digest: "sha256:none"},
			{Digest: dB, Findings: []store.Finding{fCrit}},
		}, store.EventRematch)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]int
		for _, d := range diffs {
			got = append(got, [2]int{len(d.Appeared), len(d.Disappeared)})
		}
		if diff := cmp.Diff([][2]int{{1, 0}, {0, 0}, {0, 0}}, got); diff != "" {
			t.Errorf("appeared/disappeared per image (-want +got):\n%s", diff)
		}
		evs, _ := s.Events(ctx, store.EventFilter{Digest: dA, Kind: store.EventAppeared})
		if len(evs) != 1 || evs[0].VulnID != fCrit.ID {
			t.Errorf("finding-appeared events for %s = %+v; want one for %s", dA, evs, fCrit.ID)
		}
		fs, _ := s.Findings(ctx, dA)
		if len(fs) != 2 {
			t.Errorf("%d findings stored for %s; want 2", len(fs), dA)
		}
	})
}

// TestDigestInSeveralRepositories: a digest pushed to several repositories
// (a mirrored base, a promotion by copy, another registry) is one image,
// scanned once, listed under each repository with the tags it has there.
func TestDigestInSeveralRepositories(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		refs := []store.Image{
			{Digest: dA, Registry: "reg.example", Repository: "reg.example/dev/app"},
			{Digest: dA, Registry: "reg.example", Repository: "reg.example/prod/app"},
			{Digest: dA, Registry: "mirror.example", Repository: "mirror.example/app"},
			{Digest: dB, Registry: "reg.example", Repository: "reg.example/dev/app"},
		}
		var news []bool
		for _, im := range refs {
			isNew, err := s.PutImage(ctx, im)
			if err != nil {
				t.Fatal(err)
			}
			news = append(news, isNew)
			if err := s.SetTag(ctx, im.Repository, "v1", im.Digest); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff([]bool{true, false, false, true}, news); diff != "" {
			t.Errorf("PutImage new (-want +got):\n%s", diff)
		}
		// Moving dev's v1 to dB leaves dA untagged there but still in it.
		if err := s.SetTag(ctx, "reg.example/dev/app", "v1", dB); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveFindings(ctx, dA, []store.Finding{fCrit}, store.EventScan); err != nil {
			t.Fatal(err)
		}
		type row struct{ Digest, Registry, Repository, Tags string }
		rows := func(ims []store.Image) []row {
			var out []row
			for _, im := range ims {
				out = append(out, row{im.Digest, im.Registry, im.Repository, strings.Join(im.Tags, " ")})
				if im.Digest == dA && im.Counts.Critical != 1 {
					t.Errorf("%s in %s: counts %+v; want the digest's one critical finding", im.Digest, im.Repository, im.Counts)
				}
			}
			return out
		}
		all := []row{
			{dA, "mirror.example", "mirror.example/app", "v1"},
			{dA, "reg.example", "reg.example/dev/app", ""},
			{dA, "reg.example", "reg.example/prod/app", "v1"},
			{dB, "reg.example", "reg.example/dev/app", "v1"},
		}
		for _, tc := range []struct {
			name  string
			f     store.ImageFilter
			want  []row
			count int
		}{
			{"all", store.ImageFilter{}, all, 4},
			{"repository prod", store.ImageFilter{Repository: "reg.example/prod/app"}, all[2:3], 1},
			{"repository dev", store.ImageFilter{Repository: "reg.example/dev/app"}, []row{all[1], all[3]}, 2},
			{"registry", store.ImageFilter{Registry: "mirror.example"}, all[:1], 1},
			{"query by tag keeps the repository that has it", store.ImageFilter{Query: "v1", Registry: "reg.example"}, []row{all[2], all[3]}, 2},
			{"severity", store.ImageFilter{MinSeverity: "critical"}, all[:3], 3},
			{"sorted by repository", store.ImageFilter{Sort: "repository", Desc: true}, []row{all[2], all[1], all[3], all[0]}, 4},
			{"after a row of the digest", store.ImageFilter{After: dA, AfterRepository: "reg.example/dev/app", AfterRegistry: "reg.example"}, all[2:], 4},
			{"after the digest", store.ImageFilter{After: dA}, all[3:], 4},
		} {
			got, err := s.Images(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rows(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
			if n, err := s.CountImages(ctx, tc.f); err != nil || n != tc.count {
				t.Errorf("%s: CountImages = %d, %v; want %d", tc.name, n, err, tc.count)
			}
		}
		// Paging one row at a time visits every row once.
		var paged []store.Image
		f := store.ImageFilter{Limit: 1}
		for range 10 {
			page, err := s.Images(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			last := page[len(page)-1]
			f.After, f.AfterRepository, f.AfterRegistry = last.Digest, last.Repository, last.Registry
		}
		if diff := cmp.Diff(all, rows(paged)); diff != "" {
			t.Errorf("paged one row at a time (-want +got):\n%s", diff)
		}
		// Read by digest: the first repository, and every one.
		im, err := s.Image(ctx, dA)
		if err != nil {
			t.Fatal(err)
		}
		wantRefs := []store.Reference{
			{Registry: "mirror.example", Repository: "mirror.example/app", Tags: []string{"v1"}},
			{Registry: "reg.example", Repository: "reg.example/dev/app"},
			{Registry: "reg.example", Repository: "reg.example/prod/app", Tags: []string{"v1"}},
		}
		if im.Repository != "reg.example/dev/app" || im.Tags != nil {
			t.Errorf("Image(dA) = %s %v; want the first repository, reg.example/dev/app, with no tag left there", im.Repository, im.Tags)
		}
		if diff := cmp.Diff(wantRefs, im.Repositories); diff != "" {
			t.Errorf("Image(dA).Repositories (-want +got):\n%s", diff)
		}
		byDigest, err := s.ImagesByDigest(ctx, []string{dA})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantRefs, byDigest[dA].Repositories); diff != "" {
			t.Errorf("ImagesByDigest(dA).Repositories (-want +got):\n%s", diff)
		}
		inRepo, err := s.ImagesInRepositories(ctx, []string{"reg.example/prod/app", "mirror.example/app"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, im := range inRepo {
			got = append(got, im.Digest+" "+im.Repository)
		}
		sort.Strings(got)
		if diff := cmp.Diff([]string{dA + " mirror.example/app", dA + " reg.example/prod/app"}, got); diff != "" {
			t.Errorf("ImagesInRepositories (-want +got):\n%s", diff)
		}
		// Scanned once: one scan event for the digest.
		evs, err := s.Events(ctx, store.EventFilter{Digest: dA})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"scan:"}, kinds(evs)); diff != "" {
			t.Errorf("events of dA (-want +got):\n%s", diff)
		}
	})
}
