// Package admission is drydock's Kubernetes admission webhook: an HTTP
// adapter that takes admission.k8s.io/v1 AdmissionReview requests for Pods
// and the workload kinds that create them, checks every container image
// (containers, init containers, ephemeral containers) through a Verifier
// (signed verdicts) and an Evaluator (policy), and answers with an
// AdmissionResponse.
//
// Two handlers share one decision core:
//
//   - /mutate pins images: each tag reference is resolved through the
//     registry and rewritten, with a JSON patch, to "repo:tag@sha256:…".
//     The tag is kept for people reading the object; the container runtime
//     pulls by the digest, so what was verified is what runs. It never
//     denies (except a malformed request): deciding is /validate's job, so
//     warnings are not reported twice.
//   - /validate decides: for each image it verifies the verdict of its
//     digest, evaluates the policy with the request's facts, and allows,
//     denies (enforce), admits with warnings (warn) or admits and counts
//     (audit). The apiserver calls validating webhooks after all mutating
//     ones, on the object as it will be stored, so an image still without a
//     digest there is one /mutate could not pin: it is never allowed (what
//     was checked might not be what runs), and the denial says why.
//
// Work per review is bounded: at most Config.MaxImages distinct images per
// object, Config.ReviewConcurrency checked at once, Config.RegistryConcurrency
// registry calls at once per registry host across all reviews, the whole
// review within Config.RequestTimeout, and answers list a few images and
// count the rest.
//
// Verification results are cached per (digest, verifier identity) in a
// bounded LRU with a TTL, positive and negative (a definitive "no valid
// verdict") alike; operational errors (registry unreachable, timeouts) are
// never cached. The Evaluator runs on every request, cache hit or not, so
// rules that depend on the namespace, labels or kind are never skipped.
//
// On UPDATE only images that are new or changed since the old object are
// checked: the others were admitted before, and re-checking them would let
// an expired verdict block unrelated updates (finalizers, labels, scale).
//
// Which verdict counts is attest's rule (see AttestVerifier): only signed
// times order verdicts, and any trusted key's newest failing verdict denies.
// The deciding verdict must also be younger than Config.MaxVerdictAge
// (DefaultMaxVerdictAge, a week, unless configured), with or without a
// policy; that age is checked on every request, cache hit or not.
//
// With Config.Credentials every registry call of a review is made with the
// workload's own pull credentials (its imagePullSecrets, else its
// ServiceAccount's, then drydock's), as the kubelet would pull. A verified
// verdict is public and cached per digest, but whether a workload may pull
// that digest is not: it is checked per (digest, credentials identity), the
// identity being a keyed hash of what the registry receives, and a
// workload whose credentials cannot read the image is denied with the
// registry's answer and where its credentials came from, whatever another
// workload's cached verification says.
//
// Failure is closed by default: an image whose verdict cannot be checked
// (registry unreachable, a verification error) or that could not be pinned
// is denied with a message saying why; FailOpen admits it with a warning
// instead (an unsigned or failing image is denied either way).
//
// The interfaces the package depends on (Verifier, Evaluator, Resolver,
// NamespaceLabeler) are defined here, where they are used; the command
// wires them to internal/attest, internal/policy, go-containerregistry and
// client-go.
package admission

import (
	"context"
	"errors"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/registryauth"
)

// Labels and defaults.
const (
	// LabelEnforce opts a namespace in (SelectOptIn).
	LabelEnforce = "drydock.dev/enforce"
	// LabelIgnore opts a namespace out (SelectOptOut).
	LabelIgnore = "drydock.dev/ignore"
	// LabelMode overrides the mode for a namespace: enforce, warn or audit.
	LabelMode = "drydock.dev/mode"
	// LabelNamespaceName is the label Kubernetes sets on every namespace.
	LabelNamespaceName = "kubernetes.io/metadata.name"
	// DefaultNamespace is where drydock itself runs; always exempt.
	DefaultNamespace = "drydock-system"
)

// Mode says what a deny turns into.
type Mode string

const (
	// ModeEnforce denies.
	ModeEnforce Mode = "enforce"
	// ModeWarn admits with AdmissionResponse warnings.
	ModeWarn Mode = "warn"
	// ModeAudit admits, logs and counts.
	ModeAudit Mode = "audit"
)

// ParseMode parses "enforce", "warn" or "audit".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeEnforce, ModeWarn, ModeAudit:
		return m, nil
	}
	return "", errors.New(`mode must be "enforce", "warn" or "audit", not "` + s + `"`)
}

// Selection says which namespaces are checked.
type Selection string

const (
	// SelectOptOut checks every namespace except those labelled
	// drydock.dev/ignore=true (the default).
	SelectOptOut Selection = "opt-out"
	// SelectOptIn checks only namespaces labelled drydock.dev/enforce=true.
	SelectOptIn Selection = "opt-in"
)

// ParseSelection parses "opt-out" or "opt-in".
func ParseSelection(s string) (Selection, error) {
	switch v := Selection(s); v {
	case SelectOptOut, SelectOptIn:
		return v, nil
	}
	return "", errors.New(`namespace selection must be "opt-out" or "opt-in", not "` + s + `"`)
}

// ErrNotVerified is wrapped by Verifier errors that are definitive: the
// registry answered and no verdict satisfied the checks (unsigned, untrusted
// key, bad signature, expired, wrong subject). Such results are cached and
// deny regardless of the failure policy. Any other Verifier error is
// operational (unreachable registry, timeout) and follows the failure
// policy.
var ErrNotVerified = errors.New("image not verified")

// Verdict is what the webhook needs from a verified attestation.
type Verdict struct {
	// Digest is the image digest the verdict is about.
	Digest string
	// Result is the policy result recorded when the verdict was signed:
	// "pass", "fail" or "none" (no policy decided; never admitted by
	// RequirePass).
	Result string
	// KeyID is the trusted key that verified the signature.
	KeyID string
	// Created is when the verdict was made.
	Created time.Time
	// Policy names the policy the verdict was made under.
	Policy string
	// Findings are the finding ids the verdict records.
	Findings []string
	// Details are the findings with severity, fix and package, when the
	// verdict records them (verdicts from older drydock versions do not).
	Details []FindingDetail
	// Counts are findings by severity rating.
	Counts map[string]int
	// BaseName and BaseDigest identify the image's base, when known.
	BaseName, BaseDigest string
}

// FindingDetail is one finding recorded in a verdict.
type FindingDetail struct {
	ID, Severity, FixPath     string
	Aliases, FixedVersions    []string
	Score                     float64
	Package, Version, PkgType string
}

// Verifier finds and verifies the signed verdict of an image digest.
type Verifier interface {
	// Verify returns the verdict, an error wrapping ErrNotVerified when
	// there is definitively none, or another error when it could not tell.
	Verify(ctx context.Context, digest name.Digest) (*Verdict, error)
}

// Resolver turns a tag reference into the digest it currently names.
type Resolver interface {
	Resolve(ctx context.Context, ref name.Reference) (name.Digest, error)
}

// AccessChecker proves that the credentials in ctx
// (registryauth.KeychainFrom) can pull a digest. An answer that they cannot
// wraps registryauth.ErrDenied. With Config.Credentials the Resolver must
// implement it.
type AccessChecker interface {
	CanRead(ctx context.Context, d name.Digest) error
}

// CredentialSource supplies a workload's registry credentials
// (registryauth.Kube over informers in the command).
type CredentialSource interface {
	Credentials(ctx context.Context, w registryauth.Workload) (registryauth.Credentials, error)
}

// NamespaceLabeler returns a namespace's labels (nil, nil when unknown).
type NamespaceLabeler interface {
	NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error)
}

// Kubernetes are the request's facts a policy may use.
type Kubernetes struct {
	Namespace       string
	Kind            string // Pod, Deployment, …
	Name            string // may be empty (generateName)
	Operation       string // CREATE, UPDATE
	Labels          map[string]string
	NamespaceLabels map[string]string
	User            string
	Groups          []string
}

// Request is one image to decide on.
type Request struct {
	// Image is the reference as written in the object.
	Image string
	// Container names the container ("init:setup", "app").
	Container string
	// Digest is the resolved digest.
	Digest name.Digest
	// Verdict is the verified verdict (never nil when Evaluate is called).
	Verdict    *Verdict
	Kubernetes Kubernetes
}

// Decision is an Evaluator's answer for one image.
type Decision struct {
	Allow bool
	// Reasons say why (for a deny, the rules that denied); they are shown
	// to the user.
	Reasons []string
}

// Evaluator applies the policy to one verified image in its request
// context. It is called on every request, also when the verification came
// from the cache.
type Evaluator interface {
	Evaluate(ctx context.Context, req Request) (Decision, error)
}

// RequirePass is the Evaluator used without a policy file: a verified
// verdict whose recorded result is "pass" is allowed.
type RequirePass struct{}

// Evaluate implements Evaluator.
func (RequirePass) Evaluate(_ context.Context, req Request) (Decision, error) {
	if req.Verdict != nil && req.Verdict.Result == "pass" {
		return Decision{Allow: true}, nil
	}
	if req.Verdict != nil && req.Verdict.Result == "none" {
		return Decision{Reasons: []string{"the verdict records no policy decision (attested with --no-policy or without a decision): a passing verdict is required"}}, nil
	}
	res := "missing"
	if req.Verdict != nil {
		res = req.Verdict.Result
	}
	return Decision{Reasons: []string{"verdict result is " + res + ", want pass"}}, nil
}
