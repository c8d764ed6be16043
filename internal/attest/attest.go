// Package attest signs and verifies drydock verdicts: an in-toto Statement
// v1 whose predicate summarises a scan and its policy outcome, in a DSSE
// envelope signed with an ECDSA P-256 key, stored next to the image as an
// OCI 1.1 referrer (with the referrers tag schema on registries without the
// referrers API).
//
// The admission webhook's entry point is VerifyImage: given an image digest
// and a Verifier holding the trusted public keys, it returns the verdict
// that decides (see Which verdict counts, below) or an error that wraps one
// of the sentinels below. It costs one referrers listing plus one manifest
// fetch per verdict-typed referrer (the envelope is embedded in the
// manifest), fetched a few at a time.
//
// # Which verdict counts
//
// Only signed data orders verdicts: the statement's own time
// (predicate.time), never the referrer manifest's annotations, which anyone
// who can push to the repository can rewrite. Every verdict referrer is
// examined; for each trusted key the newest validly signed verdict about the
// digest is that key's word, and older ones are superseded (a copy of an old
// PASS re-attached later is still old). The image passes only when no
// trusted key's newest verdict fails (or records no policy decision, or is
// dated in the future) and the newest passing one is within the maximum age.
// Signed times that tie are broken toward the failing verdict. VerifyAll
// reports every candidate with the same judgement, so "drydock verify" and
// the admission webhook cannot disagree.
//
// A writer who deletes the newest verdict (both the OCI referrers API and
// the tag schema let them) rolls the image back to the previous one; the
// maximum age bounds how long that previous verdict is honoured.
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
	// ResultNone records that no policy decided ("drydock attest
	// --no-policy"): the verdict carries the scan, never a pass. drydock
	// before this result existed rejects such a verdict as malformed, so it
	// cannot pass there either.
	ResultNone = "none"
)

// Policy names with a fixed meaning.
const (
	// PolicyNoPolicy is the policy name of a ResultNone verdict.
	PolicyNoPolicy = "no policy"
	// legacyPolicyNone is the name earlier drydock versions recorded, with
	// result "pass", when attest was given no decision at all. Such a
	// verdict is read as ResultNone: nothing was decided.
	legacyPolicyNone = "none"
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
	// ErrSuperseded marks a validly signed verdict that does not decide: a
	// newer verdict from the same key (or another trusted key's failing
	// one) does.
	ErrSuperseded = errors.New("superseded")
	// ErrTooManyReferrers means the digest has more verdict referrers than
	// a verifier examines; the image is not verified (failing closed rather
	// than judging from a subset).
	ErrTooManyReferrers = errors.New("too many verdict referrers")
	// ErrPolicyFailed means the verdict is valid but records a failed
	// policy, and a pass was required.
	ErrPolicyFailed = errors.New("verdict records a failed policy")
	// ErrMalformed means an envelope, statement, manifest or bundle could
	// not be decoded, or has the wrong type.
	ErrMalformed = errors.New("malformed attestation")
	// ErrBadPassphrase means an encrypted private key did not decrypt.
	ErrBadPassphrase = errors.New("wrong passphrase or corrupt key")
)

// Limits on what is read from a registry, so that hostile referrers cannot
// make a verifier read without bound. Referrers are filtered in order of
// cost: by media type and artifact type from the listing (free), then by the
// listed size (free), then by fetching the manifest and checking the
// signature of the embedded envelope (one small request each); only
// validly signed statements are decoded.
const (
	// maxBlobSize bounds an envelope or signature read from a blob.
	maxBlobSize = 4 << 20
	// MaxReferrerManifestSize bounds a referrer manifest (drydock's embed
	// at most embedLimit of envelope, about 90 KiB once base64-encoded).
	MaxReferrerManifestSize = 256 << 10
	// MaxExamined is the most verdict-typed referrer manifests fetched for
	// one digest; beyond it verification fails closed with
	// ErrTooManyReferrers. Duplicates and referrers of other types do not
	// count.
	MaxExamined = 1000
	// MaxBlobFetches is the most envelopes not embedded in their manifest
	// (each read from a blob of up to 4 MiB) fetched for one digest.
	MaxBlobFetches = 32
	// fetchConcurrency is how many referrer manifests are fetched at once.
	fetchConcurrency = 8
	// maxCosignLayers bounds the signatures read from a cosign .sig tag.
	maxCosignLayers = 50
	// embedLimit is the largest envelope embedded in the manifest's layer
	// descriptor ("data"), saving verifiers a blob fetch.
	embedLimit = 64 << 10
	// DefaultClockSkew is how far in the future a verdict's signed time may
	// be before it is rejected.
	DefaultClockSkew = 5 * time.Minute
)

type options struct {
	remote      []remote.Option
	maxAge      time.Duration
	skew        time.Duration
	requirePass bool
	cosign      bool
	now         func() time.Time
	// maxExamined is MaxExamined; tests lower it.
	maxExamined int
}

// Option configures Push, Attest, VerifyImage and VerifyAll.
type Option func(*options)

// WithRemoteOptions passes registry options (auth, transport, context is
// set from the ctx argument) to go-containerregistry.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) { o.remote = append(o.remote, opts...) }
}

// WithMaxAge rejects the deciding verdict when it was signed more than d
// ago (0, the default, accepts any age). It never changes which verdict
// decides: an expired FAIL is not replaced by an older PASS. Cosign
// signatures carry no trusted time, so they never satisfy a maximum age.
func WithMaxAge(d time.Duration) Option { return func(o *options) { o.maxAge = d } }

// WithClockSkew sets how far in the future a verdict's signed time may be
// (default DefaultClockSkew). A trusted key's newest verdict dated further
// ahead is rejected and the image does not pass: a verdict from the future
// would otherwise stay "newest" and outrank every later one.
func WithClockSkew(d time.Duration) Option { return func(o *options) { o.skew = d } }

// WithRequirePass accepts the deciding verdict only when its policy result
// is "pass" (not "fail", not "none").
// Cosign signatures carry no policy result, so they never satisfy it.
func WithRequirePass(b bool) Option { return func(o *options) { o.requirePass = b } }

// WithCosign also looks for cosign key-based signatures: the
// "sha256-<hex>.sig" tag and Sigstore bundle referrers.
func WithCosign(b bool) Option { return func(o *options) { o.cosign = b } }

// WithNow sets the clock (tests).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

func makeOptions(opts []Option) options {
	o := options{now: time.Now, skew: DefaultClockSkew, maxExamined: MaxExamined}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
