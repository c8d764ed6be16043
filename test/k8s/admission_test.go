// Package k8s holds end-to-end tests against a real Kubernetes control
// plane (etcd + kube-apiserver from $DRYDOCK_K8S_BINS, see
// internal/k8stest): the apiserver itself calls drydock's admission webhook,
// run as a child process, for objects created through the API.
package k8s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	// sigs.k8s.io/yaml, not go.yaml.in/yaml/v3: Kubernetes API types carry only
	// json tags (and custom JSON marshalling, e.g. resource.Quantity), which it
	// honours by going through encoding/json.
	"sigs.k8s.io/yaml"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/k8stest"
	"github.com/drydock/drydock/internal/testenv"
)

var build struct {
	once sync.Once
	bin  string
	err  error
}

// drydockBinary builds cmd/drydock once per test binary run.
func drydockBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "drydock-k8s-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "drydock")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/drydock")
		cmd.Dir = testenv.ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/drydock: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// pki is a test CA and a serving certificate for 127.0.0.1 it signed.
type pki struct{ caFile, certFile, keyFile string }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "drydock-admission-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "drydock-admission"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	p := pki{filepath.Join(dir, "ca.crt"), filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
	write(t, p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write(t, p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(t, p.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	return p
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// images are pushed to a test registry and signed as each case needs.
type images struct {
	host                  string
	good, bad, unsigned   name.Tag
	goodDigest, badDigest name.Digest
	unsignedDigest        name.Digest
	registry              *httptest.Server
	pubKeyFile            string
}

func pushRandom(t *testing.T, tag name.Tag) name.Digest {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return tag.Context().Digest(d.String())
}

func sign(t *testing.T, s *attest.Signer, d name.Digest, result string) {
	t.Helper()
	p := attest.Predicate{
		Scanner:  attest.Scanner{Name: "drydock", Version: "e2e"},
		Counts:   map[string]int{"CRITICAL": 0},
		Findings: []string{},
		Policy:   attest.Policy{Name: "e2e", Result: result, Violations: []string{}},
		Time:     time.Now().UTC().Truncate(time.Second),
		Image:    attest.Image{Ref: d.String(), Digest: d.DigestStr()},
	}
	if result == attest.ResultFail {
		p.Counts["CRITICAL"] = 1
		p.Findings = []string{"CVE-2024-3094"}
		p.Policy.Violations = []string{"CRITICAL finding CVE-2024-3094"}
	}
	st, err := attest.NewStatement(d.Context().Name(), []string{d.DigestStr()}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := attest.Attest(context.Background(), s, st, []name.Digest{d}); err != nil {
		t.Fatal(err)
	}
}

func setupImages(t *testing.T, referrers bool, dir string) *images {
	t.Helper()
	return setupImagesWith(t, referrers, dir, nil)
}

// setupImagesWith is setupImages with the registry's handler wrapped (nil:
// as is), for a registry that misbehaves.
func setupImagesWith(t *testing.T, referrers bool, dir string, wrap func(http.Handler) http.Handler) *images {
	t.Helper()
	var h http.Handler = registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	im := &images{host: host, registry: srv}
	tag := func(s string) name.Tag {
		tg, err := name.NewTag(host + "/team/app:" + s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	im.good, im.bad, im.unsigned = tag("good"), tag("bad"), tag("unsigned")
	im.goodDigest, im.badDigest, im.unsignedDigest = pushRandom(t, im.good), pushRandom(t, im.bad), pushRandom(t, im.unsigned)
	key, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := attest.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, s, im.goodDigest, attest.ResultPass)
	sign(t, s, im.badDigest, attest.ResultFail)
	// The unsigned image carries a verdict too, by a key nobody trusts.
	other, _ := attest.GenerateKey()
	os2, _ := attest.NewSigner(other)
	sign(t, os2, im.unsignedDigest, attest.ResultPass)
	pub, err := attest.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	im.pubKeyFile = filepath.Join(dir, "key.pub")
	write(t, im.pubKeyFile, pub)
	return im
}

// webhook is drydock admission serve running as a child process.
type webhook struct {
	cmd  *exec.Cmd
	log  string
	url  string
	done chan struct{}
}

// testPolicy requires a passing verdict, and adds a rule that depends on
// the request: in namespaces labelled env=prod, workloads need a team label.
const testPolicy = `apiVersion: drydock.dev/v1
kind: Policy
metadata:
  name: e2e
spec:
  requireVerdict: true
  rules:
    - name: team-label-in-prod
      expression: 'kubernetes.present && kubernetes.namespaceLabels.exists(k, k == "env" && kubernetes.namespaceLabels[k] == "prod") && !("team" in kubernetes.labels)'
      message: workloads in prod namespaces need a team label
`

func startWebhook(t *testing.T, bin string, p pki, im *images, kubeconfig string) *webhook {
	t.Helper()
	policyFile := filepath.Join(filepath.Dir(p.caFile), "policy.yaml")
	write(t, policyFile, []byte(testPolicy))
	port := freePort(t)
	logPath := filepath.Join(filepath.Dir(p.caFile), "webhook.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "admission", "serve", "--log-level", "info",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--tls-cert", p.certFile, "--tls-key", p.keyFile,
		"--key", im.pubKeyFile, "--kubeconfig", kubeconfig, "--namespace", "drydock-system", "--tag-cache-ttl", "0",
		"--policy", policyFile)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DRYDOCK_CACHE_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &webhook{cmd: cmd, log: logPath, url: fmt.Sprintf("https://127.0.0.1:%d", port), done: make(chan struct{})}
	go func() { cmd.Wait(); lf.Close(); close(w.done) }()
	t.Cleanup(w.stop)
	// Wait until it serves /readyz over TLS with the test CA.
	caPEM, _ := os.ReadFile(p.caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := hc.Get(w.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return w
			}
		}
		select {
		case <-w.done:
			t.Fatalf("webhook exited:\n%s", readFile(logPath))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not ready: %v\n%s", err, readFile(logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *webhook) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
}

func (w *webhook) metrics(t *testing.T, caFile string) string {
	t.Helper()
	caPEM, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(w.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

// warnings collects the warnings the apiserver returns to client-go.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// registerWebhooks applies the two webhook configurations printed by
// drydock admission manifests, pointed at the child process.
func registerWebhooks(t *testing.T, ctx context.Context, cs kubernetes.Interface, bin string, p pki, w *webhook, cfgName string) {
	t.Helper()
	out, err := exec.Command(bin, "admission", "manifests", "--name", cfgName, "--namespace", "drydock-system",
		"--webhook-url", w.url, "--ca-bundle-file", p.caFile, "--timeout-seconds", "10").Output()
	if err != nil {
		t.Fatalf("admission manifests: %v", err)
	}
	n := 0
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var tm metav1.TypeMeta
		if yaml.Unmarshal([]byte(doc), &tm) != nil {
			continue
		}
		switch tm.Kind {
		case "ValidatingWebhookConfiguration":
			var o admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			n++
		case "MutatingWebhookConfiguration":
			var o admissionregistrationv1.MutatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &o, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n != 2 {
		t.Fatalf("registered %d webhook configurations, want 2:\n%s", n, out)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, cfgName, metav1.DeleteOptions{})
		cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, cfgName, metav1.DeleteOptions{})
	})
}

func pod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: image}},
			Containers:     []corev1.Container{{Name: "app", Image: image}},
		},
	}
}

func deployment(name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func mustDeny(t *testing.T, what string, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want a denial", what)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: denial %q does not say %q", what, err, w)
		}
	}
	t.Logf("%s: denied: %v", what, err)
}

func TestAdmissionWebhookRealCluster(t *testing.T) {
	k8stest.Require(t, false)
	bin := drydockBinary(t)
	c := k8stest.Start(t, k8stest.Options{})
	for _, referrers := range []bool{true, false} {
		label := map[bool]string{true: "referrers-api", false: "tag-schema"}[referrers]
		t.Run(label, func(t *testing.T) {
			testAdmission(t, c, bin, referrers, label)
		})
	}
	t.Run("flaky-registry", func(t *testing.T) { testUnpinnedAndFanOut(t, c, bin) })
}

// testUnpinnedAndFanOut is issue 10's attacks 3 and 5 through the real
// apiserver. Attack 3: the registry fails the mutating webhook's
// resolution of a tag (only that one request); the apiserver then calls
// the validating webhook with the tag unpinned, which used to resolve it
// again and admit the tag, so that what runs could differ from what was
// checked. Attack 5: a Pod naming 3,000 images.
func testUnpinnedAndFanOut(t *testing.T, c *k8stest.Cluster, bin string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// The first HEAD of each tag's manifest fails (403), once armed; every
	// other request is served.
	var (
		armed atomic.Bool
		mu    sync.Mutex
		seen  = map[string]int{}
	)
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if armed.Load() && r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") && !strings.Contains(r.URL.Path, "sha256:") {
				mu.Lock()
				seen[r.URL.Path]++
				first := seen[r.URL.Path] == 1
				mu.Unlock()
				if first {
					w.WriteHeader(http.StatusForbidden)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	im := setupImagesWith(t, true, dir, wrap)
	armed.Store(true)
	p := newPKI(t, dir)
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := "flaky"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	w := startWebhook(t, bin, p, im, c.Kubeconfig)
	registerWebhooks(t, ctx, cs, bin, p, w, "drydock-flaky")
	pods := cs.CoreV1().Pods(ns)
	start := time.Now()
	for {
		_, err := pods.Create(ctx, pod("probe", im.unsigned.String()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "drydock denied") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("webhook never became active: last result %v\n%s", err, readFile(w.log))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Attack 3: /mutate's HEAD of the tag fails, /validate's would succeed.
	got, err := pods.Create(ctx, pod("flaky", im.good.String()), metav1.CreateOptions{})
	if err == nil {
		t.Errorf("admitted with the mutating webhook's resolution failed: images %q, %q", got.Spec.InitContainers[0].Image, got.Spec.Containers[0].Image)
	}
	mustDeny(t, "tag the mutating webhook could not pin", err, "drydock denied Pod", im.good.String(),
		"not pinned to a digest: the mutating webhook could not resolve it", "403 Forbidden")
	mu.Lock()
	heads := seen["/v2/team/app/manifests/good"]
	mu.Unlock()
	if heads < 2 {
		t.Errorf("the tag was resolved %d times, want /mutate's failed try and /validate's", heads)
	}
	// The next try is pinned and admitted: the denial was about pinning.
	got, err = pods.Create(ctx, pod("flaky-retry", im.good.String()), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("retry with a healthy registry denied: %v", err)
	}
	if want := im.good.String() + "@" + im.goodDigest.DigestStr(); got.Spec.Containers[0].Image != want {
		t.Errorf("retry image %q, want %q", got.Spec.Containers[0].Image, want)
	}

	// Attack 5: 3,000 images in one Pod are denied unchecked, briefly.
	many := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "many"}}
	for i := range 3000 {
		many.Spec.Containers = append(many.Spec.Containers, corev1.Container{
			Name: fmt.Sprintf("c%d", i), Image: fmt.Sprintf("%s/team/app%d@sha256:%064x", im.host, i, i+1)})
	}
	t0 := time.Now()
	_, err = pods.Create(ctx, many, metav1.CreateOptions{})
	mustDeny(t, "3,000 images", err, "drydock denied Pod", "3,000 distinct images, more than the 64 drydock checks per object")
	if err != nil && len(err.Error()) > 1024 {
		t.Errorf("denial of %d bytes", len(err.Error()))
	}
	t.Logf("3,000-image Pod answered in %v", time.Since(t0).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("webhook log:\n%s", readFile(w.log))
	}
}

func testAdmission(t *testing.T, c *k8stest.Cluster, bin string, referrers bool, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	im := setupImages(t, referrers, dir)
	p := newPKI(t, dir)

	warn := &warnings{}
	rc := rest.CopyConfig(c.Config)
	rc.WarningHandler = warn
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ns, warnNS, prodNS := "apps-"+label, "warn-"+label, "prod-"+label
	for name, labels := range map[string]map[string]string{
		ns: nil, warnNS: {"drydock.dev/mode": "warn"}, prodNS: {"env": "prod"}, "drydock-system": nil,
	} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}

	w := startWebhook(t, bin, p, im, c.Kubeconfig)
	registerWebhooks(t, ctx, cs, bin, p, w, "drydock-"+label)
	pods := cs.CoreV1().Pods(ns)

	// The configuration is active once a dry-run create is denied.
	start := time.Now()
	for {
		_, err := pods.Create(ctx, pod("probe", im.unsigned.String()), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "drydock denied") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("webhook never became active: last result %v\n%s", err, readFile(w.log))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("webhook active after %v", time.Since(start).Round(time.Millisecond))

	// An image without a verdict from a trusted key is denied, and says why.
	_, err = pods.Create(ctx, pod("unsigned", im.unsigned.String()), metav1.CreateOptions{})
	mustDeny(t, "unsigned pod", err, "drydock denied Pod", im.unsigned.String(), "no valid verdict", "untrusted key")

	// A signed, passing image is admitted with its tag pinned to the digest
	// that was verified, in every container list.
	got, err := pods.Create(ctx, pod("good", im.good.String()), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("signed passing pod denied: %v\n%s", err, readFile(w.log))
	}
	want := im.good.String() + "@" + im.goodDigest.DigestStr()
	if got.Spec.Containers[0].Image != want || got.Spec.InitContainers[0].Image != want {
		t.Errorf("admitted pod images %q / %q, want %q", got.Spec.InitContainers[0].Image, got.Spec.Containers[0].Image, want)
	}
	stored, err := pods.Get(ctx, "good", metav1.GetOptions{})
	if err != nil || stored.Spec.Containers[0].Image != want {
		t.Errorf("stored pod image %v (%v), want %q", stored.Spec.Containers[0].Image, err, want)
	}

	// The same for a Deployment's pod template.
	deps := cs.AppsV1().Deployments(ns)
	d, err := deps.Create(ctx, deployment("web", im.good.String()), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("signed passing deployment denied: %v", err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != want {
		t.Errorf("deployment image %q, want %q", img, want)
	}
	_, err = deps.Create(ctx, deployment("web-unsigned", im.unsigned.String()), metav1.CreateOptions{})
	mustDeny(t, "unsigned deployment", err, "drydock denied Deployment", "no valid verdict")

	// A signed verdict that records a failed policy is denied.
	_, err = pods.Create(ctx, pod("bad", im.bad.String()), metav1.CreateOptions{})
	mustDeny(t, "failing pod", err, "drydock denied Pod", im.bad.String(), "requireVerdict", "did not pass")
	_, err = deps.Create(ctx, deployment("web-bad", im.bad.String()+"@"+im.badDigest.DigestStr()), metav1.CreateOptions{})
	mustDeny(t, "failing deployment by digest", err, "did not pass")

	// The good image's verification is cached now; a rule that depends on
	// the request still applies: no team label in a prod namespace.
	_, err = cs.CoreV1().Pods(prodNS).Create(ctx, pod("no-team", im.good.String()), metav1.CreateOptions{})
	mustDeny(t, "prod pod without a team label", err, "team-label-in-prod", "need a team label")
	withTeam := pod("with-team", im.good.String())
	withTeam.Labels = map[string]string{"team": "payments"}
	if _, err := cs.CoreV1().Pods(prodNS).Create(ctx, withTeam, metav1.CreateOptions{}); err != nil {
		t.Errorf("prod pod with a team label denied: %v", err)
	}

	// Warn mode (namespace label drydock.dev/mode=warn) admits with a
	// warning that client-go receives.
	warn.take()
	got, err = cs.CoreV1().Pods(warnNS).Create(ctx, pod("bad", im.bad.String()), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("warn mode denied: %v", err)
	}
	ws := warn.take()
	if len(ws) == 0 || !strings.Contains(strings.Join(ws, "\n"), "drydock would deny") || !strings.Contains(strings.Join(ws, "\n"), "did not pass") {
		t.Errorf("warn mode warnings %q", ws)
	}
	if img := got.Spec.Containers[0].Image; img != im.bad.String()+"@"+im.badDigest.DigestStr() {
		t.Errorf("warn mode pod image %q not pinned", img)
	}

	// drydock's own namespace is exempt.
	if _, err := cs.CoreV1().Pods("drydock-system").Create(ctx, pod("self-"+label, im.unsigned.String()), metav1.CreateOptions{}); err != nil {
		t.Errorf("drydock's namespace not exempt: %v", err)
	}

	m := w.metrics(t, p.caFile)
	for _, s := range []string{`drydock_admission_decisions_total{mode="enforce",result="deny"}`, `drydock_admission_cache_lookups_total{result="hit"}`, `drydock_admission_decisions_total{mode="warn",result="warn"}`, "drydock_admission_decision_seconds_count"} {
		if !strings.Contains(m, s) {
			t.Errorf("metrics lack %s", s)
		}
	}

	// With the registry unreachable, nothing new can be checked: the
	// webhook denies and says why.
	im.registry.Close()
	_, err = pods.Create(ctx, pod("registry-down-tag", im.host+"/team/app:never-seen"), metav1.CreateOptions{})
	mustDeny(t, "registry down, tag", err, "drydock denied Pod", "not pinned to a digest: the mutating webhook could not resolve it", "connection refused")
	_, err = pods.Create(ctx, pod("registry-down-digest", im.host+"/team/other@sha256:"+strings.Repeat("0", 64)), metav1.CreateOptions{})
	mustDeny(t, "registry down, digest", err, "drydock denied Pod", "cannot check that the workload's credentials can pull the image", "connection refused")

	// With the webhook stopped, the apiserver cannot call it: fail closed.
	w.stop()
	_, err = pods.Create(ctx, pod("good-after-stop", im.good.String()), metav1.CreateOptions{})
	mustDeny(t, "webhook stopped", err, "failed calling webhook")
	if t.Failed() {
		t.Logf("webhook log:\n%s", readFile(w.log))
	}
}
