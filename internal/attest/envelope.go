package attest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// The in-toto statement is written as plain structs rather than with the
// in-toto/attestation protobuf bindings: those carry the predicate as a
// structpb.Struct, which would lose the typed predicate and its field order,
// and drydock needs only Statement v1's four fields.

// Statement is an in-toto Statement v1 whose predicate is a drydock verdict.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject names an artifact by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is a drydock verdict: what was scanned, with which data, what
// was found and what the policy decided.
type Predicate struct {
	Scanner  Scanner        `json:"scanner"`
	Database Database       `json:"database"`
	Counts   map[string]int `json:"counts"`
	// Fixable counts the findings with a known fixed version.
	Fixable int `json:"fixable"`
	// Findings are the finding ids, sorted and unique.
	Findings []string `json:"findings"`
	// Details carry each finding's severity, fix and package, so that a
	// policy evaluated at admission (from the verdict alone, without a new
	// scan) can apply severity and fixability rules.
	Details []FindingDetail `json:"details,omitempty"`
	Policy  Policy          `json:"policy"`
	Time    time.Time       `json:"time"`
	Image   Image           `json:"image"`
}

// FindingDetail is one finding as recorded in a verdict.
type FindingDetail struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Severity string   `json:"severity"`
	Score    float64  `json:"score,omitempty"`
	Fixed    []string `json:"fixedVersions,omitempty"`
	FixPath  string   `json:"fixPath,omitempty"`
	Package  string   `json:"package"`
	Version  string   `json:"version"`
	Type     string   `json:"type"`
}

// Scanner names the tool that made the verdict.
type Scanner struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Database describes the vulnerability data the scan used.
type Database struct {
	UpdatedAt  *time.Time `json:"updatedAt,omitempty"`
	AgeSeconds int64      `json:"ageSeconds"`
	Sources    []string   `json:"sources"`
}

// Policy is the policy outcome: Result is ResultPass or ResultFail.
type Policy struct {
	Name       string   `json:"name"`
	Result     string   `json:"result"`
	Violations []string `json:"violations"`
}

// Image is the image the verdict is about.
type Image struct {
	Ref        string `json:"ref"`
	Digest     string `json:"digest"`
	BaseName   string `json:"baseName,omitempty"`
	BaseDigest string `json:"baseDigest,omitempty"`
}

// Outcome is the recorded result, ResultPass, ResultFail or ResultNone; a
// "pass" recorded under the legacy policy "none" (earlier drydock signing
// without any decision) is ResultNone.
func (p *Predicate) Outcome() string {
	if p.Policy.Result == ResultPass && p.Policy.Name == legacyPolicyNone {
		return ResultNone
	}
	return p.Policy.Result
}

// Passed reports whether a policy decided and passed.
func (p *Predicate) Passed() bool { return p.Outcome() == ResultPass }

// Envelope is a DSSE envelope.
type Envelope = dsse.Envelope

// NewStatement wraps a predicate in a statement about the given subjects:
// "repository" names and "sha256:<hex>" digests.
func NewStatement(repository string, digests []string, p Predicate) (*Statement, error) {
	st := &Statement{Type: StatementType, PredicateType: PredicateType, Predicate: p}
	for _, d := range digests {
		hexPart, ok := strings.CutPrefix(d, "sha256:")
		if !ok || len(hexPart) != 64 {
			return nil, fmt.Errorf("attest: subject digest %q: want sha256:<64 hex>", d)
		}
		if _, err := hex.DecodeString(hexPart); err != nil {
			return nil, fmt.Errorf("attest: subject digest %q: %w", d, err)
		}
		st.Subject = append(st.Subject, Subject{Name: repository, Digest: map[string]string{"sha256": hexPart}})
	}
	if len(st.Subject) == 0 {
		return nil, errors.New("attest: a statement needs a subject")
	}
	return st, nil
}

// Sign encodes the statement and signs it into a DSSE envelope: ECDSA P-256
// over SHA-256 of the DSSE pre-authentication encoding, keyid the signer's
// KeyID.
func (s *Signer) Sign(st *Statement) (*Envelope, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("attest: encode statement: %w", err)
	}
	return s.SignPayload(PayloadType, payload)
}

// SignPayload signs any payload into a DSSE envelope.
func (s *Signer) SignPayload(payloadType string, payload []byte) (*Envelope, error) {
	sig, err := s.signMessage(dsse.PAE(payloadType, payload))
	if err != nil {
		return nil, err
	}
	return &Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{KeyID: s.keyID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// DecodeEnvelope parses a DSSE envelope strictly: JSON object, a payload and
// at least one signature, all base64.
func DecodeEnvelope(b []byte) (*Envelope, error) {
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("attest: envelope: %w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("attest: envelope: %w: trailing data", ErrMalformed)
	}
	if env.PayloadType == "" || env.Payload == "" || len(env.Signatures) == 0 {
		return nil, fmt.Errorf("attest: envelope: %w: missing payloadType, payload or signatures", ErrMalformed)
	}
	if _, err := env.DecodeB64Payload(); err != nil {
		return nil, fmt.Errorf("attest: envelope: %w: %w", ErrMalformed, err)
	}
	return &env, nil
}

// MaxSignatures is the most signatures VerifyEnvelope accepts in one
// envelope.
const MaxSignatures = 16

// maxSignatureB64 bounds one base64 signature: an ASN.1 ECDSA P-521
// signature is under 140 bytes; 1 KiB leaves room for any key drydock reads.
const maxSignatureB64 = 1 << 10

// VerifyEnvelope checks the envelope's signatures against v and returns the
// decoded payload and the id of the trusted key that signed it. One valid
// signature from a trusted key is enough.
func VerifyEnvelope(env *Envelope, v Verifier) (payload []byte, keyID string, err error) {
	payload, err = env.DecodeB64Payload()
	if err != nil {
		return nil, "", fmt.Errorf("attest: envelope: %w: %w", ErrMalformed, err)
	}
	// A verdict carries one signature, a rotation a few more. Thousands
	// (duplicated or not) would cost a verification each and an error line
	// each: refuse them before verifying any.
	if n := len(env.Signatures); n > MaxSignatures {
		return nil, "", fmt.Errorf("attest: envelope: %w: %d signatures, more than the %d a verdict may carry", ErrMalformed, n, MaxSignatures)
	}
	sum := sha256.Sum256(dsse.PAE(env.PayloadType, payload))
	var errs []error
	for _, s := range env.Signatures {
		if len(s.Sig) > maxSignatureB64 {
			errs = append(errs, fmt.Errorf("%w: signature of %d bytes, too long for ECDSA", ErrBadSignature, len(s.Sig)))
			continue
		}
		sig, derr := base64.StdEncoding.DecodeString(s.Sig)
		if derr != nil {
			errs = append(errs, fmt.Errorf("%w: signature is not base64", ErrBadSignature))
			continue
		}
		id, verr := v.VerifyDigest(s.KeyID, sum[:], sig)
		if verr == nil {
			return payload, id, nil
		}
		errs = append(errs, verr)
	}
	if len(errs) == 0 {
		return nil, "", fmt.Errorf("attest: envelope: %w: no signatures", ErrBadSignature)
	}
	return nil, "", fmt.Errorf("attest: envelope: %w", errors.Join(errs...))
}

// DecodeStatement parses a verdict statement and checks its types: the
// statement type, the payload type and drydock's predicate type.
func DecodeStatement(payloadType string, payload []byte) (*Statement, error) {
	if payloadType != PayloadType {
		return nil, fmt.Errorf("attest: %w: payload type %q, want %q", ErrMalformed, payloadType, PayloadType)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("attest: statement: %w: %w", ErrMalformed, err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("attest: statement: %w: _type %q", ErrMalformed, st.Type)
	}
	if st.PredicateType != PredicateType {
		return nil, fmt.Errorf("attest: statement: %w: predicate type %q, want %q", ErrMalformed, st.PredicateType, PredicateType)
	}
	if len(st.Subject) == 0 {
		return nil, fmt.Errorf("attest: statement: %w: no subject", ErrMalformed)
	}
	if r := st.Predicate.Policy.Result; r != ResultPass && r != ResultFail && r != ResultNone {
		return nil, fmt.Errorf("attest: statement: %w: policy result %q", ErrMalformed, r)
	}
	return &st, nil
}

// HasSubject reports whether one of the statement's subjects has the given
// "sha256:<hex>" digest. Names are not compared: an image copied to another
// registry keeps its digest and its verdict.
func (st *Statement) HasSubject(digest string) bool {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok {
		return false
	}
	for _, s := range st.Subject {
		if s.Digest["sha256"] == hexPart {
			return true
		}
	}
	return false
}
