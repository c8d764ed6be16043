package attest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// cosign is not installable here, so these tests build cosign's formats with
// the same primitives cosign uses for key-based signing (ECDSA P-256 over
// SHA-256, ASN.1 signatures, base64 annotations) and the layouts cosign
// pushes: the "sha256-<hex>.sig" tag of simple-signing layers, and Sigstore
// bundle v0.3 referrers.

func simpleSigningPayload(d name.Digest) []byte {
	return []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		d.Context().Name(), d.DigestStr()))
}

func ecdsaSign(t *testing.T, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// pushCosignSignature pushes the signature tag as cosign sign --key does.
func pushCosignSignature(t *testing.T, d name.Digest, payload, sig []byte) {
	t.Helper()
	repo := d.Context()
	layer := staticLayer(t, repo, payload, simpleSigningMediaType)
	layer.Annotations = map[string]string{cosignSignatureAnnotation: base64.StdEncoding.EncodeToString(sig)}
	cfgJSON, _ := json.Marshal(map[string]any{"architecture": "", "os": "", "config": map[string]any{}, "rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.Digest.String()}}})
	cfg := staticLayer(t, repo, cfgJSON, types.OCIConfigJSON)
	raw, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{layer}})
	if err := remote.Put(CosignSignatureTag(d), rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}

// pushBundle pushes a Sigstore bundle as a referrer of d, as cosign's new
// bundle format does.
func pushBundle(t *testing.T, d name.Digest, bundleJSON []byte) {
	t.Helper()
	repo := d.Context()
	sub, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	layer := staticLayer(t, repo, bundleJSON, bundleArtifactType)
	cfg := staticLayer(t, repo, emptyJSON, types.OCIEmptyJSON)
	raw, _ := json.Marshal(v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: bundleArtifactType,
		Config: cfg, Layers: []v1.Descriptor{layer},
		Annotations: map[string]string{AnnotationCreated: time.Now().UTC().Format(time.RFC3339)},
		Subject:     &v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest},
	})
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}

func messageSignatureBundle(t *testing.T, k *ecdsa.PrivateKey, d name.Digest) []byte {
	t.Helper()
	h, _ := v1.NewHash(d.DigestStr())
	digest, _ := hex.DecodeString(h.Hex)
	sig, err := ecdsa.SignASN1(rand.Reader, k, digest)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"mediaType":            bundleArtifactType,
		"verificationMaterial": map[string]any{"publicKey": map[string]any{"hint": "test"}},
		"messageSignature": map[string]any{
			"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": digest},
			"signature":     sig,
		},
	})
	return b
}

func dsseBundle(t *testing.T, s *Signer, d name.Digest) []byte {
	t.Helper()
	h, _ := v1.NewHash(d.DigestStr())
	payload, _ := json.Marshal(map[string]any{
		"_type":         StatementType,
		"subject":       []map[string]any{{"name": d.Context().Name(), "digest": map[string]string{"sha256": h.Hex}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	env, err := s.SignPayload(PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].KeyID = "" // cosign leaves it empty
	b, _ := json.Marshal(map[string]any{
		"mediaType":            bundleArtifactType,
		"verificationMaterial": map[string]any{"publicKey": map[string]any{"hint": ""}},
		"dsseEnvelope":         env,
	})
	return b
}

func TestCosignSimpleSigning(t *testing.T) {
	ctx := context.Background()
	for _, referrers := range []bool{true, false} {
		host := testRegistry(t, referrers)
		d := pushImage(t, host, "team/app")
		other := pushImage(t, host, "team/app2")
		k, _ := GenerateKey()
		keys, _ := NewKeys(&k.PublicKey)
		payload := simpleSigningPayload(d)
		pushCosignSignature(t, d, payload, ecdsaSign(t, k, payload))

		// Without WithCosign it is not looked for.
		if _, err := VerifyImage(ctx, d, keys); !errors.Is(err, ErrNoVerdict) {
			t.Fatalf("without WithCosign: %v", err)
		}
		vd, err := VerifyImage(ctx, d, keys, WithCosign(true))
		if err != nil || vd.Kind != KindCosignSignature {
			t.Fatalf("cosign signature: %+v, %v", vd, err)
		}
		// It proves no time and no policy result.
		if _, err := VerifyImage(ctx, d, keys, WithCosign(true), WithMaxAge(time.Hour)); !errors.Is(err, ErrExpired) {
			t.Errorf("with max age: %v", err)
		}
		if _, err := VerifyImage(ctx, d, keys, WithCosign(true), WithRequirePass(true)); !errors.Is(err, ErrPolicyFailed) {
			t.Errorf("with require pass: %v", err)
		}

		// Tampered: the payload changed after signing (names another image),
		// and a payload for another image moved under this one's tag.
		tampered := simpleSigningPayload(other)
		if _, err := CheckSimpleSigning(tampered, base64.StdEncoding.EncodeToString(ecdsaSign(t, k, payload)), d, keys); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered payload: %v", err)
		}
		if _, err := CheckSimpleSigning(tampered, base64.StdEncoding.EncodeToString(ecdsaSign(t, k, tampered)), d, keys); !errors.Is(err, ErrSubjectMismatch) {
			t.Errorf("signature of another image: %v", err)
		}
		pushCosignSignature(t, other, payload, ecdsaSign(t, k, payload))
		if _, err := VerifyImage(ctx, other, keys, WithCosign(true)); !errors.Is(err, ErrSubjectMismatch) {
			t.Errorf("other image's tag holding this one's signature: %v", err)
		}
		wrong, _ := GenerateKey()
		wrongKeys, _ := NewKeys(&wrong.PublicKey)
		if _, err := VerifyImage(ctx, d, wrongKeys, WithCosign(true)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("wrong key: %v", err)
		}
	}
}

func TestSigstoreBundles(t *testing.T) {
	ctx := context.Background()
	for _, referrers := range []bool{true, false} {
		host := testRegistry(t, referrers)
		s, keys := newKey(t)

		d := pushImage(t, host, "team/msg")
		pushBundle(t, d, messageSignatureBundle(t, s.key, d))
		vd, err := VerifyImage(ctx, d, keys, WithCosign(true))
		if err != nil || vd.Kind != KindSigstoreBundle {
			t.Fatalf("messageSignature bundle (referrers %v): %+v, %v", referrers, vd, err)
		}

		d2 := pushImage(t, host, "team/dsse")
		pushBundle(t, d2, dsseBundle(t, s, d2))
		vd, err = VerifyImage(ctx, d2, keys, WithCosign(true))
		if err != nil || vd.Kind != KindSigstoreBundle || vd.PredicateType != "https://sigstore.dev/cosign/sign/v1" {
			t.Fatalf("DSSE bundle: %+v, %v", vd, err)
		}

		// A bundle signed for d attached to d3, and a tampered bundle.
		d3 := pushImage(t, host, "team/other")
		pushBundle(t, d3, messageSignatureBundle(t, s.key, d))
		if _, err := VerifyImage(ctx, d3, keys, WithCosign(true)); !errors.Is(err, ErrSubjectMismatch) {
			t.Errorf("bundle for another image: %v", err)
		}
		b := dsseBundle(t, s, d2)
		var m map[string]any
		json.Unmarshal(b, &m)
		env := m["dsseEnvelope"].(map[string]any)
		p, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		env["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(p, []byte("cosign/sign"), []byte("cosign/SIGN"), 1))
		b, _ = json.Marshal(m)
		if _, _, err := CheckBundle(b, d2, keys); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered DSSE bundle: %v", err)
		}
	}
}
