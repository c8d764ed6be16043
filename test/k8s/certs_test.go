package k8s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/k8stest"
)

const certSecret = "drydock-admission-tls"

// selfCertWebhook is `drydock admission serve --cert-secret` as a child
// process: no certificate made by the test.
func startSelfCertWebhook(t testing.TB, bin, kubeconfig, pubKey, configName string, port int) *webhook {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "webhook.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "admission", "serve", "--log-level", "info",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--key", pubKey, "--kubeconfig", kubeconfig,
		"--namespace", "drydock-system", "--tag-cache-ttl", "0",
		"--cert-secret", certSecret, "--cert-ip", "127.0.0.1", "--webhook-config-name", configName,
		"--ca-propagation", "2s")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+dir, "DRYDOCK_CACHE_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &webhook{cmd: cmd, log: logPath, url: fmt.Sprintf("https://127.0.0.1:%d", port), done: make(chan struct{})}
	go func() { cmd.Wait(); lf.Close(); close(w.done) }()
	t.Cleanup(w.stop)
	return w
}

// waitReady waits for /readyz over TLS trusting only the Secret's CA.
func (w *webhook) waitReady(t testing.TB, ctx context.Context, cs kubernetes.Interface, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-w.done:
			t.Fatalf("webhook exited:\n%s", readFile(w.log))
		default:
		}
		_, last = servedCert(ctx, cs, w.url, "/readyz")
		if last == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("webhook not ready after %s: %v\n%s", limit, last, readFile(w.log))
}

// servedCert GETs path over TLS trusting the Secret's CA bundle and returns
// the certificate the webhook served.
func servedCert(ctx context.Context, cs kubernetes.Interface, url, path string) (*x509.Certificate, error) {
	s, err := cs.CoreV1().Secrets("drydock-system").Get(ctx, certSecret, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data["ca-bundle.crt"]) {
		return nil, fmt.Errorf("Secret %s has no CA bundle", certSecret)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	leaf := conn.ConnectionState().PeerCertificates[0]
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path)
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), " 200 ") {
		return leaf, fmt.Errorf("%s: %q", path, buf[:n])
	}
	return leaf, nil
}

func secretCACert(t testing.TB, ctx context.Context, cs kubernetes.Interface) *x509.Certificate {
	t.Helper()
	s, err := cs.CoreV1().Secrets("drydock-system").Get(ctx, certSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(s.Data["ca.crt"])
	if blk == nil {
		t.Fatalf("Secret %s: no ca.crt", certSecret)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAdmissionSelfManagedCertificates: two webhook replicas started at
// once make one CA between them; the apiserver calls the webhook with the
// generated certificate (registered without any CA by `admission
// manifests`); after a forced CA rotation it still does, with the new one.
func TestAdmissionSelfManagedCertificates(t *testing.T) {
	k8stest.Require(t, false)
	bin := drydockBinary(t)
	c := k8stest.Start(t, k8stest.Options{})
	cs := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, ns := range []string{"drydock-system", "apps"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	im := setupImages(t, true, t.TempDir())
	const cfgName = "drydock-admission"

	// The configurations first, as the chart creates them: no caBundle.
	port1, port2 := freePort(t), freePort(t)
	out, err := exec.Command(bin, "admission", "manifests", "--name", cfgName, "--namespace", "drydock-system",
		"--webhook-url", fmt.Sprintf("https://127.0.0.1:%d", port1), "--timeout-seconds", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("admission manifests without a CA bundle: %v\n%s", err, out)
	}
	applyAll(t, ctx, c, decodeObjects(t, string(out)))

	w1 := startSelfCertWebhook(t, bin, c.Kubeconfig, im.pubKeyFile, cfgName, port1)
	w2 := startSelfCertWebhook(t, bin, c.Kubeconfig, im.pubKeyFile, cfgName, port2)
	w1.waitReady(t, ctx, cs, 90*time.Second)
	w2.waitReady(t, ctx, cs, 90*time.Second)
	ca := secretCACert(t, ctx, cs)
	for i, w := range []*webhook{w1, w2} {
		leaf, err := servedCert(ctx, cs, w.url, "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		if err := leaf.CheckSignatureFrom(ca); err != nil {
			t.Errorf("replica %d serves a certificate the Secret's CA did not sign: %v", i+1, err)
		}
	}

	pods := cs.CoreV1().Pods("apps")
	admits := func(what string) {
		t.Helper()
		waitUntil(t, 30*time.Second, what, func() error {
			_, err := pods.Create(ctx, pod("unsigned-"+strconv.FormatInt(time.Now().UnixNano(), 36), im.unsigned.String()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil || !strings.Contains(err.Error(), "drydock denied") {
				return fmt.Errorf("unsigned pod: %v", err)
			}
			_, err = pods.Create(ctx, pod("good-"+strconv.FormatInt(time.Now().UnixNano(), 36), im.good.String()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		})
	}
	admits("the apiserver to call the webhook with the generated certificate")

	// Forced rotation, as an operator would ask for it.
	patch := []byte(`{"metadata":{"annotations":{"drydock.dev/rotate":"now"}}}`)
	if _, err := cs.CoreV1().Secrets("drydock-system").Patch(ctx, certSecret, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "both replicas to serve the rotated CA's certificate", func() error {
		now := secretCACert(t, ctx, cs)
		if now.Equal(ca) {
			return fmt.Errorf("CA not rotated")
		}
		for i, w := range []*webhook{w1, w2} {
			leaf, err := servedCert(ctx, cs, w.url, "/healthz")
			if err != nil {
				return err
			}
			if leaf.CheckSignatureFrom(now) != nil {
				return fmt.Errorf("replica %d still serves the old CA's certificate", i+1)
			}
		}
		return nil
	})
	admits("the apiserver to call the webhook after the rotation")
	if t.Failed() {
		t.Logf("replica 1:\n%s\nreplica 2:\n%s", readFile(w1.log), readFile(w2.log))
	}
}

func waitUntil(t testing.TB, limit time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var readyLine = regexp.MustCompile(`admission: ready.*ms=(\d+)`)

// BenchmarkWebhookColdStart measures `drydock admission serve
// --cert-secret` from process start to /readyz answering over TLS: the
// certificate generated and stored, the namespace informer synced. Each
// iteration deletes the Secret first, so the certificate is made anew.
// Reported: wall ms from exec to ready, and the ms the process logs itself.
func BenchmarkWebhookColdStart(b *testing.B) {
	k8stest.Require(b, false)
	bin := drydockBinary(b)
	c := k8stest.Start(b, k8stest.Options{})
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drydock-system"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	key, err := attest.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	pubPEM, err := attest.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	pub := filepath.Join(b.TempDir(), "key.pub")
	if err := os.WriteFile(pub, pubPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	var wall, self time.Duration
	for i := 0; i < b.N; i++ {
		if err := cs.CoreV1().Secrets("drydock-system").Delete(ctx, certSecret, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			b.Fatal(err)
		}
		port := freePort(b)
		start := time.Now()
		w := startSelfCertWebhook(b, bin, c.Kubeconfig, pub, "none", port)
		w.waitReady(b, ctx, cs, 90*time.Second)
		wall += time.Since(start)
		w.stop()
		if m := readyLine.FindStringSubmatch(readFile(w.log)); m != nil {
			ms, _ := strconv.Atoi(m[1])
			self += time.Duration(ms) * time.Millisecond
		}
	}
	b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(float64(self.Milliseconds())/float64(b.N), "ms-self-reported")
}
