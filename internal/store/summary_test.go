package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store"
)

// The queries behind the web UI (summary, vulnerability search, sorted and
// counted image pages) on both engines.
func TestSummarySearchAndPaging(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		put(t, s, dA, "reg.example/base")
		if _, err := s.PutImage(ctx, store.Image{Digest: dB, Registry: "reg.example", Repository: "reg.example/app",
			BaseName: "reg.example/base:1", BaseDigest: dC}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutImage(ctx, store.Image{Digest: dC, Registry: "reg.example", Repository: "reg.example/old_base"}); err != nil {
			t.Fatal(err)
		}
		// The base tag moved from dC to dA: dB's base is stale.
		if err := s.SetTag(ctx, "reg.example/base", "1", dA); err != nil {
			t.Fatal(err)
		}
		if err := s.SetTag(ctx, "reg.example/app", "v1_0", dB); err != nil {
			t.Fatal(err)
		}
		fs := []store.Finding{
			{ID: "GHSA-aaaa-bbbb-cccc", Aliases: []string{"CVE-2024-0001"}, Package: "p", Version: "1", Fixed: "2", Severity: "CRITICAL"},
			{ID: "DSA-1234-1", Aliases: []string{"CVE-2024-0002"}, Package: "q", Version: "1", Severity: "HIGH"},
			{ID: "PYSEC-2024-1", Package: "r", Version: "1", Fixed: "1.1", Severity: "LOW"},
		}
		if _, err := s.SaveFindings(ctx, dB, fs, store.EventScan); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveFindings(ctx, dA, nil, store.EventScan); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SetWorkload(ctx, store.Workload{Cluster: "c", Namespace: "n", Kind: "Deployment", Name: "app", Container: "app", Image: "reg.example/app:v1_0", Digest: dB}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutVerdict(ctx, store.Verdict{Digest: dB, Result: "fail", Policy: "default", Ref: "x"}); err != nil {
			t.Fatal(err)
		}
		sum, err := s.Summarize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		since := sum.SlowestOpen
		sum.SlowestOpen = nil
		want := &store.Summary{Images: 3, Scanned: 2, RunningWorkloads: 1, RunningImages: 1, StaleBases: 1, VerdictsMissing: 1,
			VerdictsFailing: 1, OpenFixableRunning: 1, Findings: map[string]store.FixSplit{
				"critical": {Fixable: 1}, "high": {NotFixable: 1}, "low": {Fixable: 1}}}
		if diff := cmp.Diff(want, sum); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		var ids []string
		for _, o := range since {
			ids = append(ids, o.ID)
			if o.Images != 1 || o.FixKnownSince.IsZero() {
				t.Errorf("slowest open %+v", o)
			}
		}
		if diff := cmp.Diff([]string{"GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1"}, ids); diff != "" {
			t.Errorf("slowest open ids (-want +got):\n%s", diff)
		}

		for _, tc := range []struct {
			q    string
			want []store.VulnMatch
		}{
			{"cve-2024-0002", []store.VulnMatch{{ID: "DSA-1234-1", Matched: "CVE-2024-0002", Images: 1}}},
			{"GHSA-aaaa", []store.VulnMatch{{ID: "GHSA-aaaa-bbbb-cccc", Matched: "GHSA-aaaa-bbbb-cccc", Images: 1}}},
			{"2024-%", []store.VulnMatch{}}, // % is literal
			{"nothing", []store.VulnMatch{}},
		} {
			got, err := s.SearchVulnerabilities(ctx, tc.q, 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("search %q (-want +got):\n%s", tc.q, diff)
			}
		}

		repos := func(f store.ImageFilter) []string {
			t.Helper()
			ims, err := s.Images(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, im := range ims {
				out = append(out, im.Repository+"/"+im.Verdict)
			}
			return out
		}
		for _, tc := range []struct {
			name  string
			f     store.ImageFilter
			want  []string
			total int
		}{
			{"by repository desc", store.ImageFilter{Sort: "repository", Desc: true}, []string{"reg.example/old_base/", "reg.example/base/", "reg.example/app/fail"}, 3},
			{"offset", store.ImageFilter{Sort: "repository", Offset: 1, Limit: 1}, []string{"reg.example/base/"}, 3},
			{"by critical", store.ImageFilter{Sort: "critical", Desc: true, Limit: 1}, []string{"reg.example/app/fail"}, 3},
			{"query a tag", store.ImageFilter{Query: "v1_"}, []string{"reg.example/app/fail"}, 1},
			{"query _ is literal", store.ImageFilter{Query: "e_b"}, nil, 0},
			{"query a repository", store.ImageFilter{Query: "old_base"}, []string{"reg.example/old_base/"}, 1},
			{"dependents", store.ImageFilter{BaseDigest: dC}, []string{"reg.example/app/fail"}, 1},
		} {
			if diff := cmp.Diff(tc.want, repos(tc.f)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
			if n, err := s.CountImages(ctx, tc.f); err != nil || n != tc.total {
				t.Errorf("%s: count = %d, %v; want %d", tc.name, n, err, tc.total)
			}
		}
	})
}

// The trend is sampled (not computed on read), keeps only the newest
// samples, and reads oldest first; event roles and the catch-up listing
// (After) round-trip on both engines.
func TestTrendAndEventRoles(t *testing.T) {
	forEach(t, func(t *testing.T, s *store.DB, _ func() (*store.DB, error)) {
		ctx := context.Background()
		if tr, err := s.Trend(ctx, 10); err != nil || len(tr) != 0 {
			t.Fatalf("empty trend = %v, %v", tr, err)
		}
		put(t, s, dA, "reg.example/app")
		if _, err := s.SaveFindings(ctx, dA, []store.Finding{
			{ID: "CVE-1", Package: "p", Version: "1", Fixed: "2", Severity: "HIGH"},
			{ID: "CVE-2", Package: "p", Version: "1", Fixed: "2", Severity: "CRITICAL"},
			{ID: "CVE-3", Package: "p", Version: "1", Severity: "CRITICAL"},
		}, store.EventScan); err != nil {
			t.Fatal(err)
		}
		var got []int
		sample := func() {
			t.Helper()
			p, err := s.SampleTrend(ctx, 3)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Value)
		}
		sample() // not running yet: 0
		if _, _, err := s.SetWorkload(ctx, store.Workload{Cluster: "c", Namespace: "n", Kind: "Deployment", Name: "a", Container: "a", Image: "x", Digest: dA}); err != nil {
			t.Fatal(err)
		}
		sample()
		sample()
		sample()
		if diff := cmp.Diff([]int{0, 2, 2, 2}, got); diff != "" {
			t.Errorf("samples (-want +got):\n%s", diff)
		}
		tr, err := s.Trend(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(tr) != 3 || !tr[0].At.Before(tr[2].At) || tr[0].Value != 2 {
			t.Errorf("trend kept = %+v; want the newest 3, oldest first", tr)
		}

		for _, e := range []store.Event{
			{Kind: store.EventRebuild, Digest: dB, Role: store.RoleBase, Detail: "base"},
			{Kind: store.EventRebuild, Digest: dC, Role: store.RoleApp, Detail: "app"},
		} {
			if err := s.AddEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.Events(ctx, store.EventFilter{Kind: store.EventRebuild})
		if err != nil {
			t.Fatal(err)
		}
		var roles []string
		for _, e := range evs {
			roles = append(roles, e.Digest+"="+e.Role)
		}
		if diff := cmp.Diff([]string{dC + "=app", dB + "=base"}, roles); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
		all, err := s.Events(ctx, store.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		after, err := s.Events(ctx, store.EventFilter{After: all[2].ID, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != 1 || after[0].ID != all[1].ID {
			t.Errorf("After %d = %+v; want the next event %d", all[2].ID, after, all[1].ID)
		}
	})
}
