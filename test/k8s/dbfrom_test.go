package k8s

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/dbdist"
	"github.com/drydock/drydock/internal/vulndb"
)

// Issue 16: the webhook pointed at a database reference (--db-from). The
// artifact is first signed by a key the webhook does not trust: the pull
// fails and is logged, /readyz says not ready, and a Pod whose image has
// a valid verdict is denied with the reason (fail closed). Re-pushed with
// the trusted key, it is installed on the retry, and the same Pod is
// admitted. The webhook is the real binary; reviews are posted to it over
// HTTPS as the apiserver would.
func TestWebhookDBFrom(t *testing.T) {
	bin := drydockBinary(t)
	ctx := context.Background()
	dir := t.TempDir()
	reg := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")

	// A signed, passing image.
	verdictKey, _ := attest.GenerateKey()
	vs, _ := attest.NewSigner(verdictKey)
	tg, _ := name.NewTag(host + "/team/app:1")
	digest := pushRandom(t, tg)
	sign(t, vs, digest, attest.ResultPass)
	verdictPub, _ := attest.MarshalPublicKey(&verdictKey.PublicKey)
	write(t, filepath.Join(dir, "verdict.pub"), verdictPub)

	// The database, first signed by a key the webhook does not trust.
	osv := filepath.Join(dir, "osv")
	os.MkdirAll(osv, 0o755)
	rec := `{"schema_version":"1.6.0","id":"DRY-WEBHOOK-1","modified":"2026-01-02T03:04:05Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}`
	write(t, filepath.Join(osv, "DRY-WEBHOOK-1.json"), []byte(rec))
	src := filepath.Join(dir, "src.sqlite")
	if _, err := vulndb.Import(ctx, src, []string{osv}); err != nil {
		t.Fatal(err)
	}
	dbKey, _ := attest.GenerateKey()
	otherKey, _ := attest.GenerateKey()
	dbPub, _ := attest.MarshalPublicKey(&dbKey.PublicKey)
	write(t, filepath.Join(dir, "db.pub"), dbPub)
	dbRef, _ := name.NewTag(host + "/security/vulndb:latest")
	pushDB := func(k *ecdsa.PrivateKey) {
		t.Helper()
		s, err := attest.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dbdist.Push(ctx, src, dbRef, s); err != nil {
			t.Fatal(err)
		}
	}
	pushDB(otherKey)

	p := newPKI(t, dir)
	port := freePort(t)
	logPath := filepath.Join(dir, "webhook.log")
	lf, _ := os.Create(logPath)
	data := filepath.Join(dir, "data")
	cmd := exec.Command(bin, "admission", "serve", "--log-level", "info", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--tls-cert", p.certFile, "--tls-key", p.keyFile, "--key", filepath.Join(dir, "verdict.pub"), "--data-dir", data,
		"--db-from", "oci://"+dbRef.String(), "--db-key", filepath.Join(dir, "db.pub"), "--db-pull-interval", "1m")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DRYDOCK_CACHE_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(done) }()
	w := &webhook{cmd: cmd, log: logPath, done: done}
	t.Cleanup(w.stop)

	caPEM, _ := os.ReadFile(p.caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	ready := func() int {
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	review := func() *admissionv1.AdmissionResponse {
		t.Helper()
		obj, _ := json.Marshal(pod("app", digest.String()))
		body, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: "u1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
				Namespace: "apps", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: obj}},
		})
		resp, err := hc.Post(base+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
			t.Fatalf("review answer: %v", err)
		}
		return out.Response
	}

	// Serving, but the pull failed: not ready, and images denied.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(readFile(logPath), "vulnerability database pull failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed pull logged:\n%s", readFile(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d without a database, want 503", code)
	}
	r := review()
	msg := ""
	if r.Result != nil {
		msg = r.Result.Message
	}
	if r.Allowed || !strings.Contains(msg, "no verified vulnerability database") || !strings.Contains(msg, "no valid signature by a trusted key") {
		t.Errorf("review without a database: allowed %v, %q; want a denial naming the failed pull", r.Allowed, msg)
	}

	// The trusted artifact is installed on the retry; the Pod is admitted.
	pushDB(dbKey)
	deadline = time.Now().Add(60 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("never ready after the trusted push:\n%s", readFile(logPath))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := review(); !r.Allowed {
		t.Errorf("review with the database installed denied: %+v", r.Result)
	}
	db, err := vulndb.Open(ctx, filepath.Join(data, "vulndb.sqlite"))
	if err != nil {
		t.Fatalf("installed database: %v", err)
	}
	advs, _ := db.Affecting(ctx, "npm", "left-pad")
	db.Close()
	if len(advs) != 1 {
		t.Errorf("installed database: %d advisories for left-pad, want 1", len(advs))
	}
	if !strings.Contains(readFile(logPath), "vulnerability database installed") {
		t.Error("the install was not logged")
	}
}
