package attest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// VerifyImage returns the newest accepted verdict for the image digest:
// signed by a key v trusts, about this digest, within WithMaxAge, passing if
// WithRequirePass. With WithCosign, a valid cosign key-based signature is
// accepted too when neither a maximum age nor a pass is required.
//
// Errors: ErrNoVerdict (wrapping every rejection reason, so errors.Is also
// finds ErrExpired, ErrBadSignature, ErrUntrustedKey, ErrSubjectMismatch,
// ErrPolicyFailed or ErrMalformed) when nothing was accepted; any other
// error is a registry or transport failure, and the caller should fail
// closed.
//
// Cost: one referrers request (two on a registry using the tag schema), then
// one manifest fetch per candidate, newest first, stopping at the first
// accepted; at most 50 candidates are examined. v should be built once and
// reused (Keys precomputes key ids).
func VerifyImage(ctx context.Context, ref name.Digest, v Verifier, opts ...Option) (*Verdict, error) {
	o := makeOptions(opts)
	all, err := collect(ctx, ref, v, &o, true)
	if err != nil {
		return nil, err
	}
	var reasons []error
	for _, vd := range all {
		if vd.Err == nil {
			return vd, nil
		}
		reasons = append(reasons, fmt.Errorf("%s: %w", vd.Location, vd.Err))
	}
	if len(reasons) == 0 {
		return nil, fmt.Errorf("attest: %s: %w: none found", ref, ErrNoVerdict)
	}
	return nil, fmt.Errorf("attest: %s: %w: %w", ref, ErrNoVerdict, errors.Join(reasons...))
}

// VerifyAll checks every verdict (and, with WithCosign, every cosign
// signature) found for the image and reports each with its outcome, newest
// first. The error is for registry failures only.
func VerifyAll(ctx context.Context, ref name.Digest, v Verifier, opts ...Option) ([]*Verdict, error) {
	o := makeOptions(opts)
	return collect(ctx, ref, v, &o, false)
}

func collect(ctx context.Context, ref name.Digest, v Verifier, o *options, firstOnly bool) ([]*Verdict, error) {
	ropts := o.remoteOpts(ctx)
	idx, err := remote.Referrers(ref, ropts...)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("attest: list referrers of %s: %w", ref, err)
	}
	var cands []v1.Descriptor
	if idx != nil {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("attest: list referrers of %s: %w", ref, err)
		}
		for _, d := range im.Manifests {
			if d.MediaType != types.OCIManifestSchema1 {
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
			cands = append(cands, d)
		}
	}
	slices.SortStableFunc(cands, func(a, b v1.Descriptor) int {
		return cmp.Or(
			createdAt(b).Compare(createdAt(a)),
			cmp.Compare(b.Digest.String(), a.Digest.String()), // a stable order for equal times
		)
	})
	if len(cands) > maxCandidates {
		cands = cands[:maxCandidates]
	}
	var out []*Verdict
	for _, d := range cands {
		vd, err := checkReferrer(ctx, ref, d, v, o)
		if err != nil {
			return nil, err
		}
		if vd == nil {
			continue
		}
		out = append(out, vd)
		if firstOnly && vd.Err == nil {
			return out, nil
		}
	}
	if o.cosign {
		sigs, err := checkCosignTag(ctx, ref, v, o)
		if err != nil {
			return nil, err
		}
		out = append(out, sigs...)
	}
	return out, nil
}

// createdFormat is RFC 3339 with a fixed number of fractional digits, so
// that verdicts made within one second still sort in order.
const createdFormat = "2006-01-02T15:04:05.000000000Z07:00"

// createdAt is a referrer's creation annotation; zero (oldest) when absent
// or not RFC 3339. It only orders the checks: the signed time is what counts.
func createdAt(d v1.Descriptor) time.Time {
	t, err := time.Parse(time.RFC3339Nano, d.Annotations[AnnotationCreated])
	if err != nil {
		return time.Time{}
	}
	return t
}

// checkReferrer fetches one referrer manifest and checks what it holds. It
// returns nil for referrers of other kinds, and an error only for registry
// failures.
func checkReferrer(ctx context.Context, ref name.Digest, d v1.Descriptor, v Verifier, o *options) (*Verdict, error) {
	loc := ref.Context().Digest(d.Digest.String())
	desc, err := remote.Get(loc, o.remoteOpts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: fetch referrer %s: %w", loc, err)
	}
	vd := &Verdict{Location: loc.String()}
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
		blob, err := layerBlob(ctx, ref.Context(), m.Layers, EnvelopeMediaType, o)
		if err != nil {
			return nil, err
		}
		if blob == nil {
			vd.Err = fmt.Errorf("%w: no intact %s layer", ErrMalformed, EnvelopeMediaType)
			return vd, nil
		}
		checkVerdictEnvelope(vd, blob, ref, v, o)
		return vd, nil
	case bundleArtifactType:
		if !o.cosign {
			return nil, nil
		}
		vd.Kind = KindSigstoreBundle
		blob, err := layerBlob(ctx, ref.Context(), m.Layers, bundleArtifactType, o)
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

// checkVerdictEnvelope runs the checks in order: envelope, signature,
// statement types, subject, age, policy.
func checkVerdictEnvelope(vd *Verdict, blob []byte, ref name.Digest, v Verifier, o *options) {
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
	st, err := DecodeStatement(env.PayloadType, payload)
	if err != nil {
		vd.Err = err
		return
	}
	vd.Statement, vd.PredicateType, vd.Created = st, st.PredicateType, st.Predicate.Time
	vd.Err = acceptStatement(st, ref, o)
}

func acceptStatement(st *Statement, ref name.Digest, o *options) error {
	if !st.HasSubject(ref.DigestStr()) {
		return fmt.Errorf("%w: statement is about %s", ErrSubjectMismatch, subjectDigests(st.Subject))
	}
	now := o.now()
	t := st.Predicate.Time
	if t.IsZero() {
		return fmt.Errorf("%w: verdict has no time", ErrMalformed)
	}
	if t.After(now.Add(clockSkew)) {
		return fmt.Errorf("%w: verdict dated in the future (%s)", ErrExpired, t.Format(time.RFC3339))
	}
	if o.maxAge > 0 && now.Sub(t) > o.maxAge {
		return fmt.Errorf("%w: made %s, older than %s", ErrExpired, t.Format(time.RFC3339), o.maxAge)
	}
	if o.requirePass && !st.Predicate.Passed() {
		return fmt.Errorf("%w (policy %q)", ErrPolicyFailed, st.Predicate.Policy.Name)
	}
	return nil
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
func layerBlob(ctx context.Context, repo name.Repository, layers []v1.Descriptor, mt types.MediaType, o *options) ([]byte, error) {
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
