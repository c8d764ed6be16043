package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The attacks of issue 10 that concern which verdict counts, each against
// go-containerregistry's in-process registry with the OCI 1.1 referrers API
// and again with the referrers tag schema. The attacker can push and delete
// manifests in the repository but holds no trusted key.

var registryModes = []struct {
	name      string
	referrers bool
}{{"referrers API", true}, {"tag schema", false}}

// reattach pushes env again as a new referrer manifest whose unsigned
// annotations claim it was created at claimed: what an attacker does to
// put an old signed verdict on top of the listing.
func reattach(t testing.TB, d name.Digest, env *Envelope, claimed time.Time, result string) name.Digest {
	t.Helper()
	loc, err := PushEnvelope(context.Background(), d, env, map[string]string{
		AnnotationCreated: claimed.UTC().Format(createdFormat),
		AnnotationResult:  result,
		"attack":          claimed.String(), // a distinct manifest per call
	})
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func signAt(t testing.TB, s *Signer, d name.Digest, result string, at time.Time) *Envelope {
	t.Helper()
	env, err := s.Sign(statementFor(t, d, result, at))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Attack 1: an old, validly signed PASS re-attached with a newer unsigned
// creation annotation beside a newer FAIL. The old code sorted by the
// annotation and took the first valid verdict: it admitted the image.
func TestRollbackByAnnotation(t *testing.T) {
	for _, mode := range registryModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			host := testRegistry(t, mode.referrers)
			d := pushImage(t, host, "team/app")
			s, keys := newKey(t)
			now := time.Now()

			oldPass := signAt(t, s, d, ResultPass, now.Add(-2*time.Hour))
			reattach(t, d, oldPass, now.Add(-2*time.Hour), ResultPass)
			failLoc := reattach(t, d, signAt(t, s, d, ResultFail, now.Add(-time.Hour)), now.Add(-time.Hour), ResultFail)
			// The attack: the same signed PASS, claimed to be newest, several
			// times over.
			for i := range 3 {
				reattach(t, d, oldPass, now.Add(time.Duration(i)*time.Minute), ResultPass)
			}

			_, err := VerifyImage(ctx, d, keys, WithRequirePass(true))
			if !errors.Is(err, ErrNoVerdict) || !errors.Is(err, ErrPolicyFailed) {
				t.Fatalf("require pass: err = %v, want ErrNoVerdict and ErrPolicyFailed", err)
			}
			vd, err := VerifyImage(ctx, d, keys)
			if err != nil {
				t.Fatal(err)
			}
			if vd.Passed() || vd.Location != failLoc.String() {
				t.Errorf("deciding verdict = %s (passed %v), want the newer FAIL %s", vd.Location, vd.Passed(), failLoc)
			}

			// verify's listing agrees: nothing is accepted when a pass is
			// required, and every copy of the old PASS is superseded.
			all, err := VerifyAll(ctx, d, keys, WithRequirePass(true))
			if err != nil {
				t.Fatal(err)
			}
			superseded := 0
			for _, v := range all {
				if v.Err == nil {
					t.Errorf("accepted %s (passed %v) beside a newer FAIL", v.Location, v.Passed())
				}
				if errors.Is(v.Err, ErrSuperseded) {
					superseded++
				}
			}
			if len(all) != 5 || superseded != 4 || all[0].Location != failLoc.String() || !errors.Is(all[0].Err, ErrPolicyFailed) {
				t.Errorf("VerifyAll: %d verdicts, %d superseded, first %s: %v", len(all), superseded, all[0].Location, all[0].Err)
			}
		})
	}
}

// Several trusted keys: one key's newest FAIL is not outvoted by another
// key's newer PASS.
func TestRollbackAcrossKeys(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, true)
	d := pushImage(t, host, "team/app")
	a, _ := newKey(t)
	b, _ := newKey(t)
	keys, err := NewKeys(a.Public(), b.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	reattach(t, d, signAt(t, a, d, ResultPass, now.Add(-3*time.Hour)), now.Add(-3*time.Hour), ResultPass)
	failA := reattach(t, d, signAt(t, a, d, ResultFail, now.Add(-2*time.Hour)), now.Add(-2*time.Hour), ResultFail)
	reattach(t, d, signAt(t, b, d, ResultPass, now.Add(-time.Hour)), now.Add(-time.Hour), ResultPass)

	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true)); !errors.Is(err, ErrPolicyFailed) {
		t.Fatalf("key A's newest fails, key B's passes: err = %v, want ErrPolicyFailed", err)
	}
	vd, err := VerifyImage(ctx, d, keys)
	if err != nil || vd.Location != failA.String() {
		t.Fatalf("deciding verdict = %v, %v; want key A's FAIL %s", vd, err, failA)
	}

	// Key A signs a newer PASS: both keys' words pass, the newest decides.
	passA := reattach(t, d, signAt(t, a, d, ResultPass, now.Add(-time.Minute)), now.Add(-time.Minute), ResultPass)
	vd, err = VerifyImage(ctx, d, keys, WithRequirePass(true))
	if err != nil || vd.Location != passA.String() {
		t.Fatalf("after key A re-attests: %v, %v; want %s", vd, err, passA)
	}
}

// Equal signed times: the failing verdict is the key's word.
func TestEqualTimesFailWins(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, true)
	d := pushImage(t, host, "team/app")
	s, keys := newKey(t)
	at := time.Now().Add(-time.Minute)
	reattach(t, d, signAt(t, s, d, ResultPass, at), at, ResultPass)
	reattach(t, d, signAt(t, s, d, ResultFail, at), at, ResultFail)
	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true)); !errors.Is(err, ErrPolicyFailed) {
		t.Fatalf("err = %v, want ErrPolicyFailed", err)
	}
}

// A FAIL deleted from the tag schema's index (a tag anyone with push access
// can rewrite) leaves the older PASS. Nothing in the registry can prove the
// FAIL existed; what bounds the rollback is the maximum age: the PASS stops
// counting once it is older than that.
func TestRollbackByDeletionIsBoundedByMaxAge(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, false)
	d := pushImage(t, host, "team/app")
	s, keys := newKey(t)
	now := time.Now()
	reattach(t, d, signAt(t, s, d, ResultPass, now.Add(-8*24*time.Hour)), now.Add(-8*24*time.Hour), ResultPass)
	failLoc := reattach(t, d, signAt(t, s, d, ResultFail, now.Add(-time.Hour)), now.Add(-time.Hour), ResultFail)
	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true)); !errors.Is(err, ErrPolicyFailed) {
		t.Fatalf("before the deletion: %v, want ErrPolicyFailed", err)
	}

	// The attacker rewrites the "sha256-<hex>" tag without the FAIL.
	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var kept []v1.Descriptor
	for _, m := range im.Manifests {
		if m.Digest.String() != failLoc.DigestStr() {
			kept = append(kept, m)
		}
	}
	if len(kept) != len(im.Manifests)-1 {
		t.Fatalf("FAIL %s not in the tag index %+v", failLoc, im.Manifests)
	}
	im.Manifests = kept
	raw, _ := json.Marshal(im)
	if err := remote.Put(tag, rawManifest{raw: raw, mt: types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}

	// Without a maximum age the rollback works: the 8-day-old PASS is all
	// that is left.
	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true)); err != nil {
		t.Fatalf("no max age: %v (the old PASS is the only verdict left)", err)
	}
	// With a week, it does not.
	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true), WithMaxAge(7*24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("max age 7d: err = %v, want ErrExpired", err)
	}
}

// A trusted key's newest verdict dated in the future is rejected, and the
// older PASS beside it does not take its place: a future-dated verdict would
// otherwise outrank every verdict signed until then.
func TestFutureDatedVerdict(t *testing.T) {
	for _, result := range []string{ResultPass, ResultFail} {
		t.Run(result, func(t *testing.T) {
			ctx := context.Background()
			host := testRegistry(t, true)
			d := pushImage(t, host, "team/app")
			s, keys := newKey(t)
			now := time.Now()
			reattach(t, d, signAt(t, s, d, ResultPass, now.Add(-time.Hour)), now.Add(-time.Hour), ResultPass)
			reattach(t, d, signAt(t, s, d, result, now.Add(time.Hour)), now.Add(-2*time.Hour), result)

			_, err := VerifyImage(ctx, d, keys)
			if !errors.Is(err, ErrNoVerdict) || !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "future") {
				t.Fatalf("err = %v, want ErrNoVerdict and ErrExpired (future)", err)
			}
			// Within a configured skew it counts.
			vd, err := VerifyImage(ctx, d, keys, WithClockSkew(2*time.Hour))
			if err != nil || vd.Statement.Predicate.Policy.Result != result {
				t.Errorf("skew 2h: %v, %v; want the future-dated %s", vd, err, result)
			}
		})
	}
}

// countingRegistry is the in-process registry with a log of the manifests
// fetched by digest and the blobs fetched.
type countingRegistry struct {
	host string
	mu   sync.Mutex
	gets map[string]int // "manifests/<digest>" or "blobs/<digest>" → count
}

func newCountingRegistry(t testing.TB, referrers bool) *countingRegistry {
	t.Helper()
	c := &countingRegistry{gets: map[string]int{}}
	h := registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			for _, kind := range []string{"/manifests/sha256:", "/blobs/sha256:"} {
				if i := strings.Index(r.URL.Path, kind); i >= 0 {
					c.mu.Lock()
					c.gets[r.URL.Path[i+1:]]++
					c.mu.Unlock()
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	c.host = strings.TrimPrefix(s.URL, "http://")
	return c
}

func (c *countingRegistry) fetched(kind string, d name.Digest) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[kind+"/"+d.DigestStr()]
}

func (c *countingRegistry) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.gets)
}

// junk is what an attacker without a key attaches to crowd out a verdict.
type junk struct {
	wrongType, huge, unsigned, untrusted, badSig []name.Digest
}

// pushJunk attaches n junk referrers of five kinds to d, each claiming to
// be newer than anything else (the annotation the old code sorted by).
func pushJunk(t testing.TB, d name.Digest, s *Signer, n int) junk {
	t.Helper()
	attacker, _ := newKey(t)
	var j junk
	var hugeAt []int
	newest := time.Now().Add(time.Hour)
	for i := range n {
		claimed := newest.Add(time.Duration(i) * time.Second)
		switch i % 5 {
		case 0: // another artifact type (an SBOM, say)
			j.wrongType = append(j.wrongType, pushReferrer(t, d, "application/vnd.example.sbom+json", []byte(`{"sbom":`+itoa(i)+`}`), "application/vnd.example.sbom+json", claimed, nil))
		case 1: // a verdict-typed manifest too large to be one: pushed last,
			// since the test registry parses every manifest on each push
			hugeAt = append(hugeAt, i)
		case 2: // an envelope without signatures
			env := signAt(t, s, d, ResultPass, time.Now())
			env.Signatures = nil
			j.unsigned = append(j.unsigned, reattach(t, d, env, claimed, ResultPass))
		case 3: // validly signed, by a key nobody trusts
			j.untrusted = append(j.untrusted, reattach(t, d, signAt(t, attacker, d, ResultPass, time.Now().Add(-time.Duration(i)*time.Millisecond)), claimed, ResultPass))
		case 4: // the trusted key's id, a signature that does not verify
			env := signAt(t, attacker, d, ResultPass, time.Now().Add(-time.Duration(i)*time.Millisecond))
			env.Signatures[0].KeyID = s.KeyID()
			j.badSig = append(j.badSig, reattach(t, d, env, claimed, ResultPass))
		}
	}
	pad := map[string]string{"pad": strings.Repeat("x", MaxReferrerManifestSize)}
	for _, i := range hugeAt {
		claimed := newest.Add(time.Duration(i) * time.Second)
		j.huge = append(j.huge, pushReferrer(t, d, types.OCIEmptyJSON, []byte(`{"n":`+itoa(i)+`}`), EnvelopeMediaType, claimed, pad))
	}
	return j
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// pushReferrer pushes a referrer manifest of d with the given config media
// type and artifact type, one layer holding b.
func pushReferrer(t testing.TB, d name.Digest, cfgType types.MediaType, b []byte, layerType types.MediaType, claimed time.Time, extra map[string]string) name.Digest {
	t.Helper()
	repo := d.Context()
	sub, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	cfgBytes := emptyJSON
	if cfgType != types.OCIEmptyJSON {
		cfgBytes = b
	}
	ann := map[string]string{AnnotationCreated: claimed.UTC().Format(createdFormat), AnnotationResult: ResultPass}
	for k, v := range extra {
		ann[k] = v
	}
	m := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: string(cfgType),
		Config:      staticLayer(t, repo, cfgBytes, cfgType),
		Layers:      []v1.Descriptor{staticLayer(t, repo, b, layerType)},
		Annotations: ann,
		Subject:     &v1.Descriptor{MediaType: sub.MediaType, Size: sub.Size, Digest: sub.Digest},
	}
	if cfgType == types.OCIEmptyJSON {
		m.ArtifactType = ArtifactType
	}
	raw, _ := json.Marshal(m)
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	loc := repo.Digest(h.String())
	if err := remote.Put(loc, rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return loc
}

// Attack 4: 100 junk referrers, all claiming to be newer, beside one valid
// verdict. The old code examined only the 50 newest by annotation and
// never reached the verdict. Now every candidate is considered, and junk of
// another type or too large is never fetched.
func TestReferrerFlood(t *testing.T) {
	for _, mode := range registryModes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			reg := newCountingRegistry(t, mode.referrers)
			d := pushImage(t, reg.host, "team/app")
			s, keys := newKey(t)
			at := time.Now().Add(-time.Hour)
			good := reattach(t, d, signAt(t, s, d, ResultPass, at), at.Add(-24*time.Hour), ResultPass)
			j := pushJunk(t, d, s, 100)
			reg.reset()

			vd, err := VerifyImage(ctx, d, keys, WithRequirePass(true), WithMaxAge(24*time.Hour))
			if err != nil {
				t.Fatalf("VerifyImage with 100 junk referrers: %v", err)
			}
			if vd.Location != good.String() {
				t.Errorf("accepted %s, want %s", vd.Location, good)
			}
			for _, dd := range append(j.wrongType, j.huge...) {
				if n := reg.fetched("manifests", dd); n != 0 {
					t.Errorf("junk %s (other type or too large) fetched %d times; it should be skipped from the listing", dd, n)
				}
			}
			for _, dd := range append(append(j.unsigned, j.untrusted...), j.badSig...) {
				if n := reg.fetched("manifests", dd); n != 1 {
					t.Errorf("verdict-typed junk %s fetched %d times, want once", dd, n)
				}
			}
			reg.mu.Lock()
			for k := range reg.gets {
				if strings.HasPrefix(k, "blobs/") {
					t.Errorf("fetched %s: every envelope here is embedded, no blob is needed", k)
				}
			}
			reg.mu.Unlock()

			all, err := VerifyAll(ctx, d, keys, WithRequirePass(true))
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[error]int{}
			for _, v := range all[1:] {
				for _, e := range []error{ErrMalformed, ErrUntrustedKey, ErrBadSignature} {
					if errors.Is(v.Err, e) {
						reasons[e]++
					}
				}
			}
			if all[0].Err != nil || len(all) != 61 || reasons[ErrMalformed] != 20 || reasons[ErrUntrustedKey] != 20 || reasons[ErrBadSignature] != 20 {
				t.Errorf("VerifyAll: %d results, first %v, rejections %v", len(all), all[0].Err, reasons)
			}
		})
	}
}

// Past the bound on verdict-typed referrers, verification fails closed: it
// never judges from a subset that might miss a newer FAIL.
func TestTooManyReferrersFailsClosed(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, true)
	d := pushImage(t, host, "team/app")
	s, keys := newKey(t)
	reattach(t, d, signAt(t, s, d, ResultPass, time.Now()), time.Now(), ResultPass)
	pushJunk(t, d, s, 10) // 6 verdict-typed (unsigned, untrusted, bad signature)
	limit := func(n int) Option { return func(o *options) { o.maxExamined = n } }

	if _, err := VerifyImage(ctx, d, keys, limit(7)); err != nil {
		t.Fatalf("7 candidates, limit 7: %v", err)
	}
	_, err := VerifyImage(ctx, d, keys, limit(6))
	if !errors.Is(err, ErrNoVerdict) || !errors.Is(err, ErrTooManyReferrers) {
		t.Fatalf("7 candidates, limit 6: %v, want ErrNoVerdict and ErrTooManyReferrers", err)
	}
	if _, err := VerifyAll(ctx, d, keys, limit(6)); !errors.Is(err, ErrTooManyReferrers) {
		t.Errorf("VerifyAll: %v", err)
	}
}

// A verdict that records no policy decision never passes; neither does a
// "pass" recorded under the policy "none" by earlier drydock versions that
// signed without a decision.
func TestNoDecisionNeverPasses(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ name, policy, result string }{
		{"--no-policy", PolicyNoPolicy, ResultNone},
		{"legacy policy none", "none", ResultPass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host := testRegistry(t, true)
			d := pushImage(t, host, "team/app")
			s, keys := newKey(t)
			st := statementFor(t, d, tt.result, time.Now())
			st.Predicate.Policy.Name = tt.policy
			env, err := s.Sign(st)
			if err != nil {
				t.Fatal(err)
			}
			reattach(t, d, env, time.Now(), tt.result)
			_, err = VerifyImage(ctx, d, keys, WithRequirePass(true))
			if !errors.Is(err, ErrPolicyFailed) || !strings.Contains(err.Error(), "no policy decision") {
				t.Fatalf("require pass: %v, want ErrPolicyFailed (no policy decision)", err)
			}
			vd, err := VerifyImage(ctx, d, keys)
			if err != nil || vd.Passed() || vd.Statement.Predicate.Outcome() != ResultNone {
				t.Errorf("without require pass: %+v, %v; want the verdict, not passed, outcome none", vd, err)
			}
		})
	}
}

// A huge verdict-typed referrer whose listing lies about its size (the tag
// schema's index is written by whoever pushes) is still rejected once read.
func TestListedSizeLie(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, false)
	d := pushImage(t, host, "team/app")
	s, keys := newKey(t)
	good := reattach(t, d, signAt(t, s, d, ResultPass, time.Now()), time.Now(), ResultPass)
	pad := map[string]string{"pad": strings.Repeat("x", MaxReferrerManifestSize)}
	huge := pushReferrer(t, d, types.OCIEmptyJSON, []byte(`{}`), EnvelopeMediaType, time.Now(), pad)

	tag := d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1))
	idx, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	for i := range im.Manifests {
		if im.Manifests[i].Digest.String() == huge.DigestStr() {
			im.Manifests[i].Size = 1000
		}
	}
	raw, _ := json.Marshal(im)
	if err := remote.Put(tag, rawManifest{raw: raw, mt: types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
	all, err := VerifyAll(ctx, d, keys, WithRequirePass(true))
	if err != nil {
		t.Fatal(err)
	}
	var sawHuge bool
	for _, v := range all {
		if v.Location == huge.String() {
			sawHuge = true
			if !errors.Is(v.Err, ErrMalformed) {
				t.Errorf("oversized manifest: %v, want ErrMalformed", v.Err)
			}
		}
	}
	if !sawHuge || all[0].Location != good.String() || all[0].Err != nil {
		t.Errorf("results: %+v", all)
	}
}

// BenchmarkVerifyJunk is the referrer-flood row of the admission
// benchmark: one VerifyImage of a digest with 100 junk referrers (20 each of
// another artifact type, oversized, unsigned, an untrusted key and a bad
// signature) beside one valid verdict, against the in-process registry.
// Compare with BenchmarkVerify (one verdict alone) in the same run.
func BenchmarkVerifyJunk(b *testing.B) {
	ctx := context.Background()
	host := testRegistry(b, true)
	d := pushImage(b, host, "team/app")
	s, keys := newKey(b)
	at := time.Now()
	reattach(b, d, signAt(b, s, d, ResultPass, at), at.Add(-time.Hour), ResultPass)
	pushJunk(b, d, s, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true), WithMaxAge(time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}

// Envelopes kept in blobs cost a blob fetch each: past MaxBlobFetches the
// digest is not verified (failing closed), before any more are read.
func TestBlobFetchBudget(t *testing.T) {
	ctx := context.Background()
	host := testRegistry(t, true)
	d := pushImage(t, host, "team/app")
	s, keys := newKey(t)
	reattach(t, d, signAt(t, s, d, ResultPass, time.Now()), time.Now(), ResultPass)
	for i := range MaxBlobFetches {
		pushRawVerdict(t, d, []byte(`{"junk":`+itoa(i)+`}`))
	}
	if _, err := VerifyImage(ctx, d, keys, WithRequirePass(true)); err != nil {
		t.Fatalf("%d blob envelopes: %v", MaxBlobFetches, err)
	}
	pushRawVerdict(t, d, []byte(`{"junk":"one more"}`))
	_, err := VerifyImage(ctx, d, keys, WithRequirePass(true))
	if !errors.Is(err, ErrNoVerdict) || !errors.Is(err, ErrTooManyReferrers) {
		t.Errorf("%d blob envelopes: %v, want ErrNoVerdict and ErrTooManyReferrers", MaxBlobFetches+1, err)
	}
}
