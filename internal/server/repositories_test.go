package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store"
)

// A vulnerable digest promoted by copy from dev to prod is affected under
// both repositories, and a fixed image pushed to prod only counts as the
// fixed image built (the patch latency follows every repository).
func TestVulnerabilityUnderEveryRepository(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st.SetClock(func() time.Time { now = now.Add(time.Minute); return now })
	for _, im := range []store.Image{
		{Digest: vulnDigest, Registry: "reg.example", Repository: "reg.example/dev/app"},
		{Digest: vulnDigest, Registry: "reg.example", Repository: "reg.example/prod/app"},
		{Digest: fixedDigest, Registry: "reg.example", Repository: "reg.example/prod/app"},
	} {
		if _, err := st.PutImage(ctx, im); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetTag(ctx, "reg.example/prod/app", "1", vulnDigest); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveFindings(ctx, vulnDigest, []store.Finding{{ID: "CVE-2026-0001", Package: "openssl", Version: "3.0.1", Fixed: "3.0.2", Severity: "HIGH"}}, store.EventScan); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveFindings(ctx, fixedDigest, nil, store.EventScan); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	(&API{Store: st, OpenReads: true}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/vulnerabilities/CVE-2026-0001", nil))
	if rec.Code != 200 {
		t.Fatalf("GET vulnerability: %d %s", rec.Code, rec.Body)
	}
	var v Vulnerability
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range v.Images {
		tag := ""
		if len(im.Tags) > 0 {
			tag = ":" + im.Tags[0]
		}
		got = append(got, im.Repository+tag+"@"+im.Digest[:11])
	}
	if diff := cmp.Diff([]string{"reg.example/dev/app@sha256:aaaa", "reg.example/prod/app:1@sha256:aaaa"}, got); diff != "" {
		t.Errorf("affected images (-want +got):\n%s", diff)
	}
	fixed, err := st.Image(ctx, fixedDigest)
	if err != nil {
		t.Fatal(err)
	}
	if !v.PatchLatency.FixedImageBuilt.Equal(fixed.ScannedAt) {
		t.Errorf("fixed image built %v; want the prod fix's scan, %v", v.PatchLatency.FixedImageBuilt, fixed.ScannedAt)
	}
}
