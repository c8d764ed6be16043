package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// emptyJSON is the OCI empty descriptor's content.
var emptyJSON = []byte("{}")

// Kinds of signed statements VerifyAll reports.
const (
	KindVerdict         = "drydock-verdict"
	KindCosignSignature = "cosign-signature"
	KindSigstoreBundle  = "sigstore-bundle"
)

// Verdict is one signed statement found for an image. Err is nil when it
// was accepted (valid signature from a trusted key, right subject, fresh,
// passing when required); otherwise it says why not, wrapping a sentinel.
type Verdict struct {
	Kind string
	// Location is where it was found: repo@digest of the referrer manifest,
	// or repo:tag of a cosign signature tag.
	Location string
	// KeyID is the trusted key that verified the signature.
	KeyID string
	// Statement is set for drydock verdicts whose signature verified.
	Statement *Statement
	// PredicateType is the in-toto predicate type, when the signed payload
	// was a statement.
	PredicateType string
	// Created is the verdict's time (zero for cosign signatures, which carry
	// no trusted time).
	Created time.Time
	Err     error
	// Decides is set on the verdict that decides for the image (accepted
	// or not); see the package documentation, "Which verdict counts".
	Decides bool

	// valid is set when the signature, subject and statement checked out,
	// before the verdicts are judged against each other.
	valid bool
	// signed is the SHA-256 of the signed payload: copies of one signed
	// statement re-attached under other manifests count once.
	signed [32]byte
}

// Passed reports whether the verdict records a passing policy.
func (v *Verdict) Passed() bool { return v.Statement != nil && v.Statement.Predicate.Passed() }

func (o *options) remoteOpts(ctx context.Context) []remote.Option {
	return append(append([]remote.Option{}, o.remote...), remote.WithContext(ctx))
}

// ResolveDigest turns a tag into the digest it names now (one HEAD request);
// a digest reference is returned as is. Verify digests, never tags: a tag
// may move between the check and the pull.
func ResolveDigest(ctx context.Context, ref name.Reference, opts ...Option) (name.Digest, error) {
	if d, ok := ref.(name.Digest); ok {
		return d, nil
	}
	o := makeOptions(opts)
	desc, err := remote.Head(ref, o.remoteOpts(ctx)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attest: resolve %s: %w", ref, err)
	}
	return ref.Context().Digest(desc.Digest.String()), nil
}

// Attest signs the statement and pushes the envelope as a verdict referrer
// of each subject (typically the platform image and, when it came from an
// index, the index too). It returns the referrer manifests pushed.
func Attest(ctx context.Context, s *Signer, st *Statement, subjects []name.Digest, opts ...Option) (*Envelope, []name.Digest, error) {
	env, err := s.Sign(st)
	if err != nil {
		return nil, nil, err
	}
	ann := map[string]string{
		AnnotationCreated: st.Predicate.Time.UTC().Format(createdFormat),
		AnnotationResult:  st.Predicate.Policy.Result,
	}
	var pushed []name.Digest
	for _, sub := range subjects {
		d, err := PushEnvelope(ctx, sub, env, ann, opts...)
		if err != nil {
			return env, pushed, err
		}
		pushed = append(pushed, d)
	}
	return env, pushed, nil
}

// PushEnvelope attaches env to subject as an OCI 1.1 referrer: an image
// manifest with the empty config, one layer holding the envelope (also
// embedded as the descriptor's data, so verifiers need no blob fetch), the
// verdict artifactType and the given annotations. On registries without the
// referrers API, go-containerregistry adds the manifest to the referrers tag
// schema's index ("sha256-<hex>") itself.
func PushEnvelope(ctx context.Context, subject name.Digest, env *Envelope, annotations map[string]string, opts ...Option) (name.Digest, error) {
	o := makeOptions(opts)
	ropts := o.remoteOpts(ctx)
	subDesc, err := remote.Head(subject, ropts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attest: push verdict: subject %s: %w", subject, err)
	}
	envBytes, err := json.Marshal(env)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attest: encode envelope: %w", err)
	}
	repo := subject.Context()
	cfg := static.NewLayer(emptyJSON, types.OCIEmptyJSON)
	layer := static.NewLayer(envBytes, EnvelopeMediaType)
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, ropts...); err != nil {
			return name.Digest{}, fmt.Errorf("attest: push verdict blob to %s: %w", repo, err)
		}
	}
	cfgDesc, err := descriptorOf(cfg, types.OCIEmptyJSON)
	if err != nil {
		return name.Digest{}, err
	}
	cfgDesc.Data = emptyJSON
	layerDesc, err := descriptorOf(layer, EnvelopeMediaType)
	if err != nil {
		return name.Digest{}, err
	}
	if len(envBytes) <= embedLimit {
		layerDesc.Data = envBytes
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        cfgDesc,
		Layers:        []v1.Descriptor{layerDesc},
		Annotations:   annotations,
		Subject:       &v1.Descriptor{MediaType: subDesc.MediaType, Size: subDesc.Size, Digest: subDesc.Digest},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return name.Digest{}, fmt.Errorf("attest: encode verdict manifest: %w", err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return name.Digest{}, err
	}
	dst := repo.Digest(h.String())
	if err := remote.Put(dst, rawManifest{raw: raw, mt: types.OCIManifestSchema1}, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("attest: push verdict manifest to %s: %w", repo, err)
	}
	return dst, nil
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

func descriptorOf(l v1.Layer, mt types.MediaType) (v1.Descriptor, error) {
	d, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	sz, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, nil
}

// VerifyImage returns the verdict that decides for the image digest (see
// the package documentation, "Which verdict counts"): the newest verdict
// of each trusted key is that key's word; when one of them fails, that
// failing verdict decides, otherwise the newest passing one does. It is
// returned when it is accepted: signed by a key v trusts, about this
// digest, not dated in the future, within WithMaxAge, and passing if
// WithRequirePass. Without WithRequirePass a failing verdict that decides is
// returned (its Passed is false), for the caller to judge. With WithCosign,
// a valid cosign key-based signature is accepted when no drydock verdict
// exists and neither a maximum age nor a pass is required.
//
// Errors: ErrNoVerdict (wrapping the rejection reasons, so errors.Is also
// finds ErrExpired, ErrPolicyFailed, ErrBadSignature, ErrUntrustedKey,
// ErrSubjectMismatch, ErrMalformed or ErrTooManyReferrers) when nothing was
// accepted; any other error is a registry or transport failure, and the
// caller should fail closed.
//
// Cost: one referrers request (two on a registry using the tag schema),
// then one manifest fetch per verdict-typed referrer (up to MaxExamined,
// fetchConcurrency at a time). v should be built once and reused (Keys
// precomputes key ids).
func VerifyImage(ctx context.Context, ref name.Digest, v Verifier, opts ...Option) (*Verdict, error) {
	o := makeOptions(opts)
	all, err := collect(ctx, ref, v, &o)
	if err != nil {
		return nil, err
	}
	var reasons []error
	for _, vd := range all {
		if vd.Err == nil {
			return vd, nil
		}
		if len(reasons) < maxReasons {
			reasons = append(reasons, fmt.Errorf("%s: %w", vd.Location, vd.Err))
		}
	}
	if len(all) > maxReasons {
		reasons = append(reasons, fmt.Errorf("and %d more rejected", len(all)-maxReasons))
	}
	if len(reasons) == 0 {
		return nil, fmt.Errorf("attest: %s: %w: none found", ref, ErrNoVerdict)
	}
	return nil, fmt.Errorf("attest: %s: %w: %w", ref, ErrNoVerdict, errors.Join(reasons...))
}

// maxReasons is how many rejections an ErrNoVerdict message names.
const maxReasons = 5

// VerifyAll checks every verdict (and, with WithCosign, every cosign
// signature) found for the image and reports each with its outcome under
// the same judgement as VerifyImage: at most the deciding verdict is
// accepted (Err nil); older verdicts wrap ErrSuperseded. They are ordered
// deciding first, then newest first by signed time. The error is for
// registry failures, and ErrNoVerdict with ErrTooManyReferrers when the
// digest has more verdict referrers than are examined.
func VerifyAll(ctx context.Context, ref name.Digest, v Verifier, opts ...Option) ([]*Verdict, error) {
	o := makeOptions(opts)
	return collect(ctx, ref, v, &o)
}

// collect lists the referrers, skips cheaply what cannot be a verdict,
// checks every remaining candidate and judges them.
func collect(ctx context.Context, ref name.Digest, v Verifier, o *options) ([]*Verdict, error) {
	cands, err := listCandidates(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	if len(cands) > o.maxExamined {
		return nil, fmt.Errorf("attest: %s: %w: %w: %d verdict referrers, at most %d are examined (delete stale ones)",
			ref, ErrNoVerdict, ErrTooManyReferrers, len(cands), o.maxExamined)
	}
	results := make([]*Verdict, len(cands))
	var blobs atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchConcurrency)
	for i, d := range cands {
		g.Go(func() error {
			vd, err := checkReferrer(gctx, ref, d, v, o, &blobs)
			results[i] = vd
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []*Verdict
	for _, vd := range results {
		if vd != nil {
			out = append(out, vd)
		}
	}
	if o.cosign {
		sigs, err := checkCosignTag(ctx, ref, v, o)
		if err != nil {
			return nil, err
		}
		out = append(out, sigs...)
	}
	judge(out, o)
	return out, nil
}

// listCandidates reads the referrers listing (the API, or the tag schema's
// index) and keeps the entries that may be verdicts: an image manifest of a
// verdict's artifact type (or of the empty config's, which some registries
// list instead), of a listed size a verdict can have, each digest once.
func listCandidates(ctx context.Context, ref name.Digest, o *options) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(ref, o.remoteOpts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: list referrers of %s: %w", ref, err)
	}
	if idx == nil {
		return nil, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("attest: list referrers of %s: %w", ref, err)
	}
	seen := map[v1.Hash]bool{}
	var cands []v1.Descriptor
	for _, d := range im.Manifests {
		if d.MediaType != types.OCIManifestSchema1 || seen[d.Digest] {
			continue
		}
		switch d.ArtifactType {
		case ArtifactType, "", string(types.OCIEmptyJSON):
			// Some registries (go-containerregistry's own) list the
			// config media type rather than the manifest's
			// artifactType: look inside.
		case bundleArtifactType:
			if !o.cosign {
				continue
			}
		default:
			continue
		}
		if d.Size <= 0 || d.Size > MaxReferrerManifestSize {
			continue
		}
		seen[d.Digest] = true
		cands = append(cands, d)
	}
	return cands, nil
}

// createdFormat is RFC 3339 with a fixed number of fractional digits. The
// annotation it formats is informational: nothing reads it to order
// verdicts.
const createdFormat = "2006-01-02T15:04:05.000000000Z07:00"

// checkReferrer fetches one referrer manifest and checks what it holds. It
// returns nil for referrers of other kinds, and an error only for registry
// failures and an exhausted blob budget.
func checkReferrer(ctx context.Context, ref name.Digest, d v1.Descriptor, v Verifier, o *options, blobs *atomic.Int64) (*Verdict, error) {
	loc := ref.Context().Digest(d.Digest.String())
	desc, err := remote.Get(loc, o.remoteOpts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: fetch referrer %s: %w", loc, err)
	}
	vd := &Verdict{Location: loc.String()}
	if len(desc.Manifest) > MaxReferrerManifestSize {
		vd.Kind = KindVerdict
		vd.Err = fmt.Errorf("%w: manifest of %d bytes, over the %d-byte limit", ErrMalformed, len(desc.Manifest), MaxReferrerManifestSize)
		return vd, nil
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		vd.Kind = KindVerdict
		vd.Err = fmt.Errorf("%w: manifest: %w", ErrMalformed, err)
		return vd, nil
	}
	if m.Subject == nil || m.Subject.Digest.String() != ref.DigestStr() {
		return nil, nil // a referrer index entry that does not point here
	}
	switch m.ArtifactType {
	case ArtifactType:
		vd.Kind = KindVerdict
		blob, err := layerBlob(ctx, ref.Context(), m.Layers, EnvelopeMediaType, o, blobs)
		if err != nil {
			return nil, err
		}
		if blob == nil {
			vd.Err = fmt.Errorf("%w: no intact %s layer", ErrMalformed, EnvelopeMediaType)
			return vd, nil
		}
		checkVerdictEnvelope(vd, blob, ref, v)
		return vd, nil
	case bundleArtifactType:
		if !o.cosign {
			return nil, nil
		}
		vd.Kind = KindSigstoreBundle
		blob, err := layerBlob(ctx, ref.Context(), m.Layers, bundleArtifactType, o, blobs)
		if err != nil {
			return nil, err
		}
		if blob == nil {
			vd.Err = fmt.Errorf("%w: no intact bundle layer", ErrMalformed)
			return vd, nil
		}
		checkBundle(vd, blob, ref, v, o)
		return vd, nil
	}
	return nil, nil
}

// checkVerdictEnvelope runs the checks that need no other verdict, cheapest
// first: envelope, signature, statement types, subject, a signed time. The
// statement is decoded only once the signature verified. Age, the future
// and the policy result are judged afterwards, over all verdicts.
func checkVerdictEnvelope(vd *Verdict, blob []byte, ref name.Digest, v Verifier) {
	env, err := DecodeEnvelope(blob)
	if err != nil {
		vd.Err = err
		return
	}
	payload, keyID, err := VerifyEnvelope(env, v)
	if err != nil {
		vd.Err = err
		return
	}
	vd.KeyID = keyID
	vd.signed = sha256.Sum256(payload)
	st, err := DecodeStatement(env.PayloadType, payload)
	if err != nil {
		vd.Err = err
		return
	}
	vd.Statement, vd.PredicateType, vd.Created = st, st.PredicateType, st.Predicate.Time
	if !st.HasSubject(ref.DigestStr()) {
		vd.Err = fmt.Errorf("%w: statement is about %s", ErrSubjectMismatch, subjectDigests(st.Subject))
		return
	}
	if st.Predicate.Time.IsZero() {
		vd.Err = fmt.Errorf("%w: verdict has no time", ErrMalformed)
		return
	}
	vd.valid = true
}

func subjectDigests(subs []Subject) []string {
	var out []string
	for _, s := range subs {
		out = append(out, "sha256:"+s.Digest["sha256"])
	}
	return out
}

// layerBlob returns the content of the first layer of the media type,
// checked against its digest: the embedded data when present, else the blob
// (bounded). It returns nil, nil when no layer matches or the content does
// not match its digest.
//
// blobs counts the blob fetches for one digest (nil: not counted); past
// MaxBlobFetches it fails with ErrTooManyReferrers.
func layerBlob(ctx context.Context, repo name.Repository, layers []v1.Descriptor, mt types.MediaType, o *options, blobs *atomic.Int64) ([]byte, error) {
	for _, l := range layers {
		if l.MediaType != mt {
			continue
		}
		if l.Size < 0 || l.Size > maxBlobSize {
			return nil, nil
		}
		if l.Data != nil {
			if h, _, err := v1.SHA256(bytes.NewReader(l.Data)); err == nil && h == l.Digest {
				return l.Data, nil
			}
			return nil, nil
		}
		if blobs != nil && blobs.Add(1) > MaxBlobFetches {
			return nil, fmt.Errorf("attest: %w: %w: more than %d verdicts keep their envelope in a blob, at most %d are fetched",
				ErrNoVerdict, ErrTooManyReferrers, MaxBlobFetches, MaxBlobFetches)
		}
		b, err := fetchBlob(ctx, repo, l, o)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, nil
}

func fetchBlob(ctx context.Context, repo name.Repository, d v1.Descriptor, o *options) ([]byte, error) {
	l, err := remote.Layer(repo.Digest(d.Digest.String()), o.remoteOpts(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("attest: fetch blob %s: %w", d.Digest, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: fetch blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxBlobSize+1))
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		// A digest mismatch from the verifying reader is tampering, not an
		// outage: report the blob as missing so it is rejected.
		if h, _, herr := v1.SHA256(bytes.NewReader(b)); herr == nil && h != d.Digest {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: fetch blob %s: %w", d.Digest, err)
	}
	if h, _, err := v1.SHA256(bytes.NewReader(b)); err != nil || h != d.Digest || int64(len(b)) > maxBlobSize {
		return nil, nil
	}
	return b, nil
}

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}
