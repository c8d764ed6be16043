package admission

import (
	"context"
	"encoding/json"
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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drydock/drydock/internal/attest"
)

// The verdict attacks of issue 10 through /validate, with the real
// verifier (AttestVerifier) against go-containerregistry's in-process
// registry, with the referrers API and with the tag schema. Images are named
// by digest, as /mutate pins them, so no tag is resolved.

type verdictRig struct {
	t      *testing.T
	digest name.Digest
	signer *attest.Signer
	srv    *Server
}

func newVerdictRig(t *testing.T, referrers bool, mod func(*Config)) *verdictRig {
	t.Helper()
	hs := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(hs.Close)
	host := strings.TrimPrefix(hs.URL, "http://")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(host + "/team/app:1")
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	k, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := attest.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := attest.NewKeys(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Verifier: &AttestVerifier{Keys: keys},
		Resolver: &fakeResolver{err: errors.New("no tag is resolved in these tests")},
		// The cache is off so that each step sees the registry as it is.
		Metrics: NewMetrics(prometheus.NewRegistry()),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &verdictRig{t: t, digest: tag.Context().Digest(h.String()), signer: s, srv: srv}
}

// sign signs a verdict made at `at` and attaches it with an unsigned
// creation annotation claiming `claimed`.
func (r *verdictRig) sign(s *attest.Signer, result, policy string, at, claimed time.Time) name.Digest {
	r.t.Helper()
	env := r.envelope(s, result, policy, at)
	return r.attach(env, claimed)
}

func (r *verdictRig) envelope(s *attest.Signer, result, policy string, at time.Time) *attest.Envelope {
	r.t.Helper()
	st, err := attest.NewStatement(r.digest.Context().Name(), []string{r.digest.DigestStr()}, attest.Predicate{
		Scanner: attest.Scanner{Name: "drydock", Version: "test"}, Counts: map[string]int{}, Findings: []string{},
		Policy: attest.Policy{Name: policy, Result: result, Violations: []string{}},
		Time:   at.UTC(), Image: attest.Image{Ref: r.digest.String(), Digest: r.digest.DigestStr()},
	})
	if err != nil {
		r.t.Fatal(err)
	}
	env, err := s.Sign(st)
	if err != nil {
		r.t.Fatal(err)
	}
	return env
}

func (r *verdictRig) attach(env *attest.Envelope, claimed time.Time) name.Digest {
	r.t.Helper()
	loc, err := attest.PushEnvelope(context.Background(), r.digest, env, map[string]string{
		attest.AnnotationCreated: claimed.UTC().Format(time.RFC3339Nano),
		"attempt":                claimed.String(),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return loc
}

// validate sends a Pod running the image, pinned, through /validate.
func (r *verdictRig) validate() (allowed bool, message string) {
	r.t.Helper()
	resp := r.srv.Validate(context.Background(), reviewOf("default", "Pod", podJSON("p", nil, r.digest.String())))
	if resp.Result != nil {
		message = resp.Result.Message
	}
	return resp.Allowed, message
}

// Attack 1 at admission: an old signed PASS re-attached with a newer
// annotation beside a newer FAIL. The verifier used to take the newest
// annotation's valid verdict and admit.
func TestValidateVerdictRollback(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[referrers], func(t *testing.T) {
			r := newVerdictRig(t, referrers, nil)
			now := time.Now()
			r.sign(r.signer, attest.ResultPass, "ci", now.Add(-2*time.Hour), now.Add(-2*time.Hour))
			if ok, msg := r.validate(); !ok {
				t.Fatalf("a lone passing verdict: denied: %s", msg)
			}
			r.sign(r.signer, attest.ResultFail, "ci", now.Add(-time.Hour), now.Add(-time.Hour))
			old := r.envelope(r.signer, attest.ResultPass, "ci", now.Add(-3*time.Hour))
			r.attach(old, now.Add(time.Minute))
			ok, msg := r.validate()
			if ok || !strings.Contains(msg, "verdict result is fail") {
				t.Errorf("old PASS re-attached over a newer FAIL: allowed=%v %q, want a deny naming the failed verdict", ok, msg)
			}
		})
	}
}

// Attack 4 at admission: 100 junk referrers, all claiming to be newest,
// beside one valid verdict.
func TestValidateReferrerFlood(t *testing.T) {
	r := newVerdictRig(t, true, nil)
	now := time.Now()
	r.sign(r.signer, attest.ResultPass, "ci", now.Add(-time.Hour), now.Add(-48*time.Hour))
	k, _ := attest.GenerateKey()
	attacker, _ := attest.NewSigner(k)
	sub, err := remote.Head(r.digest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		claimed := now.Add(time.Hour + time.Duration(i)*time.Second)
		switch i % 4 {
		case 0: // signed, by a key nobody trusts
			r.sign(attacker, attest.ResultPass, "ci", now.Add(-time.Duration(i)*time.Millisecond), claimed)
		case 1: // unsigned
			env := r.envelope(r.signer, attest.ResultPass, "ci", now)
			env.Signatures = nil
			r.attach(env, claimed)
		case 2: // the trusted key id over an attacker's signature
			env := r.envelope(attacker, attest.ResultPass, "ci", now.Add(-time.Duration(i)*time.Millisecond))
			env.Signatures[0].KeyID = r.signer.KeyID()
			r.attach(env, claimed)
		case 3: // another artifact type
			pushOtherReferrer(t, r.digest, sub, i)
		}
	}
	if ok, msg := r.validate(); !ok {
		t.Errorf("valid verdict beside 100 junk referrers: denied: %s", msg)
	}
}

// pushOtherReferrer attaches a referrer of another artifact type.
func pushOtherReferrer(t *testing.T, d name.Digest, sub *v1.Descriptor, i int) {
	t.Helper()
	body := []byte(`{"sbom":` + strings.Repeat("1", i+1) + `}`)
	layer, err := random.Layer(64, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(d.Context(), layer); err != nil {
		t.Fatal(err)
	}
	ld, _ := layer.Digest()
	ls, _ := layer.Size()
	const sbomType = "application/vnd.example.sbom+json"
	cfgBlob := static.NewLayer(body, sbomType)
	if err := remote.WriteLayer(d.Context(), cfgBlob); err != nil {
		t.Fatal(err)
	}
	cfg := v1.Descriptor{MediaType: sbomType, Size: int64(len(body))}
	cfg.Digest, _ = cfgBlob.Digest()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: sbomType,
		Config: cfg, Layers: []v1.Descriptor{{MediaType: types.OCILayer, Digest: ld, Size: ls}},
		Subject: &v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest}}
	raw, _ := json.Marshal(m)
	h, _, _ := v1.SHA256(strings.NewReader(string(raw)))
	if err := remote.Put(d.Context().Digest(h.String()), rawJSON{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}

type rawJSON struct {
	raw []byte
	mt  types.MediaType
}

func (r rawJSON) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawJSON) MediaType() (types.MediaType, error) { return r.mt, nil }

// A verdict signed an hour in the future is rejected (beyond the default 5
// minutes of skew), and the older PASS beside it does not take its place.
func TestValidateFutureDatedVerdict(t *testing.T) {
	r := newVerdictRig(t, true, nil)
	now := time.Now()
	r.sign(r.signer, attest.ResultPass, "ci", now.Add(-time.Hour), now.Add(-time.Hour))
	r.sign(r.signer, attest.ResultPass, "ci", now.Add(time.Hour), now.Add(-2*time.Hour))
	if ok, msg := r.validate(); ok || !strings.Contains(msg, "future") {
		t.Errorf("future-dated verdict: allowed=%v %q", ok, msg)
	}
}

// A FAIL deleted from the tag schema's index leaves an 8-day-old PASS:
// nothing in the registry proves the FAIL existed. The default maximum
// verdict age (a week, applied without --policy) is what denies.
func TestValidateDeletedFailBoundedByMaxAge(t *testing.T) {
	for _, tt := range []struct {
		name   string
		maxAge time.Duration
		allow  bool
	}{
		{"default max age", 0, false},
		{"max age 30d", 30 * 24 * time.Hour, true},
		{"no max age", -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newVerdictRig(t, false, func(c *Config) { c.MaxVerdictAge = tt.maxAge })
			now := time.Now()
			r.sign(r.signer, attest.ResultPass, "ci", now.Add(-8*24*time.Hour), now.Add(-8*24*time.Hour))
			fail := r.sign(r.signer, attest.ResultFail, "ci", now.Add(-time.Hour), now.Add(-time.Hour))
			if ok, _ := r.validate(); ok {
				t.Fatal("allowed with the FAIL in place")
			}
			tag := r.digest.Context().Tag(strings.Replace(r.digest.DigestStr(), ":", "-", 1))
			idx, err := remote.Index(tag)
			if err != nil {
				t.Fatal(err)
			}
			im, _ := idx.IndexManifest()
			var kept []v1.Descriptor
			for _, m := range im.Manifests {
				if m.Digest.String() != fail.DigestStr() {
					kept = append(kept, m)
				}
			}
			im.Manifests = kept
			raw, _ := json.Marshal(im)
			if err := remote.Put(tag, rawJSON{raw: raw, mt: types.OCIImageIndex}); err != nil {
				t.Fatal(err)
			}
			ok, msg := r.validate()
			if ok != tt.allow {
				t.Errorf("after deleting the FAIL: allowed=%v %q, want %v", ok, msg, tt.allow)
			}
			if !ok && !strings.Contains(msg, "maximum verdict age") {
				t.Errorf("deny reason %q does not name the maximum verdict age", msg)
			}
		})
	}
}

// A verdict recording no policy decision is not admitted, and neither is a
// legacy "pass" under the policy "none".
func TestValidateNoDecisionVerdict(t *testing.T) {
	for _, tt := range []struct{ name, result, policy string }{
		{"--no-policy", attest.ResultNone, attest.PolicyNoPolicy},
		{"legacy none", attest.ResultPass, "none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newVerdictRig(t, true, nil)
			r.sign(r.signer, tt.result, tt.policy, time.Now(), time.Now())
			if ok, msg := r.validate(); ok || !strings.Contains(msg, "no policy decision") {
				t.Errorf("allowed=%v %q, want a deny saying no policy decided", ok, msg)
			}
		})
	}
}

// The maximum age applies after the cache: a verdict cached when young
// stops admitting once it is too old, and without a policy.
func TestMaxVerdictAgeAfterCache(t *testing.T) {
	s, _, ver := newTestServer(t, func(c *Config) { c.MaxVerdictAge = time.Hour })
	req := reviewOf("default", "Pod", podJSON("p", nil, "registry.test/app@"+digestA))
	if resp := s.Validate(context.Background(), req); !resp.Allowed {
		t.Fatalf("fresh verdict denied: %s", resp.Result.Message)
	}
	ver.mu.Lock()
	ver.verdicts[digestA].Created = time.Now().Add(-2 * time.Hour) // the cached *Verdict ages
	ver.mu.Unlock()
	resp := s.Validate(context.Background(), req)
	if resp.Allowed || !strings.Contains(resp.Result.Message, "maximum verdict age 1h0m0s") {
		t.Errorf("aged verdict: allowed=%v %q", resp.Allowed, resp.Result.Message)
	}
	if n := ver.calls.Load(); n != 1 {
		t.Errorf("verifier called %d times, want 1 (the second answer came from the cache)", n)
	}
}
