package attest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/report"
)

type stubEvaluator struct{}

func (stubEvaluator) Evaluate(_ context.Context, rep *report.ScanReport) (string, bool, []string, error) {
	return "no-critical", false, []string{"CVE-1 is critical"}, nil
}

func TestPredicateFor(t *testing.T) {
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := &report.ScanReport{
		Inventory: &inventory.Inventory{Source: inventory.Source{Digest: "sha256:aa", BaseName: "debian:12", BaseDigest: "sha256:bb"}},
		Findings: []match.Finding{
			{ID: "CVE-2", Severity: match.Severity{Rating: match.RatingHigh, Score: 7.5}, FixedVersions: []string{"1.1"}, FixPath: "app",
				InstalledVersion: "1.0", Package: inventory.Package{Name: "requests", Type: inventory.TypePyPI}},
			{ID: "CVE-1", Severity: match.Severity{Rating: match.RatingCritical}},
			{ID: "CVE-2", Severity: match.Severity{Rating: match.RatingHigh}, FixedVersions: []string{"1.1"}},
			{ID: "X-3", Severity: match.Severity{Rating: "weird"}},
		},
		DB: report.DBInfo{UpdatedAt: updated, Age: 90 * time.Minute, Sources: []string{"Debian: osv"}},
	}
	now := time.Date(2026, 1, 2, 5, 0, 0, 7654321, time.UTC)
	p, err := PredicateFor(context.Background(), rep, stubEvaluator{}, "reg/app:1", Scanner{Name: "drydock", Version: "1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := Predicate{
		Scanner:  Scanner{Name: "drydock", Version: "1"},
		Database: Database{UpdatedAt: &updated, AgeSeconds: 5400, Sources: []string{"Debian: osv"}},
		Counts:   map[string]int{"CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "LOW": 0, "NONE": 0, "UNKNOWN": 1},
		Fixable:  2,
		Findings: []string{"CVE-1", "CVE-2", "X-3"},
		Details: []FindingDetail{
			{ID: "CVE-2", Severity: "HIGH", Score: 7.5, Fixed: []string{"1.1"}, FixPath: "app", Package: "requests", Version: "1.0", Type: "pypi"},
			{ID: "CVE-1", Severity: "CRITICAL"},
			{ID: "CVE-2", Severity: "HIGH", Fixed: []string{"1.1"}},
			{ID: "X-3", Severity: "UNKNOWN"},
		},
		Policy: Policy{Name: "no-critical", Result: ResultFail, Violations: []string{"CVE-1 is critical"}},
		Time:   time.Date(2026, 1, 2, 5, 0, 0, 7000000, time.UTC),
		Image:  Image{Ref: "reg/app:1", Digest: "sha256:aa", BaseName: "debian:12", BaseDigest: "sha256:bb"},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("predicate (-want +got):\n%s", diff)
	}
}

// --no-policy records the scan under "no policy" with result none, which
// never passes.
func TestPredicateForNoPolicy(t *testing.T) {
	rep := &report.ScanReport{Inventory: &inventory.Inventory{Source: inventory.Source{Digest: "sha256:aa"}}}
	p, err := PredicateFor(context.Background(), rep, NoPolicy{}, "reg/app:1", Scanner{Name: "drydock"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if p.Policy.Name != PolicyNoPolicy || p.Policy.Result != ResultNone || p.Passed() || p.Outcome() != ResultNone {
		t.Errorf("policy = %+v, passed %v", p.Policy, p.Passed())
	}
}

type namedEvaluator string

func (n namedEvaluator) Evaluate(context.Context, *report.ScanReport) (string, bool, []string, error) {
	return string(n), true, nil, nil
}

// A policy named "none" would read as the legacy undecided verdict: refused.
func TestPredicateForReservedName(t *testing.T) {
	rep := &report.ScanReport{Inventory: &inventory.Inventory{Source: inventory.Source{Digest: "sha256:aa"}}}
	if _, err := PredicateFor(context.Background(), rep, namedEvaluator("none"), "reg/app:1", Scanner{}, time.Now()); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("policy named none: %v, want a refusal", err)
	}
	if p, err := PredicateFor(context.Background(), rep, namedEvaluator("prod"), "reg/app:1", Scanner{}, time.Now()); err != nil || !p.Passed() {
		t.Errorf("policy named prod: %+v, %v", p.Policy, err)
	}
}
