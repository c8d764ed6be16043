// Package attest signs and verifies drydock verdicts: an in-toto Statement
// v1 whose predicate summarises a scan and its policy outcome, in a DSSE
// envelope signed with an ECDSA P-256 key, stored next to the image as an
// OCI 1.1 referrer (with the referrers tag schema on registries without the
// referrers API).
//
// The admission webhook's entry point is VerifyImage: given an image digest
// and a Verifier holding the trusted public keys, it returns the newest
// valid verdict or an error that wraps one of the sentinels below. It costs
// one referrers listing plus one manifest fetch per verdict examined (the
// envelope is embedded in the manifest), newest first, stopping at the first
// that passes.
//
// Signatures made by cosign with a key (the "sha256-<hex>.sig" tag of
// simple-signing layers, and Sigstore bundle referrers) are verified too
// when WithCosign is given: see cosign.go. Transparency-log entries and
// certificates (keyless signing) are not checked; only key-based signatures
// count.
//
// Keys are cosign-compatible files: "ENCRYPTED SIGSTORE PRIVATE KEY" PEM
// (scrypt + NaCl secretbox), a plain PKCS#8 "PRIVATE KEY", and a PKIX
// "PUBLIC KEY".
package attest

import (
	"errors"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Media types and identifiers of a drydock verdict.
const (
	// PredicateType is the in-toto predicate type of a drydock verdict.
	PredicateType = "https://drydock.dev/verdict/v1"
	// StatementType is the in-toto Statement v1 _type.
	StatementType = "https://in-toto.io/Statement/v1"
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// ArtifactType is the artifactType of a verdict referrer manifest.
	ArtifactType = "application/vnd.dev.drydock.verdict.v1+json"
	// EnvelopeMediaType is the media type of the layer holding the envelope.
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"
	// AnnotationResult on a verdict manifest is "pass" or "fail", so that a
	// listing shows outcomes without fetching each verdict.
	AnnotationResult = "dev.drydock.verdict.result"
	// AnnotationCreated is the OCI creation-time annotation (RFC 3339).
	AnnotationCreated = "org.opencontainers.image.created"
)

// Policy results recorded in a verdict.
const (
	ResultPass = "pass"
	ResultFail = "fail"
)

// Sentinel errors callers branch on (with errors.Is). VerifyImage wraps
// ErrNoVerdict together with the reasons each candidate was rejected, so
// errors.Is(err, ErrExpired) is true when the only verdicts found were
// stale.
var (
	// ErrNoVerdict means no verdict satisfied the checks.
	ErrNoVerdict = errors.New("no valid verdict")
	// ErrBadSignature means a signature from a trusted key id did not verify
	// (the payload was changed after signing, or the signature is corrupt).
	ErrBadSignature = errors.New("signature does not verify")
	// ErrUntrustedKey means the signature was not made by any trusted key.
	ErrUntrustedKey = errors.New("signed by an untrusted key")
	// ErrSubjectMismatch means the statement is about another image.
	ErrSubjectMismatch = errors.New("statement subject does not match the image digest")
	// ErrExpired means the verdict is older than the maximum age (or dated
	// in the future).
	ErrExpired = errors.New("verdict expired")
	// ErrPolicyFailed means the verdict is valid but records a failed
	// policy, and a pass was required.
	ErrPolicyFailed = errors.New("verdict records a failed policy")
	// ErrMalformed means an envelope, statement, manifest or bundle could
	// not be decoded, or has the wrong type.
	ErrMalformed = errors.New("malformed attestation")
	// ErrBadPassphrase means an encrypted private key did not decrypt.
	ErrBadPassphrase = errors.New("wrong passphrase or corrupt key")
)

// Limits on what is read from a registry, so that a hostile referrer cannot
// make a verifier read without bound.
const (
	maxBlobSize   = 4 << 20
	maxCandidates = 50
	// embedLimit is the largest envelope embedded in the manifest's layer
	// descriptor ("data"), saving verifiers a blob fetch.
	embedLimit = 64 << 10
	// clockSkew is how far in the future a verdict's time may be.
	clockSkew = 5 * time.Minute
)

type options struct {
	remote      []remote.Option
	maxAge      time.Duration
	requirePass bool
	cosign      bool
	now         func() time.Time
}

// Option configures Push, Attest, VerifyImage and VerifyAll.
type Option func(*options)

// WithRemoteOptions passes registry options (auth, transport, context is
// set from the ctx argument) to go-containerregistry.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) { o.remote = append(o.remote, opts...) }
}

// WithMaxAge rejects verdicts older than d (0, the default, accepts any
// age). Cosign signatures carry no trusted time, so they never satisfy a
// maximum age.
func WithMaxAge(d time.Duration) Option { return func(o *options) { o.maxAge = d } }

// WithRequirePass accepts only verdicts whose policy result is "pass".
// Cosign signatures carry no policy result, so they never satisfy it.
func WithRequirePass(b bool) Option { return func(o *options) { o.requirePass = b } }

// WithCosign also looks for cosign key-based signatures: the
// "sha256-<hex>.sig" tag and Sigstore bundle referrers.
func WithCosign(b bool) Option { return func(o *options) { o.cosign = b } }

// WithNow sets the clock (tests).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

func makeOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
