package attest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// PEM block types, as cosign writes them.
const (
	pemEncryptedSigstore = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemEncryptedCosign   = "ENCRYPTED COSIGN PRIVATE KEY" // older cosign releases
	pemPrivate           = "PRIVATE KEY"
	pemECPrivate         = "EC PRIVATE KEY"
	pemPublic            = "PUBLIC KEY"
)

// GenerateKey makes a new ECDSA P-256 signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attest: generate key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKey encodes priv as PEM. With a non-empty passphrase it is
// cosign's "ENCRYPTED SIGSTORE PRIVATE KEY" (PKCS#8 encrypted with scrypt and
// NaCl secretbox, as go-securesystemslib's encrypted package does); with an
// empty passphrase, a plain PKCS#8 "PRIVATE KEY".
func MarshalPrivateKey(priv *ecdsa.PrivateKey, passphrase []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("attest: marshal private key: %w", err)
	}
	if len(passphrase) == 0 {
		return pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), nil
	}
	enc, err := encrypted.Encrypt(der, passphrase)
	if err != nil {
		return nil, fmt.Errorf("attest: encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemEncryptedSigstore, Bytes: enc}), nil
}

// MarshalPublicKey encodes pub as a PKIX "PUBLIC KEY" PEM.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("attest: marshal public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der}), nil
}

// ParsePrivateKey decodes a private key PEM: cosign's encrypted formats
// (the passphrase is required), PKCS#8 or SEC 1. It returns ErrBadPassphrase
// when decryption fails.
func ParsePrivateKey(pemBytes, passphrase []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, fmt.Errorf("attest: private key: %w: no PEM block", ErrMalformed)
	}
	der := b.Bytes
	switch b.Type {
	case pemEncryptedSigstore, pemEncryptedCosign:
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("attest: private key is encrypted: %w: no passphrase given", ErrBadPassphrase)
		}
		var err error
		if der, err = encrypted.Decrypt(b.Bytes, passphrase); err != nil {
			return nil, fmt.Errorf("attest: decrypt private key: %w", ErrBadPassphrase)
		}
	case pemECPrivate:
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("attest: private key: %w: %w", ErrMalformed, err)
		}
		return checkCurve(k)
	case pemPrivate:
	default:
		return nil, fmt.Errorf("attest: private key: %w: PEM type %q", ErrMalformed, b.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("attest: private key: %w: %w", ErrMalformed, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("attest: private key: %w: %T, want ECDSA P-256", ErrMalformed, k)
	}
	return checkCurve(ek)
}

func checkCurve(k *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("attest: private key: %w: curve %s, want P-256", ErrMalformed, k.Curve.Params().Name)
	}
	return k, nil
}

// ParsePublicKey decodes a PKIX "PUBLIC KEY" PEM holding an ECDSA P-256 key.
func ParsePublicKey(pemBytes []byte) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil || b.Type != pemPublic {
		return nil, fmt.Errorf("attest: public key: %w: want a PEM %q block", ErrMalformed, pemPublic)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("attest: public key: %w: %w", ErrMalformed, err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("attest: public key: %w: want ECDSA P-256", ErrMalformed)
	}
	return ek, nil
}

// KeyID is the hex SHA-256 of the public key's PKIX DER encoding: the keyid
// drydock writes into DSSE signatures.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("attest: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Signer signs verdicts with one private key.
type Signer struct {
	key   *ecdsa.PrivateKey
	keyID string
}

// NewSigner wraps an ECDSA P-256 private key.
func NewSigner(key *ecdsa.PrivateKey) (*Signer, error) {
	if key == nil {
		return nil, errors.New("attest: nil signing key")
	}
	if _, err := checkCurve(key); err != nil {
		return nil, err
	}
	id, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, keyID: id}, nil
}

// KeyID is the signer's key id (see KeyID).
func (s *Signer) KeyID() string { return s.keyID }

// Public is the signer's public key.
func (s *Signer) Public() *ecdsa.PublicKey { return &s.key.PublicKey }

// signMessage signs SHA-256(msg) with an ASN.1 ECDSA signature.
func (s *Signer) signMessage(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		return nil, fmt.Errorf("attest: sign: %w", err)
	}
	return sig, nil
}

// Verifier decides whether a signature was made by a trusted key. Keys is
// the implementation for public key files; the admission webhook may wrap
// its own (a KMS, keys rotated from a ConfigMap).
type Verifier interface {
	// VerifyDigest checks sig, an ASN.1 ECDSA signature, over a SHA-256
	// digest. keyID is the signer's hint and may be empty or wrong. It
	// returns the id of the trusted key that verified, or an error wrapping
	// ErrUntrustedKey (no trusted key has that id and none verifies) or
	// ErrBadSignature (a trusted key has that id, or there is no id, and
	// the signature does not verify).
	VerifyDigest(keyID string, digest, sig []byte) (string, error)
}

// Keys is a Verifier trusting a fixed set of ECDSA public keys. Build it
// once and reuse it: it holds the key ids precomputed.
type Keys struct {
	ids  []string
	keys []*ecdsa.PublicKey
}

// NewKeys trusts the given public keys (at least one).
func NewKeys(pubs ...*ecdsa.PublicKey) (*Keys, error) {
	if len(pubs) == 0 {
		return nil, errors.New("attest: no trusted keys")
	}
	k := &Keys{}
	for _, p := range pubs {
		id, err := KeyID(p)
		if err != nil {
			return nil, err
		}
		k.ids = append(k.ids, id)
		k.keys = append(k.keys, p)
	}
	return k, nil
}

// ParseKeys trusts the public keys in the given PEM documents.
func ParseKeys(pems ...[]byte) (*Keys, error) {
	var pubs []*ecdsa.PublicKey
	for _, p := range pems {
		k, err := ParsePublicKey(p)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, k)
	}
	return NewKeys(pubs...)
}

// IDs lists the trusted key ids.
func (k *Keys) IDs() []string { return append([]string(nil), k.ids...) }

// VerifyDigest implements Verifier. A key id that names a trusted key is
// tried first; otherwise every key is tried, since cosign leaves key ids
// empty.
func (k *Keys) VerifyDigest(keyID string, digest, sig []byte) (string, error) {
	known := false
	for i, id := range k.ids {
		if keyID != "" && id == keyID {
			known = true
			if ecdsa.VerifyASN1(k.keys[i], digest, sig) {
				return id, nil
			}
		}
	}
	for i, id := range k.ids {
		if id != keyID && ecdsa.VerifyASN1(k.keys[i], digest, sig) {
			return id, nil
		}
	}
	if known || keyID == "" {
		return "", ErrBadSignature
	}
	return "", fmt.Errorf("%w (key id %.16s…)", ErrUntrustedKey, keyID)
}
