package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Cosign formats, as cosign writes them with key-based signing. Only the
// signature is checked: certificates, Rekor entries and timestamps (keyless
// signing) are not, so these prove who signed but not when.
const (
	// simpleSigningMediaType is the layer type of a cosign signature in the
	// "sha256-<hex>.sig" tag.
	simpleSigningMediaType types.MediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// cosignSignatureAnnotation holds the base64 ECDSA signature of the
	// layer blob.
	cosignSignatureAnnotation = "dev.cosignproject.cosign/signature"
	// simpleSigningType is the critical.type of a cosign payload.
	simpleSigningType = "cosign container image signature"
	// bundleArtifactType is the artifactType (and layer media type) of a
	// Sigstore bundle referrer.
	bundleArtifactType = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// SimpleSigning is cosign's signed payload ("Red Hat simple signing").
type SimpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// CosignSignatureTag is where cosign stores signatures of digest: the tag
// "sha256-<hex>.sig" in the image's repository.
func CosignSignatureTag(digest name.Digest) name.Tag {
	return digest.Context().Tag(strings.Replace(digest.DigestStr(), ":", "-", 1) + ".sig")
}

// checkCosignTag reads the signature tag, if any, and checks each
// simple-signing layer.
func checkCosignTag(ctx context.Context, ref name.Digest, v Verifier, o *options) ([]*Verdict, error) {
	tag := CosignSignatureTag(ref)
	desc, err := remote.Get(tag, o.remoteOpts(ctx)...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("attest: fetch %s: %w", tag, err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return []*Verdict{{Kind: KindCosignSignature, Location: tag.String(), Err: fmt.Errorf("%w: manifest: %w", ErrMalformed, err)}}, nil
	}
	var out []*Verdict
	for i, l := range m.Layers {
		if l.MediaType != simpleSigningMediaType {
			continue
		}
		if len(out) >= maxCosignLayers {
			break
		}
		vd := &Verdict{Kind: KindCosignSignature, Location: fmt.Sprintf("%s (layer %d)", tag, i)}
		out = append(out, vd)
		blob, err := layerBlob(ctx, ref.Context(), []v1.Descriptor{l}, simpleSigningMediaType, o, nil)
		if err != nil {
			return nil, err
		}
		if blob == nil {
			vd.Err = fmt.Errorf("%w: signature payload missing or not matching its digest", ErrMalformed)
			continue
		}
		vd.Err = checkSimpleSigning(vd, blob, l.Annotations[cosignSignatureAnnotation], ref, v, o)
	}
	return out, nil
}

// CheckSimpleSigning verifies one cosign signature: b64sig over payload by a
// trusted key, and payload naming digest. It returns the trusted key id.
func CheckSimpleSigning(payload []byte, b64sig string, digest name.Digest, v Verifier) (string, error) {
	sig, err := base64.StdEncoding.DecodeString(b64sig)
	if err != nil || len(sig) == 0 {
		return "", fmt.Errorf("%w: missing or non-base64 %s annotation", ErrBadSignature, cosignSignatureAnnotation)
	}
	sum := sha256.Sum256(payload)
	id, err := v.VerifyDigest("", sum[:], sig)
	if err != nil {
		return "", err
	}
	var ss SimpleSigning
	if err := json.Unmarshal(payload, &ss); err != nil {
		return id, fmt.Errorf("%w: simple signing payload: %w", ErrMalformed, err)
	}
	if ss.Critical.Type != simpleSigningType {
		return id, fmt.Errorf("%w: simple signing type %q", ErrMalformed, ss.Critical.Type)
	}
	if ss.Critical.Image.DockerManifestDigest != digest.DigestStr() {
		return id, fmt.Errorf("%w: signature is for %s", ErrSubjectMismatch, ss.Critical.Image.DockerManifestDigest)
	}
	return id, nil
}

func checkSimpleSigning(vd *Verdict, payload []byte, b64sig string, ref name.Digest, v Verifier, o *options) error {
	id, err := CheckSimpleSigning(payload, b64sig, ref, v)
	vd.KeyID = id
	if err != nil {
		return err
	}
	return cosignAcceptable(o)
}

// cosignAcceptable: a valid cosign signature proves a trusted key signed the
// digest, but carries no trusted time and no policy result.
func cosignAcceptable(o *options) error {
	if o.maxAge > 0 {
		return fmt.Errorf("%w: a cosign signature carries no trusted time to check --max-age against", ErrExpired)
	}
	if o.requirePass {
		return fmt.Errorf("%w: a cosign signature records no policy result", ErrPolicyFailed)
	}
	return nil
}

// bundle is the part of a Sigstore bundle (protobuf JSON) that key-based
// signatures use.
type bundle struct {
	MediaType        string `json:"mediaType"`
	MessageSignature *struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
	DSSEEnvelope *Envelope `json:"dsseEnvelope"`
}

// genericStatement is any in-toto statement.
type genericStatement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// CheckBundle verifies a Sigstore bundle with a key-based signature over the
// image: a messageSignature whose message digest is the image digest, or a
// DSSE envelope holding an in-toto statement with the image as subject. It
// returns the trusted key id and, for a DSSE bundle, the predicate type.
func CheckBundle(b []byte, digest name.Digest, v Verifier) (keyID, predicateType string, err error) {
	var bd bundle
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&bd); err != nil {
		return "", "", fmt.Errorf("%w: bundle: %w", ErrMalformed, err)
	}
	if !strings.HasPrefix(bd.MediaType, "application/vnd.dev.sigstore.bundle") {
		return "", "", fmt.Errorf("%w: bundle media type %q", ErrMalformed, bd.MediaType)
	}
	want, err := v1.NewHash(digest.DigestStr())
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch {
	case bd.MessageSignature != nil:
		ms := bd.MessageSignature
		if ms.MessageDigest.Algorithm != "SHA2_256" || len(ms.MessageDigest.Digest) != sha256.Size {
			return "", "", fmt.Errorf("%w: message digest algorithm %q", ErrMalformed, ms.MessageDigest.Algorithm)
		}
		id, err := v.VerifyDigest("", ms.MessageDigest.Digest, ms.Signature)
		if err != nil {
			return "", "", err
		}
		if fmt.Sprintf("%x", ms.MessageDigest.Digest) != want.Hex {
			return id, "", fmt.Errorf("%w: signed digest sha256:%x", ErrSubjectMismatch, ms.MessageDigest.Digest)
		}
		return id, "", nil
	case bd.DSSEEnvelope != nil:
		payload, id, err := VerifyEnvelope(bd.DSSEEnvelope, v)
		if err != nil {
			return "", "", err
		}
		if bd.DSSEEnvelope.PayloadType != PayloadType {
			return id, "", fmt.Errorf("%w: payload type %q", ErrMalformed, bd.DSSEEnvelope.PayloadType)
		}
		var st genericStatement
		if err := json.Unmarshal(payload, &st); err != nil {
			return id, "", fmt.Errorf("%w: statement: %w", ErrMalformed, err)
		}
		if !(&Statement{Subject: st.Subject}).HasSubject(digest.DigestStr()) {
			return id, st.PredicateType, fmt.Errorf("%w: statement is about %s", ErrSubjectMismatch, subjectDigests(st.Subject))
		}
		return id, st.PredicateType, nil
	}
	return "", "", fmt.Errorf("%w: bundle has neither messageSignature nor dsseEnvelope", ErrMalformed)
}

func checkBundle(vd *Verdict, blob []byte, ref name.Digest, v Verifier, o *options) {
	id, pt, err := CheckBundle(blob, ref, v)
	vd.KeyID, vd.PredicateType = id, pt
	if err != nil {
		vd.Err = err
		return
	}
	vd.Err = cosignAcceptable(o)
}
