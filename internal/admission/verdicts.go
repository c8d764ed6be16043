package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/registryauth"
)

// DefaultMaxVerdictAge is how old the deciding verdict may be when
// Config.MaxVerdictAge is zero: a week. The verdict's age bounds two things
// nothing else does: how long a verdict judged against an old vulnerability
// database keeps admitting, and how long a repository writer who deletes
// the newest verdict (a newer FAIL) can fall back on the one before it. A
// week leaves room for a weekly re-attest job (drydock attest --inventory
// re-matches a saved inventory without pulling the image) and for weekend
// rescheduling; daily re-attestation is recommended.
const DefaultMaxVerdictAge = 7 * 24 * time.Hour

// maxVerdictAge is the configured limit; 0 means no limit.
func (s *Server) maxVerdictAge() time.Duration {
	switch a := s.cfg.MaxVerdictAge; {
	case a == 0:
		return DefaultMaxVerdictAge
	case a < 0:
		return 0
	default:
		return a
	}
}

// verdictTooOld returns why a verified verdict is too old to admit, or "".
// It is checked on every request, after the cache, so a cached verdict
// stops admitting the moment it ages out.
func (s *Server) verdictTooOld(vd *Verdict) string {
	limit := s.maxVerdictAge()
	if limit <= 0 || vd == nil {
		return ""
	}
	if vd.Created.IsZero() {
		return fmt.Sprintf("the verdict has no signed time (one younger than %s is required)", limit)
	}
	if age := time.Since(vd.Created); age > limit {
		return fmt.Sprintf("the verdict was signed %s, %s ago, older than the maximum verdict age %s: re-attest the image",
			vd.Created.UTC().Format(time.RFC3339), age.Round(time.Minute), limit)
	}
	return ""
}

// AttestVerifier is the Verifier over drydock's signed verdicts
// (internal/attest): the verdict that decides under attest's rule (the
// newest per trusted key by signed time; any key's failing word wins), with
// its recorded result. A verdict that records no policy decision has Result
// "none" and does not pass.
type AttestVerifier struct {
	Keys *attest.Keys
	// Options carry registry access and the clock skew; the maximum age
	// is the webhook's (Config.MaxVerdictAge), checked on every request.
	Options []attest.Option
}

var _ Verifier = (*AttestVerifier)(nil)

// Verify implements Verifier.
func (v *AttestVerifier) Verify(ctx context.Context, d name.Digest) (*Verdict, error) {
	opts := v.Options
	if kc := registryauth.KeychainFrom(ctx); kc != nil {
		// The workload's credentials, after the defaults they replace.
		opts = append(slices.Clip(opts), attest.WithRemoteOptions(remote.WithAuthFromKeychain(kc)))
	}
	vd, err := attest.VerifyImage(ctx, d, v.Keys, opts...)
	if err != nil {
		if errors.Is(err, attest.ErrNoVerdict) {
			// The webhook names the image already: drop attest's prefix.
			msg := strings.TrimPrefix(err.Error(), "attest: "+d.String()+": ")
			return nil, fmt.Errorf("%w: %s", ErrNotVerified, msg)
		}
		return nil, err
	}
	out := &Verdict{Digest: d.DigestStr(), KeyID: vd.KeyID, Created: vd.Created, Result: attest.ResultFail}
	if st := vd.Statement; st != nil {
		p := st.Predicate
		out.Result, out.Policy, out.Findings, out.Counts = p.Outcome(), p.Policy.Name, p.Findings, p.Counts
		out.BaseName, out.BaseDigest = p.Image.BaseName, p.Image.BaseDigest
		for _, f := range p.Details {
			out.Details = append(out.Details, FindingDetail{
				ID: f.ID, Severity: f.Severity, FixPath: f.FixPath, Aliases: f.Aliases, FixedVersions: f.Fixed,
				Score: f.Score, Package: f.Package, Version: f.Version, PkgType: f.Type,
			})
		}
	}
	return out, nil
}
