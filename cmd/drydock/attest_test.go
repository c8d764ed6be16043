package main

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/registrytest"
	"github.com/drydock/drydock/internal/testenv"
)

// startRegistry runs go-containerregistry's registry in this process; the
// drydock binary reaches it over plain HTTP on 127.0.0.1.
func startRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// pushLayoutImage copies the image named refName from an OCI layout to dst.
var pushLayoutImage = registrytest.Push

func TestKeyGenerate(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ci")

	t.Setenv("DRYDOCK_KEY_PASSWORD", "")
	os.Unsetenv("DRYDOCK_KEY_PASSWORD")
	t.Setenv("COSIGN_PASSWORD", "")
	os.Unsetenv("COSIGN_PASSWORD")
	if _, errOut, code := e.run(t, "key", "generate", "--output-key-prefix", prefix); code != 2 || !strings.Contains(errOut, "DRYDOCK_KEY_PASSWORD") {
		t.Fatalf("no passphrase: exit %d, %s", code, errOut)
	}

	t.Setenv("COSIGN_PASSWORD", "s3cret-passphrase")
	out, errOut, code := e.run(t, "key", "generate", "--output-key-prefix", prefix)
	if code != 0 {
		t.Fatalf("key generate: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "s3cret") || strings.Contains(out+errOut, "PRIVATE KEY") {
		t.Errorf("output shows the passphrase or key:\n%s%s", out, errOut)
	}
	priv, _ := os.ReadFile(prefix + ".key")
	if fi, _ := os.Stat(prefix + ".key"); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode())
	}
	if !strings.HasPrefix(string(priv), "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----") {
		t.Fatalf("private key is not cosign's encrypted PEM:\n%.80s", priv)
	}
	k, err := attest.ParsePrivateKey(priv, []byte("s3cret-passphrase"))
	if err != nil {
		t.Fatalf("decrypt with the right passphrase: %v", err)
	}
	if _, err := attest.ParsePrivateKey(priv, []byte("wrong")); err == nil {
		t.Errorf("decrypted with a wrong passphrase")
	}
	pubPEM, _ := os.ReadFile(prefix + ".pub")
	pub, err := attest.ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(&k.PublicKey) {
		t.Errorf("public key does not match: %v", err)
	}
	if id, _ := attest.KeyID(pub); !strings.Contains(out, id) {
		t.Errorf("output does not give the key id %s:\n%s", id, out)
	}

	if _, errOut, code := e.run(t, "key", "generate", "--output-key-prefix", prefix); code != 2 || !strings.Contains(errOut, "--force") {
		t.Errorf("overwrite without --force: exit %d, %s", code, errOut)
	}
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--force", "--output-key-prefix", prefix); code != 0 {
		t.Fatalf("--unencrypted: exit %d, %s", code, errOut)
	}
	priv, _ = os.ReadFile(prefix + ".key")
	if !strings.HasPrefix(string(priv), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("--unencrypted wrote:\n%.80s", priv)
	}
}

type verifyOutput struct {
	Image    string
	Accepted bool
	Verdicts []struct {
		Kind, Location, Error, KeyID, Result, Policy string
		Accepted                                     bool
		Violations                                   []string
	}
}

func TestAttestVerify(t *testing.T) {
	e := newEnv(t)
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	keyDir := t.TempDir()
	t.Setenv("DRYDOCK_KEY_PASSWORD", "ci-passphrase")
	prefix := filepath.Join(keyDir, "ci")
	if _, errOut, code := e.run(t, "key", "generate", "--output-key-prefix", prefix); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	other := filepath.Join(keyDir, "other")
	if _, errOut, code := e.run(t, "key", "generate", "--output-key-prefix", other); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}

	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag schema"}[referrers], func(t *testing.T) {
			host := startRegistry(t, referrers)
			base := pushLayoutImage(t, lay, "base", host+"/library/debian:12")
			app := pushLayoutImage(t, lay, "app", host+"/team/app:1")
			src := host + "/team/app:1"
			scan := []string{"--base", base.String()}

			// A failing verdict: pushed, and exit 1.
			out, errOut, code := e.run(t, append([]string{"attest", "--key", prefix + ".key", "--fail-on", "unknown", src}, scan...)...)
			if code != 1 || !strings.Contains(out, "verdict fail for "+app.String()) {
				t.Fatalf("attest --fail-on unknown: exit %d, want 1\nstdout %s\nstderr %s", code, out, errOut)
			}
			// Verify sees it, but it does not pass.
			out, errOut, code = e.run(t, "verify", "--key", prefix+".pub", "--require-pass", src)
			if code != 1 {
				t.Fatalf("verify --require-pass with only a failing verdict: exit %d: %s %s", code, out, errOut)
			}
			var doc verifyOutput
			if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Verdicts) != 1 || doc.Verdicts[0].Result != "fail" ||
				len(doc.Verdicts[0].Violations) == 0 || !strings.Contains(doc.Verdicts[0].Error, "failed policy") {
				t.Fatalf("verify JSON: %v\n%s", err, out)
			}
			// A pass is required by default (issue 10, attack 7): exit 1
			// unless --allow-failing.
			if out, _, code := e.run(t, "verify", "--key", prefix+".pub", src); code != 1 || !strings.Contains(out, "failed policy") {
				t.Errorf("verify of a failing verdict without --allow-failing: exit %d, want 1\n%s", code, out)
			}
			if _, _, code := e.run(t, "verify", "--key", prefix+".pub", "--allow-failing", src); code != 0 {
				t.Errorf("verify --allow-failing: exit %d, want 0", code)
			}

			// A passing verdict decided elsewhere.
			if out, errOut, code := e.run(t, append([]string{"attest", "--key", prefix + ".key", "--policy-result", "pass", src}, scan...)...); code != 0 {
				t.Fatalf("attest --policy-result pass: exit %d: %s %s", code, out, errOut)
			}
			out, errOut, code = e.run(t, "verify", "--key", prefix+".pub", "--require-pass", "--max-age", "1h", app.String())
			if code != 0 {
				t.Fatalf("verify --require-pass: exit %d: %s %s", code, out, errOut)
			}
			doc = verifyOutput{}
			json.Unmarshal([]byte(out), &doc)
			if !doc.Accepted || doc.Image != app.String() || len(doc.Verdicts) != 2 || !doc.Verdicts[0].Accepted || doc.Verdicts[0].Result != "pass" || doc.Verdicts[1].Result != "fail" {
				t.Errorf("verify JSON:\n%s", out)
			}

			// The wrong key, or too strict an age: exit 1. Table output.
			out, _, code = e.run(t, "verify", "--key", other+".pub", "--format", "table", src)
			if code != 1 || !strings.Contains(out, "untrusted key") {
				t.Errorf("verify with another key: exit %d\n%s", code, out)
			}
			if _, _, code := e.run(t, "verify", "--key", prefix+".pub", "--max-age", "1ns", src); code != 1 {
				t.Errorf("verify --max-age 1ns: exit %d, want 1", code)
			}
			// Several trusted keys: one is enough.
			if _, _, code := e.run(t, "verify", "--key", other+".pub", "--key", prefix+".pub", src); code != 0 {
				t.Errorf("verify with two keys: exit %d, want 0", code)
			}
			// An image with no verdicts; an unreachable registry.
			lone := pushRandom(t, host+"/team/lone:1")
			if _, _, code := e.run(t, "verify", "--key", prefix+".pub", lone.String()); code != 1 {
				t.Errorf("verify of an unattested image: exit %d, want 1", code)
			}
			if _, errOut, code := e.run(t, "verify", "--key", prefix+".pub", "127.0.0.1:1/team/app:1"); code != 2 {
				t.Errorf("unreachable registry: exit %d, want 2: %s", code, errOut)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		host := startRegistry(t, true)
		src := pushLayoutImage(t, lay, "app", host+"/team/app:1").String()
		t.Setenv("DRYDOCK_KEY_PASSWORD", "xyzzy-not-it")
		if _, errOut, code := e.run(t, "attest", "--key", prefix+".key", "--fail-on", "high", src); code != 2 || !strings.Contains(errOut, "passphrase") || strings.Contains(errOut, "xyzzy") {
			t.Errorf("wrong passphrase: exit %d: %s", code, errOut)
		}
		if _, errOut, code := e.run(t, "attest", "--key", prefix+".key", "--fail-on", "high", "oci:"+lay+":app"); code != 2 {
			t.Errorf("attest of a layout without --push-to: exit %d: %s", code, errOut)
		}
		if _, errOut, code := e.run(t, "verify", src); code != 2 || !strings.Contains(errOut, "key") {
			t.Errorf("verify without --key: exit %d: %s", code, errOut)
		}
	})
}

func pushRandom(t *testing.T, dst string) name.Digest {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(dst)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return tag.Context().Digest(d.String())
}

// TestVerifyCosign checks an image signed as "cosign sign --key" does. cosign
// is not installable here, so the signature is built with the same
// primitives: ECDSA P-256 over SHA-256 of the simple-signing payload, base64
// in the dev.cosignproject.cosign/signature annotation of a layer in the
// "sha256-<hex>.sig" tag.
func TestVerifyCosign(t *testing.T) {
	e := newEnv(t)
	host := startRegistry(t, false)
	d := pushRandom(t, host+"/team/signed:1")
	prefix := filepath.Join(t.TempDir(), "cosign")
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--output-key-prefix", prefix); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	privPEM, _ := os.ReadFile(prefix + ".key")
	k, err := attest.ParsePrivateKey(privPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	signTag(t, d, k, d)

	if _, _, code := e.run(t, "verify", "--key", prefix+".pub", d.String()); code != 1 {
		t.Errorf("without --cosign: exit %d, want 1", code)
	}
	// cosign signatures carry no time or result: they count only when
	// neither is asked for.
	out, errOut, code := e.run(t, "verify", "--cosign", "--allow-failing", "--max-age", "0", "--key", prefix+".pub", host+"/team/signed:1")
	if code != 0 || !strings.Contains(out, `"kind": "cosign-signature"`) {
		t.Fatalf("--cosign: exit %d\n%s%s", code, out, errOut)
	}
	if _, _, code := e.run(t, "verify", "--cosign", "--require-pass", "--key", prefix+".pub", d.String()); code != 1 {
		t.Errorf("--cosign --require-pass: exit %d, want 1 (no policy result in a cosign signature)", code)
	}

	// A signature for another image under this one's tag.
	d2 := pushRandom(t, host+"/team/signed:2")
	signTag(t, d2, k, d)
	out, _, code = e.run(t, "verify", "--cosign", "--allow-failing", "--max-age", "0", "--key", prefix+".pub", d2.String())
	if code != 1 || !strings.Contains(out, "subject does not match") {
		t.Errorf("moved signature: exit %d\n%s", code, out)
	}
}

// signTag writes a cosign signature of about into at's signature tag.
func signTag(t *testing.T, at name.Digest, k *ecdsa.PrivateKey, about name.Digest) {
	t.Helper()
	payload := []byte(fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		about.Context().Name(), about.DigestStr()))
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	l := static.NewLayer(payload, "application/vnd.dev.cosign.simplesigning.v1+json")
	img, err := mutate.Append(mutate.MediaType(emptyOCIImage(t), types.OCIManifestSchema1), mutate.Addendum{
		Layer:       l,
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(attest.CosignSignatureTag(at), img); err != nil {
		t.Fatal(err)
	}
}

func emptyOCIImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

// attest --policy records the policy's own name, result and violations.
func TestAttestWithPolicy(t *testing.T) {
	e := newEnv(t)
	lay := demoLayout(t)
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	keyPrefix := filepath.Join(t.TempDir(), "ci")
	if _, errOut, code := e.run(t, "key", "generate", "--unencrypted", "--output-key-prefix", keyPrefix); code != 0 {
		t.Fatalf("key generate: %s", errOut)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("apiVersion: drydock.dev/v1\nkind: Policy\nmetadata:\n  name: no-known-requests-bugs\nspec:\n  denyFindings: [CVE-2018-18074]\n"), 0o644)
	host := startRegistry(t, true)
	pushLayoutImage(t, lay, "app", host+"/team/app:1")
	src := host + "/team/app:1"

	out, errOut, code := e.run(t, "attest", "--key", keyPrefix+".key", "--policy", pol, src)
	if code != 1 {
		t.Fatalf("attest --policy denying a present finding: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	out, _, _ = e.run(t, "verify", "--key", keyPrefix+".pub", src)
	var doc verifyOutput
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Verdicts) != 1 {
		t.Fatalf("verify JSON: %v\n%s", err, out)
	}
	v := doc.Verdicts[0]
	if v.Result != "fail" || len(v.Violations) == 0 || !strings.Contains(strings.Join(v.Violations, " "), "CVE-2018-18074") {
		t.Errorf("verdict does not record the policy decision: %+v", v)
	}
}
