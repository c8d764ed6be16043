package attest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// FuzzParseKeys feeds key files (drydock verify --key, the admission
// webhook's key set): parse or fail with ErrMalformed, never panic.
func FuzzParseKeys(f *testing.F) {
	k, err := GenerateKey()
	if err != nil {
		f.Fatal(err)
	}
	pub, err := MarshalPublicKey(&k.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	priv, err := MarshalPrivateKey(k, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pub)
	f.Add(priv)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseKeys(b)
		if err == nil && len(keys.IDs()) == 0 {
			t.Fatalf("no error and no key")
		}
		if _, err := ParsePublicKey(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParsePublicKey error does not wrap ErrMalformed: %v", err)
		}
		ParsePrivateKey(b, nil)
		ParsePrivateKey(b, []byte("pass"))
	})
}

func TestVerifyEnvelopeBoundsSignatures(t *testing.T) {
	s, keys := newKey(t)
	d, _ := name.NewDigest("example.com/a@sha256:" + strings.Repeat("ab", 32))
	env, err := s.Sign(statementFor(t, d, ResultPass, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	good := env.Signatures[0]
	tests := []struct {
		name string
		sigs []dsse.Signature
		want error
		text string
	}{
		{"none", nil, ErrBadSignature, "no signatures"},
		{"too many duplicates", slices.Repeat([]dsse.Signature{{KeyID: "x", Sig: "AAAA"}}, MaxSignatures+1), ErrMalformed, "17 signatures, more than the 16"},
		{"oversized", []dsse.Signature{{KeyID: good.KeyID, Sig: strings.Repeat("QUJD", 1<<18)}}, ErrBadSignature, "too long for ECDSA"},
		{"good after bad ones", append(slices.Repeat([]dsse.Signature{{Sig: "AAAA"}}, MaxSignatures-1), good), nil, ""},
	}
	for _, tt := range tests {
		e := *env
		e.Signatures = tt.sigs
		_, _, err := VerifyEnvelope(&e, keys)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s: err %v, want %v with %q", tt.name, err, tt.want, tt.text)
		}
	}
}
