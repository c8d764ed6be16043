package loop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/image"
	"github.com/drydock/drydock/internal/policy"
	"github.com/drydock/drydock/internal/report"
)

// SignOptions say who signs and how the registry is reached.
type SignOptions struct {
	Signer *attest.Signer
	// PushTo is the repository the verdict goes to (default: the image's).
	PushTo   string
	Insecure bool
	// Tool names the scanner in the verdict and the user agent.
	Tool attest.Scanner
	Now  func() time.Time
}

// SignAndPush makes the verdict for a scan report, signs it and pushes it as
// a referrer of the scanned image (and of its index, when it came through
// one). attest, rebuild, watch and server share it.
func SignAndPush(ctx context.Context, rep *report.ScanReport, ev attest.Evaluator, ref string, o SignOptions) (*attest.Predicate, []name.Digest, []string, error) {
	subjects, repo, err := VerdictSubjects(rep, o.PushTo, o.Insecure)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	pred, err := attest.PredicateFor(ctx, rep, ev, ref, o.Tool, now())
	if err != nil {
		return nil, nil, nil, err
	}
	var digests []string
	for _, s := range subjects {
		digests = append(digests, s.DigestStr())
	}
	st, err := attest.NewStatement(repo, digests, pred)
	if err != nil {
		return nil, nil, nil, err
	}
	ropts := image.RemoteOptions(ctx, image.WithInsecure(o.Insecure), image.WithUserAgent(o.Tool.Name+"/"+o.Tool.Version))
	_, pushed, err := attest.Attest(ctx, o.Signer, st, subjects, attest.WithRemoteOptions(ropts...))
	if err != nil {
		return nil, nil, nil, err
	}
	var refs []string
	for _, p := range pushed {
		refs = append(refs, fmt.Sprint(p))
	}
	return &pred, subjects, refs, nil
}

// VerdictSubjects names the digests the verdict is about and where it is
// pushed: the scanned image and, if it came from an index, the index too.
func VerdictSubjects(rep *report.ScanReport, pushTo string, insecure bool) ([]name.Digest, string, error) {
	src := rep.Inventory.Source
	if src.Digest == "" {
		return nil, "", errors.New("the source has no image digest (a root filesystem directory cannot be attested)")
	}
	repo := pushTo
	if repo == "" {
		if src.Kind != image.KindRegistry || src.Name == "" {
			return nil, "", fmt.Errorf("%s is not a registry image: name the repository to push the verdict to with --push-to", src.Ref)
		}
		repo = src.Name
	}
	var out []name.Digest
	for _, d := range []string{src.Digest, src.IndexDigest} {
		if d == "" {
			continue
		}
		r, err := image.ParseReference(repo+"@"+d, insecure)
		if err != nil {
			return nil, "", fmt.Errorf("--push-to: %w", err)
		}
		dg, ok := r.(name.Digest)
		if !ok {
			return nil, "", fmt.Errorf("--push-to %q: want a repository without tag", repo)
		}
		out = append(out, dg)
	}
	return out, out[0].Context().Name(), nil
}

// SeverityRank orders ratings; UNKNOWN ranks lowest so a threshold of
// unknown fails on any finding. -1 means not a rating
// (finding.SeverityRank).
func SeverityRank(r string) int { return finding.SeverityRank(r) }

// FailOn fails on a finding at or above the threshold, as
// "drydock scan --fail-on" does.
type FailOn struct{ Threshold string }

var _ attest.Evaluator = FailOn{}

func (e FailOn) Evaluate(_ context.Context, rep *report.ScanReport) (string, bool, []string, error) {
	var violations []string
	for _, f := range rep.Findings {
		// UNKNOWN fails the verdict, as it fails "scan --fail-on" by default.
		if finding.FailsAtOrAbove(f.Severity.Rating, e.Threshold, finding.UnknownFail) {
			violations = append(violations, fmt.Sprintf("%s (%s) in %s %s", f.ID, f.Severity.Rating, f.Package.Name, f.Package.Version))
		}
	}
	return "fail-on-" + strings.ToLower(e.Threshold), len(violations) == 0, violations, nil
}

// PolicyFile applies a drydock policy to the fresh scan: verdict rules are
// skipped (the verdict is what is being made), Kubernetes rules see no
// namespace.
type PolicyFile struct{ Policy *policy.Policy }

var _ attest.Evaluator = PolicyFile{}

func (e PolicyFile) Evaluate(ctx context.Context, rep *report.ScanReport) (string, bool, []string, error) {
	d, err := e.Policy.Evaluate(ctx, policy.InputFromReport(rep, time.Now()))
	if err != nil {
		return "", false, nil, err
	}
	var violations []string
	for _, v := range d.Violations {
		violations = append(violations, v.Rule+": "+v.Message)
	}
	return e.Policy.Name(), d.Allowed, violations, nil
}

// Fixed records an outcome decided outside drydock.
type Fixed struct {
	Passed bool
	Name   string
}

var _ attest.Evaluator = Fixed{}

func (e Fixed) Evaluate(context.Context, *report.ScanReport) (string, bool, []string, error) {
	n := e.Name
	if n == "" {
		n = "external"
	}
	return n, e.Passed, nil, nil
}
