package hostile

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drydock/drydock/internal/attest"
)

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drydock-hostile"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certFile = writeFile(t, filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = writeFile(t, filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	return certFile, keyFile
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// review is an AdmissionReview for a Pod with n containers.
func review(n int, image string) []byte {
	var cs []map[string]any
	for i := 0; i < n; i++ {
		cs = append(cs, map[string]any{"name": fmt.Sprintf("c%d", i), "image": fmt.Sprintf("%s-%d", image, i)})
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "team"}, "spec": map[string]any{"containers": cs}}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "0b7c9f3e-0000-4000-8000-000000000001", "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": "team", "operation": "CREATE", "object": pod,
		},
	})
	return b
}

// TestHostileAdmission starts `drydock admission serve` and posts hostile
// AdmissionReviews to it, as the kube-apiserver would.
func TestHostileAdmission(t *testing.T) {
	e := newEnv(t)
	certFile, keyFile := selfSigned(t, e.in)
	k, _ := attest.GenerateKey()
	pub, _ := attest.MarshalPublicKey(&k.PublicKey)
	keyPub := writeFile(t, filepath.Join(e.in, "key.pub"), pub)
	addr := freePort(t)
	before := snapshot(t, e.root)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd, readRSS := launcherCommand(ctx, e.environ(), "--log-level", "error", "admission", "serve", "--listen", addr,
		"--tls-cert", certFile, "--tls-key", keyFile, "--key", keyPub, "--request-timeout", "5s")
	cmd.Dir = e.cwd
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	base := "https://" + addr
	for i := 0; ; i++ {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("admission server did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	type result struct {
		name    string
		status  int
		body    string
		took    time.Duration
		allowed *bool
		size    int
	}
	post := func(name string, body []byte) result {
		start := time.Now()
		resp, err := client.Post(base+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			return result{name: name, status: -1, body: err.Error(), took: time.Since(start)}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		r := result{name: name, status: resp.StatusCode, body: strings.TrimSpace(string(b)), took: time.Since(start), size: len(b)}
		var rv struct {
			Response struct {
				Allowed bool `json:"allowed"`
			} `json:"response"`
		}
		if resp.StatusCode == 200 && json.Unmarshal(b, &rv) == nil {
			r.allowed = &rv.Response.Allowed
		}
		return r
	}
	var results []result
	check := func(r result, status int, allowed *bool, msg string) {
		t.Helper()
		results = append(results, r)
		if r.status != status {
			t.Errorf("%s: HTTP %d, want %d: %.300s", r.name, r.status, status, r.body)
			return
		}
		if allowed != nil && (r.allowed == nil || *r.allowed != *allowed) {
			t.Errorf("%s: allowed %v, want %v: %.300s", r.name, r.allowed, *allowed, r.body)
		}
		if badText.MatchString(r.body) {
			t.Errorf("%s: response exposes internals: %.300s", r.name, r.body)
		}
		if msg != "" && !strings.Contains(r.body, msg) {
			t.Errorf("%s: response %.300q does not say %q", r.name, r.body, msg)
		}
	}
	no := false
	check(post("admission-malformed-json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":`)), 400, nil, "")
	check(post("admission-not-a-review", []byte(`[1,2,3]`)), 400, nil, "")
	check(post("admission-no-request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`)), 400, nil, "")
	big := review(1, "127.0.0.1:1/x:tag")
	big = append(big[:len(big)-1], []byte(`,"padding":"`+strings.Repeat("x", 8<<20)+`"}`)...)
	check(post("admission-oversized-8MiB", big), 400, nil, "")
	// Thousands of containers naming an unreachable registry: the review must
	// come back denied within the request timeout, not fan out unbounded.
	many := post("admission-5000-containers", review(5000, "127.0.0.1:1/team/app:v"))
	check(many, 200, &no, "")
	if many.took > 30*time.Second {
		t.Errorf("5000 containers took %s", many.took)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	rss := readRSS()
	if err != nil && cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("server exit: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Errorf("server panicked:\n%s", stderr.String())
	}
	e.checkWalls(t, before)
	const maxRSS = 400
	if rss > maxRSS {
		t.Errorf("server peak RSS %.0f MiB, bound %d MiB", rss, maxRSS)
	}
	tableMu.Lock()
	for _, r := range results {
		msg := fmt.Sprintf("HTTP %d in %.1fs", r.status, r.took.Seconds())
		if r.allowed != nil {
			msg += fmt.Sprintf(", allowed=%v", *r.allowed)
		}
		body := r.body
		if len(body) > 80 {
			body = body[:77] + "..."
		}
		table = append(table, row{input: r.name, code: r.status, message: msg + ": " + body, rssMiB: rss, took: r.took})
	}
	tableMu.Unlock()

	// The denial is shown by kubectl and stored in audit logs: it must name
	// the problem without repeating it 5000 times.
	const maxResponse = 64 << 10
	if many.size > maxResponse {
		t.Errorf("5000 containers: %d byte response, want under %d (the message must not repeat every image)", many.size, maxResponse)
	}
}
