package attest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/report"
)

// Evaluator decides the policy outcome recorded in a verdict. It is the seam
// where internal/policy plugs in; until then the CLI passes a --fail-on
// threshold or an explicit --policy-result.
type Evaluator interface {
	Evaluate(ctx context.Context, rep *report.ScanReport) (name string, passed bool, violations []string, err error)
}

// NoPolicy is the Evaluator of a verdict made without a decision ("drydock
// attest --no-policy"): the verdict records the scan under the policy
// PolicyNoPolicy with ResultNone, which never passes.
type NoPolicy struct{}

// Evaluate implements Evaluator.
func (NoPolicy) Evaluate(context.Context, *report.ScanReport) (string, bool, []string, error) {
	return PolicyNoPolicy, false, nil, nil
}

// PredicateFor builds a verdict predicate from a scan report and the
// evaluator's outcome. ref is the image reference to record; now is the
// verdict time.
func PredicateFor(ctx context.Context, rep *report.ScanReport, ev Evaluator, ref string, scanner Scanner, now time.Time) (Predicate, error) {
	if rep == nil || rep.Inventory == nil {
		return Predicate{}, fmt.Errorf("attest: predicate: no scan report")
	}
	name, passed, violations, err := ev.Evaluate(ctx, rep)
	if err != nil {
		return Predicate{}, fmt.Errorf("attest: evaluate policy: %w", err)
	}
	if name == legacyPolicyNone && !isNoPolicy(ev) {
		return Predicate{}, fmt.Errorf("attest: policy name %q is reserved (earlier drydock versions recorded verdicts made without a decision under it, and they never pass): rename the policy", name)
	}
	p := Predicate{
		Scanner: scanner,
		Database: Database{
			AgeSeconds: int64(rep.DB.Age / time.Second),
			Sources:    append([]string{}, rep.DB.Sources...),
		},
		Counts:   map[string]int{},
		Findings: []string{},
		Policy:   Policy{Name: name, Result: ResultFail, Violations: append([]string{}, violations...)},
		Time:     now.UTC().Truncate(time.Millisecond),
		Image: Image{
			Ref:        ref,
			Digest:     rep.Inventory.Source.Digest,
			BaseName:   rep.Inventory.Source.BaseName,
			BaseDigest: rep.Inventory.Source.BaseDigest,
		},
	}
	switch {
	case isNoPolicy(ev):
		p.Policy.Name, p.Policy.Result = PolicyNoPolicy, ResultNone
	case passed:
		p.Policy.Result = ResultPass
	}
	if !rep.DB.UpdatedAt.IsZero() {
		t := rep.DB.UpdatedAt.UTC()
		p.Database.UpdatedAt = &t
	}
	for _, r := range []string{match.RatingCritical, match.RatingHigh, match.RatingMedium, match.RatingLow, match.RatingNone, match.RatingUnknown} {
		p.Counts[r] = 0
	}
	for _, f := range rep.Findings {
		r := f.Severity.Rating
		if _, ok := p.Counts[r]; !ok {
			r = match.RatingUnknown
		}
		p.Counts[r]++
		if len(f.FixedVersions) > 0 {
			p.Fixable++
		}
		p.Findings = append(p.Findings, f.ID)
		p.Details = append(p.Details, FindingDetail{
			ID: f.ID, Aliases: f.Aliases, Severity: r, Score: f.Severity.Score,
			Fixed: f.FixedVersions, FixPath: f.FixPath,
			Package: f.Package.Name, Version: f.InstalledVersion, Type: f.Package.Type,
		})
	}
	slices.Sort(p.Findings)
	p.Findings = slices.Compact(p.Findings)
	return p, nil
}

func isNoPolicy(ev Evaluator) bool {
	switch ev.(type) {
	case NoPolicy, *NoPolicy:
		return true
	}
	return false
}
