package attest

import (
	"errors"
	"testing"
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
