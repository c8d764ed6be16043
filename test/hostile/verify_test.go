package hostile

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/drydock/drydock/internal/attest"
)

// pushImage pushes a small random image and returns its digest reference.
func pushImage(t *testing.T, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/"+repo+":v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, _ := img.Digest()
	d, err := name.NewDigest(host+"/"+repo+"@"+h.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// verdictFor is a passing verdict statement about d.
func verdictFor(t *testing.T, d name.Digest) *attest.Statement {
	t.Helper()
	st, err := attest.NewStatement(d.Context().Name(), []string{d.DigestStr()}, attest.Predicate{
		Scanner: attest.Scanner{Name: "drydock", Version: "test"},
		Counts:  map[string]int{},
		Policy:  attest.Policy{Name: "test", Result: attest.ResultPass, Violations: []string{}},
		Time:    time.Now().UTC().Truncate(time.Second),
		Image:   attest.Image{Ref: d.String(), Digest: d.DigestStr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestHostileVerify pushes verdict envelopes with hostile signature lists to
// go-containerregistry's in-process registry (standing in for an OCI 1.1
// registry with the referrers API) and runs drydock verify against each.
func TestHostileVerify(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	trustedKey, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := attest.NewSigner(trustedKey)
	otherKey, _ := attest.GenerateKey()
	other, _ := attest.NewSigner(otherKey)
	pub, _ := attest.MarshalPublicKey(&trustedKey.PublicKey)
	trustedID, _ := attest.KeyID(&trustedKey.PublicKey)

	cases := []struct {
		name string
		env  func(d name.Digest) *attest.Envelope
		msg  string
	}{
		{"dsse-zero-signatures", func(d name.Digest) *attest.Envelope {
			env, _ := trusted.Sign(verdictFor(t, d))
			env.Signatures = nil
			return env
		}, `first rejected: .*signature`},
		{"dsse-10000-duplicate-untrusted-signatures", func(d name.Digest) *attest.Envelope {
			env, _ := other.Sign(verdictFor(t, d))
			sig := env.Signatures[0]
			env.Signatures = nil
			for i := 0; i < 10_000; i++ {
				env.Signatures = append(env.Signatures, dsse.Signature{KeyID: trustedID, Sig: sig.Sig})
			}
			return env
		}, `first rejected: .*10000 signatures, more than the 16`},
		{"dsse-oversized-signature", func(d name.Digest) *attest.Envelope {
			env, _ := trusted.Sign(verdictFor(t, d))
			env.Signatures = []dsse.Signature{{KeyID: trustedID, Sig: strings.Repeat("QUJD", 16<<10)}}
			return env
		}, `first rejected: .*signature of 65536 bytes, too long`},
		{"dsse-envelope-4MiB", func(d name.Digest) *attest.Envelope {
			env, _ := trusted.Sign(verdictFor(t, d))
			env.Signatures = []dsse.Signature{{KeyID: trustedID, Sig: strings.Repeat("QUJD", 1<<20)}}
			return env
		}, `first rejected: .*no intact .* layer`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			keyFile := writeFile(t, filepath.Join(e.in, "key.pub"), pub)
			d := pushImage(t, host, "hostile/verify"+string(rune('a'+i)))
			if _, err := attest.PushEnvelope(ctx, d, tc.env(d), nil); err != nil {
				t.Fatalf("push envelope: %v", err)
			}
			o := e.run(t, 2*time.Minute, "verify", d.String(), "--key", keyFile, "-f", "json")
			record(t, o, "")
			expectError(t, o, 1, tc.msg)
			expectRSS(t, o, 200)
		})
	}
	t.Run("dsse-control-valid", func(t *testing.T) {
		// The same path with an honest envelope passes, so the failures
		// above are the signatures' doing.
		e := newEnv(t)
		keyFile := writeFile(t, filepath.Join(e.in, "key.pub"), pub)
		d := pushImage(t, host, "hostile/verify-ok")
		env, err := trusted.Sign(verdictFor(t, d))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := attest.PushEnvelope(ctx, d, env, nil); err != nil {
			t.Fatal(err)
		}
		o := e.run(t, time.Minute, "verify", d.String(), "--key", keyFile, "-f", "json")
		record(t, o, "ok: accepted")
		if o.code != 0 {
			t.Errorf("honest verdict: exit %d: %s", o.code, o.stderr)
		}
	})
}
