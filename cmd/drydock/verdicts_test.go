package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/testenv"
)

// Issue 10 through the binary: which verdict counts (attacks 1 and 4) and
// the fail-closed defaults (attack 7).

// cliSigner generates an unencrypted key pair with the binary and returns
// the signer for crafting verdicts, and the public key file.
func cliSigner(t *testing.T, e *env) (*attest.Signer, string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "ci")
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--output-key-prefix", prefix); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	b, err := os.ReadFile(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := attest.ParsePrivateKey(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := attest.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s, prefix + ".pub"
}

// attach signs a verdict made at `at` and attaches it with an unsigned
// creation annotation claiming `claimed`.
func attach(t *testing.T, s *attest.Signer, d name.Digest, result string, at, claimed time.Time) name.Digest {
	t.Helper()
	return attachEnv(t, d, signedVerdict(t, s, d, result, at), claimed)
}

func signedVerdict(t *testing.T, s *attest.Signer, d name.Digest, result string, at time.Time) *attest.Envelope {
	t.Helper()
	st, err := attest.NewStatement(d.Context().Name(), []string{d.DigestStr()}, attest.Predicate{
		Scanner: attest.Scanner{Name: "drydock", Version: "test"}, Counts: map[string]int{}, Findings: []string{},
		Policy: attest.Policy{Name: "ci", Result: result, Violations: []string{}},
		Time:   at.UTC(), Image: attest.Image{Ref: d.String(), Digest: d.DigestStr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func attachEnv(t *testing.T, d name.Digest, env *attest.Envelope, claimed time.Time) name.Digest {
	t.Helper()
	loc, err := attest.PushEnvelope(context.Background(), d, env, map[string]string{
		attest.AnnotationCreated: claimed.UTC().Format(time.RFC3339Nano),
		"attempt":                claimed.String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

type decidingOutput struct {
	Accepted bool
	Verdicts []struct {
		Location, Result, Error string
		Accepted, Decides       bool
	}
}

// Attack 1: an old PASS re-attached with a newer annotation beside a newer
// FAIL. "verify --require-pass" used to exit 0 on any older passing
// verdict; now the newer FAIL decides, and --require-pass is the default.
func TestVerifyRollback(t *testing.T) {
	e := newEnv(t)
	s, pub := cliSigner(t, e)
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[referrers], func(t *testing.T) {
			host := startRegistry(t, referrers)
			d := pushRandom(t, host+"/team/app:1")
			now := time.Now()
			old := signedVerdict(t, s, d, attest.ResultPass, now.Add(-2*time.Hour))
			attachEnv(t, d, old, now.Add(-2*time.Hour))
			fail := attach(t, s, d, attest.ResultFail, now.Add(-time.Hour), now.Add(-time.Hour))
			attachEnv(t, d, old, now.Add(time.Minute))

			for _, args := range [][]string{
				{"verify", "--key", pub, host + "/team/app:1"},
				{"verify", "--key", pub, "--require-pass", host + "/team/app:1"},
			} {
				out, errOut, code := e.run(t, args...)
				if code != 1 {
					t.Fatalf("%v: exit %d, want 1\n%s\n%s", args, code, out, errOut)
				}
				var doc decidingOutput
				if err := json.Unmarshal([]byte(out), &doc); err != nil {
					t.Fatal(err)
				}
				if doc.Accepted || len(doc.Verdicts) != 3 || !doc.Verdicts[0].Decides || doc.Verdicts[0].Location != fail.String() ||
					!strings.Contains(doc.Verdicts[0].Error, "failed policy") {
					t.Errorf("%v: the newer FAIL should decide:\n%s", args, out)
				}
				if !strings.Contains(errOut, "deciding verdict "+fail.String()) {
					t.Errorf("%v: message does not name the deciding verdict: %s", args, errOut)
				}
			}
			// --allow-failing accepts the FAIL that decides, never the PASS.
			out, _, code := e.run(t, "verify", "--key", pub, "--allow-failing", host+"/team/app:1")
			var doc decidingOutput
			json.Unmarshal([]byte(out), &doc)
			if code != 0 || !doc.Verdicts[0].Accepted || doc.Verdicts[0].Result != "fail" {
				t.Errorf("--allow-failing: exit %d\n%s", code, out)
			}
		})
	}
}

// Attack 4: 100 junk referrers claiming to be newest beside one valid
// verdict.
func TestVerifyReferrerFlood(t *testing.T) {
	e := newEnv(t)
	s, pub := cliSigner(t, e)
	attacker, _ := cliSigner(t, e)
	host := startRegistry(t, true)
	d := pushRandom(t, host+"/team/app:1")
	now := time.Now()
	attach(t, s, d, attest.ResultPass, now.Add(-time.Hour), now.Add(-72*time.Hour))
	for i := range 100 {
		claimed := now.Add(time.Hour + time.Duration(i)*time.Second)
		switch i % 3 {
		case 0:
			attach(t, attacker, d, attest.ResultPass, now.Add(-time.Duration(i)*time.Millisecond), claimed)
		case 1:
			env := signedVerdict(t, s, d, attest.ResultPass, now)
			env.Signatures = nil
			attachEnv(t, d, env, claimed)
		case 2:
			env := signedVerdict(t, attacker, d, attest.ResultPass, now.Add(-time.Duration(i)*time.Millisecond))
			env.Signatures[0].KeyID = s.KeyID()
			attachEnv(t, d, env, claimed)
		}
	}
	out, errOut, code := e.run(t, "verify", "--key", pub, "--format", "table", d.String())
	if code != 0 || !strings.Contains(out, "accepted*") {
		t.Errorf("valid verdict beside 100 junk referrers: exit %d\n%s\n%s", code, out, errOut)
	}
}

// A verdict signed in the future (beyond --max-clock-skew) is rejected and
// the older PASS does not replace it.
func TestVerifyFutureDated(t *testing.T) {
	e := newEnv(t)
	s, pub := cliSigner(t, e)
	host := startRegistry(t, true)
	d := pushRandom(t, host+"/team/app:1")
	now := time.Now()
	attach(t, s, d, attest.ResultPass, now.Add(-time.Hour), now.Add(-time.Hour))
	attach(t, s, d, attest.ResultPass, now.Add(time.Hour), now.Add(-2*time.Hour))
	if _, errOut, code := e.run(t, "verify", "--key", pub, d.String()); code != 1 || !strings.Contains(errOut, "future") {
		t.Errorf("future-dated verdict: exit %d, want 1: %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "verify", "--key", pub, "--max-clock-skew", "2h", d.String()); code != 0 {
		t.Errorf("--max-clock-skew 2h: exit %d, want 0: %s", code, errOut)
	}
	// verify's default maximum age is the webhook's: a week.
	old := pushRandom(t, host+"/team/old:1")
	attach(t, s, old, attest.ResultPass, now.Add(-8*24*time.Hour), now)
	if _, errOut, code := e.run(t, "verify", "--key", pub, old.String()); code != 1 || !strings.Contains(errOut, "older than") {
		t.Errorf("8-day-old verdict: exit %d, want 1: %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "verify", "--key", pub, "--max-age", "0", old.String()); code != 0 {
		t.Errorf("--max-age 0: exit %d, want 0: %s", code, errOut)
	}
}

// Attack 7: nothing signs a verdict nobody decided.
func TestSigningNeedsADecision(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "drydock.yaml")
	os.WriteFile(cfg, []byte("images:\n  - name: app\n    image: 127.0.0.1:1/team/app:1\n    base: 127.0.0.1:1/os/debian:12\n    rebuild:\n      kind: rebase\n"), 0o644)
	key := filepath.Join(dir, "absent.key") // never read: the refusal comes first
	for _, args := range [][]string{
		{"attest", "--key", key, "127.0.0.1:1/team/app:1"},
		{"rebuild", "--config", cfg, "--key", key},
		{"watch", "--config", cfg, "--key", key, "--listen", "127.0.0.1:0"},
	} {
		_, errOut, code := e.run(t, args...)
		if code != 2 || !strings.Contains(errOut, "no decision to sign") || !strings.Contains(errOut, "--no-policy") {
			t.Errorf("%v: exit %d, want 2 with a message naming the choices: %s", args, code, errOut)
		}
	}
	if _, errOut, code := e.run(t, "attest", "--key", key, "--no-policy", "--fail-on", "high", "x"); code != 2 || !strings.Contains(errOut, "none of the others can be") && !strings.Contains(errOut, "were all set") {
		t.Errorf("--no-policy with --fail-on: exit %d: %s", code, errOut)
	}
}

// attest --no-policy signs the scan as "no policy"; verify and (by the same
// rule) admission never accept it as passing.
func TestAttestNoPolicy(t *testing.T) {
	e := newEnv(t)
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	_, pub := cliSigner(t, e)
	key := strings.TrimSuffix(pub, ".pub") + ".key"
	host := startRegistry(t, true)
	pushLayoutImage(t, lay, "app", host+"/team/app:1")
	src := host + "/team/app:1"

	out, errOut, code := e.run(t, "attest", "--key", key, "--no-policy", src)
	if code != 0 || !strings.Contains(out, "verdict none for") || !strings.Contains(errOut, "no policy decision") {
		t.Fatalf("attest --no-policy: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = e.run(t, "verify", "--key", pub, src)
	if code != 1 || !strings.Contains(errOut, "no policy decision") {
		t.Errorf("verify of a no-policy verdict: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	out, _, code = e.run(t, "verify", "--key", pub, "--allow-failing", src)
	var doc decidingOutput
	json.Unmarshal([]byte(out), &doc)
	if code != 0 || len(doc.Verdicts) != 1 || doc.Verdicts[0].Result != "none" {
		t.Errorf("verify --allow-failing: exit %d\n%s", code, out)
	}
}

// admission serve takes the verdict age and clock skew as flags and refuses
// negative ones.
func TestAdmissionServeVerdictFlags(t *testing.T) {
	e := newEnv(t)
	_, pub := cliSigner(t, e)
	_, errOut, code := e.run(t, "admission", "serve", "--tls-cert", "c", "--tls-key", "k", "--key", pub, "--max-verdict-age", "-1h")
	if code != 2 || !strings.Contains(errOut, "cannot be negative") {
		t.Errorf("negative --max-verdict-age: exit %d: %s", code, errOut)
	}
	out, _, code := e.run(t, "admission", "serve", "--help")
	if code != 0 || !strings.Contains(out, "--max-verdict-age duration") || !strings.Contains(out, "(default 168h0m0s)") {
		t.Errorf("help does not document --max-verdict-age with its default:\n%s", out)
	}
}
