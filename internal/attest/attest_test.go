package attest

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry starts go-containerregistry's in-process registry, with or
// without the OCI 1.1 referrers API, and returns its host.
func testRegistry(t testing.TB, referrers bool) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// pushImage pushes a random image to host/repo:tag and returns its digest.
func pushImage(t testing.TB, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return tag.Context().Digest(d.String())
}

func newKey(t testing.TB) (*Signer, *Keys) {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeys(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s, keys
}

func statementFor(t testing.TB, d name.Digest, result string, at time.Time) *Statement {
	t.Helper()
	p := Predicate{
		Scanner:  Scanner{Name: "drydock", Version: "test"},
		Database: Database{AgeSeconds: 3600, Sources: []string{"PyPI: osv"}},
		Counts:   map[string]int{"CRITICAL": 0, "HIGH": 1},
		Fixable:  1,
		Findings: []string{"PYSEC-2018-28"},
		Policy:   Policy{Name: "fail-on-critical", Result: result, Violations: []string{}},
		Time:     at.UTC().Truncate(time.Second),
		Image:    Image{Ref: d.String(), Digest: d.DigestStr()},
	}
	st, err := NewStatement(d.Context().Name(), []string{d.DigestStr()}, p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRoundTrip(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		label := map[bool]string{true: "referrers API", false: "tag schema"}[referrers]
		t.Run(label, func(t *testing.T) {
			ctx := context.Background()
			host := testRegistry(t, referrers)
			d := pushImage(t, host, "team/app")
			s, keys := newKey(t)

			// Nothing yet.
			if _, err := VerifyImage(ctx, d, keys); !errors.Is(err, ErrNoVerdict) {
				t.Fatalf("before attest: err = %v, want ErrNoVerdict", err)
			}

			old := statementFor(t, d, ResultFail, time.Now().Add(-time.Hour))
			if _, _, err := Attest(ctx, s, old, []name.Digest{d}); err != nil {
				t.Fatal(err)
			}
			st := statementFor(t, d, ResultPass, time.Now())
			_, pushed, err := Attest(ctx, s, st, []name.Digest{d})
			if err != nil {
				t.Fatal(err)
			}
			if len(pushed) != 1 {
				t.Fatalf("pushed %v", pushed)
			}

			// The registry side: the API lists it, or the fallback tag holds
			// it (go-containerregistry maintained the tag on push).
			if !referrers {
				tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
				idx, err := remote.Index(tag)
				if err != nil {
					t.Fatalf("referrers tag %s: %v", tag, err)
				}
				im, _ := idx.IndexManifest()
				results := map[string]bool{}
				for _, m := range im.Manifests {
					if m.ArtifactType == ArtifactType {
						results[m.Annotations[AnnotationResult]] = true
					}
				}
				if len(im.Manifests) != 2 || !results[ResultPass] || !results[ResultFail] {
					t.Fatalf("referrers tag index = %+v", im.Manifests)
				}
			}

			vd, err := VerifyImage(ctx, d, keys, WithRequirePass(true), WithMaxAge(10*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if vd.Kind != KindVerdict || vd.KeyID != s.KeyID() || !vd.Passed() || vd.Location != pushed[0].String() {
				t.Errorf("verdict = %+v", vd)
			}
			if vd.Statement.Predicate.Findings[0] != "PYSEC-2018-28" {
				t.Errorf("predicate = %+v", vd.Statement.Predicate)
			}

			all, err := VerifyAll(ctx, d, keys, WithRequirePass(true))
			if err != nil {
				t.Fatal(err)
			}
			// The older failing verdict is superseded by the newer pass from
			// the same key: only the deciding verdict is accepted.
			if len(all) != 2 || all[0].Err != nil || !errors.Is(all[1].Err, ErrSuperseded) {
				t.Errorf("VerifyAll = %+v, %+v", all[0], all[1])
			}

			// Only the failing, hour-old verdict would be left: ask for an age
			// the new one passes but the old one does not.
			if _, err := VerifyImage(ctx, d, keys, WithNow(func() time.Time { return time.Now().Add(48 * time.Hour) }), WithMaxAge(24*time.Hour)); !errors.Is(err, ErrExpired) || !errors.Is(err, ErrNoVerdict) {
				t.Errorf("two days later with max age 24h: %v, want ErrNoVerdict and ErrExpired", err)
			}
		})
	}
}

// pushEnv pushes a hand-made envelope as a verdict referrer.
func pushEnv(t *testing.T, d name.Digest, env *Envelope) {
	t.Helper()
	if _, err := PushEnvelope(context.Background(), d, env, map[string]string{AnnotationCreated: time.Now().UTC().Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
}

func TestTampering(t *testing.T) {
	ctx := context.Background()
	s, keys := newKey(t)
	attacker, _ := newKey(t)
	for _, tt := range []struct {
		name string
		make func(t *testing.T, d, other name.Digest) *Envelope
		want error
	}{
		{"payload changed after signing", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := s.Sign(statementFor(t, d, ResultFail, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := env.DecodeB64Payload()
			p = []byte(strings.Replace(string(p), `"result":"fail"`, `"result":"pass"`, 1))
			env.Payload = base64.StdEncoding.EncodeToString(p)
			return env
		}, ErrBadSignature},
		{"subject is another image", func(t *testing.T, _, other name.Digest) *Envelope {
			env, err := s.Sign(statementFor(t, other, ResultPass, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, ErrSubjectMismatch},
		{"untrusted key (attacker pushes a validly signed verdict)", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := attacker.Sign(statementFor(t, d, ResultPass, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, ErrUntrustedKey},
		{"untrusted key claiming the trusted key id", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := attacker.Sign(statementFor(t, d, ResultPass, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			env.Signatures[0].KeyID = s.KeyID()
			return env
		}, ErrBadSignature},
		{"expired", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := s.Sign(statementFor(t, d, ResultPass, time.Now().Add(-48*time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, ErrExpired},
		{"dated in the future", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := s.Sign(statementFor(t, d, ResultPass, time.Now().Add(time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, ErrExpired},
		{"other predicate type", func(t *testing.T, d, _ name.Digest) *Envelope {
			st := statementFor(t, d, ResultPass, time.Now())
			st.PredicateType = "https://slsa.dev/provenance/v1"
			env, err := s.Sign(st)
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, ErrMalformed},
		{"no signatures", func(t *testing.T, d, _ name.Digest) *Envelope {
			env, err := s.Sign(statementFor(t, d, ResultPass, time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			env.Signatures = nil
			return env
		}, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := testRegistry(t, true)
			d := pushImage(t, host, "team/app")
			other := pushImage(t, host, "team/other")
			pushEnv(t, d, tt.make(t, d, other))
			_, err := VerifyImage(ctx, d, keys, WithMaxAge(24*time.Hour))
			if !errors.Is(err, ErrNoVerdict) || !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want ErrNoVerdict and %v", err, tt.want)
			}
		})
	}

	// A truncated envelope blob: pushed by hand, since PushEnvelope only
	// writes whole envelopes.
	t.Run("truncated envelope", func(t *testing.T) {
		host := testRegistry(t, false)
		d := pushImage(t, host, "team/app")
		env, err := s.Sign(statementFor(t, d, ResultPass, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(env)
		if _, err := DecodeEnvelope(b[:len(b)/2]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("DecodeEnvelope(truncated) = %v", err)
		}
		pushRawVerdict(t, d, b[:len(b)/2])
		if _, err := VerifyImage(ctx, d, keys); !errors.Is(err, ErrMalformed) {
			t.Errorf("err = %v, want ErrMalformed", err)
		}
	})

	// A valid verdict next to the attacker's still verifies: bad referrers
	// are skipped, not fatal.
	t.Run("valid beside attacker's", func(t *testing.T) {
		host := testRegistry(t, true)
		d := pushImage(t, host, "team/app")
		if _, _, err := Attest(ctx, s, statementFor(t, d, ResultPass, time.Now().Add(-time.Minute)), []name.Digest{d}); err != nil {
			t.Fatal(err)
		}
		env, _ := attacker.Sign(statementFor(t, d, ResultPass, time.Now()))
		pushEnv(t, d, env)
		vd, err := VerifyImage(ctx, d, keys)
		if err != nil || vd.KeyID != s.KeyID() {
			t.Fatalf("VerifyImage = %+v, %v", vd, err)
		}
	})
}

// pushRawVerdict pushes a verdict manifest whose layer holds b, whatever b
// is, without embedding it, so the verifier reads the blob.
func pushRawVerdict(t testing.TB, d name.Digest, b []byte) {
	t.Helper()
	raw := rawVerdictManifest(t, d, b)
	h, _, _ := v1.SHA256(strings.NewReader(string(raw)))
	if err := remote.Put(d.Context().Digest(h.String()), rawManifest{raw: raw, mt: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
		t.Fatal(err)
	}
}

func rawVerdictManifest(t testing.TB, d name.Digest, b []byte) []byte {
	t.Helper()
	sub, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	layer := staticLayer(t, d.Context(), b, EnvelopeMediaType)
	cfg := staticLayer(t, d.Context(), emptyJSON, "application/vnd.oci.empty.v1+json")
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     "application/vnd.oci.image.manifest.v1+json",
		ArtifactType:  ArtifactType,
		Config:        cfg,
		Layers:        []v1.Descriptor{layer},
		Subject:       &v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestKeys(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := MarshalPrivateKey(k, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(enc), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
		t.Fatalf("encrypted key PEM:\n%s", enc)
	}
	got, err := ParsePrivateKey(enc, []byte("correct horse"))
	if err != nil || !got.Equal(k) {
		t.Fatalf("decrypt with the right passphrase: %v", err)
	}
	if _, err := ParsePrivateKey(enc, []byte("wrong")); !errors.Is(err, ErrBadPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrBadPassphrase", err)
	}
	if _, err := ParsePrivateKey(enc, nil); !errors.Is(err, ErrBadPassphrase) {
		t.Errorf("no passphrase: %v, want ErrBadPassphrase", err)
	}
	// The encrypted body is go-securesystemslib's JSON (scrypt + secretbox),
	// as cosign writes it.
	var body struct {
		KDF    struct{ Name string }
		Cipher struct{ Name string }
	}
	blockJSON := pemBody(t, enc)
	if err := json.Unmarshal(blockJSON, &body); err != nil || body.KDF.Name != "scrypt" || body.Cipher.Name != "nacl/secretbox" {
		t.Errorf("encrypted body %s: %v", blockJSON, err)
	}

	plain, err := MarshalPrivateKey(k, nil)
	if err != nil || !strings.HasPrefix(string(plain), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("plain key: %v\n%s", err, plain)
	}
	if got, err := ParsePrivateKey(plain, nil); err != nil || !got.Equal(k) {
		t.Errorf("parse plain key: %v", err)
	}

	pub, err := MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := KeyID(&k.PublicKey)
	if len(id) != 64 || keys.IDs()[0] != id {
		t.Errorf("key id %q, keys %v", id, keys.IDs())
	}
	if _, err := ParsePublicKey(plain); !errors.Is(err, ErrMalformed) {
		t.Errorf("private key as public key: %v", err)
	}
}

func TestSignVerifyEnvelope(t *testing.T) {
	s, keys := newKey(t)
	_, other := newKey(t)
	d, _ := name.NewDigest("example.com/a@sha256:" + strings.Repeat("ab", 32))
	env, err := s.Sign(statementFor(t, d, ResultPass, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	payload, id, err := VerifyEnvelope(env, keys)
	if err != nil || id != s.KeyID() {
		t.Fatalf("VerifyEnvelope: %v", err)
	}
	st, err := DecodeStatement(env.PayloadType, payload)
	if err != nil || !st.HasSubject(d.DigestStr()) {
		t.Fatalf("DecodeStatement: %v", err)
	}
	if _, _, err := VerifyEnvelope(env, other); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("wrong key: %v", err)
	}
	// Two trusted keys: either verifies.
	both, _ := NewKeys(append([]*ecdsa.PublicKey{}, other.keys[0], keys.keys[0])...)
	if _, id, err := VerifyEnvelope(env, both); err != nil || id != s.KeyID() {
		t.Errorf("two trusted keys: %v", err)
	}
	env.PayloadType = "text/plain"
	if _, _, err := VerifyEnvelope(env, keys); !errors.Is(err, ErrBadSignature) {
		t.Errorf("payload type changed: %v", err)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	s, keys := newKey(f)
	d, _ := name.NewDigest("example.com/a@sha256:" + strings.Repeat("cd", 32))
	env, err := s.Sign(statementFor(f, d, ResultPass, time.Now()))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(env)
	f.Add(good)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"MEUCIQ=="}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := DecodeEnvelope(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		payload, _, err := VerifyEnvelope(env, keys)
		if err != nil {
			return
		}
		st, err := DecodeStatement(env.PayloadType, payload)
		if err == nil && st.Type != StatementType {
			t.Fatalf("accepted a statement of type %q", st.Type)
		}
		if _, _, err := CheckBundle(b, d, keys); err == nil {
			// a DSSE envelope is not a bundle
			t.Fatalf("an envelope passed as a bundle")
		}
	})
}

// staticLayer uploads b as a blob of repo and returns its descriptor.
func staticLayer(t testing.TB, repo name.Repository, b []byte, mt types.MediaType) v1.Descriptor {
	t.Helper()
	l := static.NewLayer(b, mt)
	if err := remote.WriteLayer(repo, l); err != nil {
		t.Fatal(err)
	}
	d, err := descriptorOf(l, mt)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pemBody(t *testing.T, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM block in %s", b)
	}
	return blk.Bytes
}

// BenchmarkVerify is the admission webhook's cost: a cached Verifier, one
// VerifyImage (referrers listing + one manifest, envelope embedded) against
// the in-process registry.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	host := testRegistry(b, true)
	d := pushImage(b, host, "team/app")
	s, keys := newKey(b)
	if _, _, err := Attest(ctx, s, statementFor(b, d, ResultPass, time.Now()), []name.Digest{d}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true), WithMaxAge(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
