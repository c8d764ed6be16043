package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/drydock/drydock/internal/k8stest"
)

const (
	ns         = "drydock-system"
	secretName = "drydock-admission-tls"
	configName = "drydock-admission"
	denyMsg    = "certs-test webhook says no"
)

// denyAll is the smallest validating webhook: it denies every request with
// denyMsg, so a denial carrying it proves the apiserver reached it over TLS.
func denyAll(calls *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var rv admissionv1.AdmissionReview
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rv); err != nil || rv.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		rv.Response = &admissionv1.AdmissionResponse{UID: rv.Request.UID, Allowed: false, Result: &metav1.Status{Message: denyMsg, Code: 403}}
		rv.Request = nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&rv)
	})
}

// register creates both webhook configurations, for pods, pointing at
// url, with no caBundle: the managers must fill it in.
func register(t *testing.T, ctx context.Context, cs kubernetes.Interface, url string) {
	t.Helper()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(5)
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"certs-test": "on"}}
	vurl, murl := url+"/validate", url+"/mutate"
	_, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: configName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.drydock.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &vurl},
			Rules: rules, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout,
			NamespaceSelector: sel, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The mutating one matches nothing (its selector never matches): it is
	// here for its caBundle.
	never := &metav1.LabelSelector{MatchLabels: map[string]string{"certs-test": "never"}}
	_, err = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: configName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pin.drydock.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &murl},
			Rules: rules, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout,
			NamespaceSelector: never, AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func bundles(t *testing.T, ctx context.Context, cs kubernetes.Interface) (validating, mutating []byte) {
	t.Helper()
	v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Webhooks[0].ClientConfig.CABundle, m.Webhooks[0].ClientConfig.CABundle
}

func secretCA(t *testing.T, ctx context.Context, cs kubernetes.Interface) *x509.Certificate {
	t.Helper()
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cs2, err := parseCerts(s.Data[KeyCACert])
	if err != nil || len(cs2) != 1 {
		t.Fatalf("Secret %s: ca.crt: %v (%d certificates)", secretName, err, len(cs2))
	}
	return cs2[0]
}

func servedIssuer(t *testing.T, m *Manager) *x509.Certificate {
	t.Helper()
	c, err := m.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// admissionReached creates a pod (dry run) in the selected namespace and
// reports whether the webhook's own denial came back.
func admissionReached(ctx context.Context, cs kubernetes.Interface) error {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/app:1"}}}}
	_, err := cs.CoreV1().Pods("apps").Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return fmt.Errorf("pod admitted: the webhook was not called")
	}
	if !strings.Contains(err.Error(), denyMsg) {
		return err
	}
	return nil
}

func TestManagerRealCluster(t *testing.T) {
	k8stest.Require(t, false)
	c := k8stest.Start(t, k8stest.Options{})
	cs := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for name, labels := range map[string]map[string]string{ns: nil, "apps": {"certs-test": "on"}} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Two replicas start at once against an empty namespace.
	var calls atomic.Int64
	newManager := func(now func() time.Time) *Manager {
		m, err := New(Config{
			Client: cs, Namespace: ns, SecretName: secretName,
			DNSNames: ServiceDNSNames("drydock-admission", ns), IPs: []net.IP{net.ParseIP("127.0.0.1")},
			ValidatingWebhooks: []string{configName}, MutatingWebhooks: []string{configName},
			Propagation: 2 * time.Second, Resync: 2 * time.Second, Now: now,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1, m2 := newManager(nil), newManager(nil)

	// The configurations exist before the managers; a listener per replica
	// needs a certificate first, so the URL points at a port that the
	// first replica's listener takes over below.
	lnProbe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lnProbe.Addr().String()
	lnProbe.Close()
	register(t, ctx, cs, "https://"+addr)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, m := range []*Manager{m1, m2} {
		wg.Go(func() { errs[i] = m.Start(ctx, time.Minute) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("manager %d: %v", i+1, err)
		}
	}
	ca := secretCA(t, ctx, cs)
	for i, m := range []*Manager{m1, m2} {
		if leaf := servedIssuer(t, m); !signedBy(leaf, ca, time.Now()) {
			t.Errorf("replica %d serves a certificate the Secret's CA did not sign (issuer %s)", i+1, leaf.Issuer)
		}
	}
	if !bytes.Equal(m1.CABundle(), m2.CABundle()) {
		t.Error("the two replicas loaded different CA bundles")
	}
	vb, mb := bundles(t, ctx, cs)
	if !bundleHas(vb, ca) || !bundleHas(mb, ca) {
		t.Fatalf("webhook configurations' caBundle lacks the Secret's CA:\nvalidating %q\nmutating %q", vb, mb)
	}

	// The apiserver reaches the webhook with the generated certificate.
	ln, err := tls.Listen("tcp", addr, m1.TLSConfig())
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: denyAll(&calls), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	waitFor(t, 30*time.Second, "the apiserver to reach the webhook", func() error { return admissionReached(ctx, cs) })

	// A forced rotation: while it goes on, every admission request still
	// reaches the webhook; afterwards both replicas serve a certificate of
	// the new CA, which both configurations trust.
	stop := make(chan struct{})
	var failures []string
	var probes int
	probing := make(chan struct{})
	go func() {
		defer close(probing)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := admissionReached(ctx, cs); err != nil {
				failures = append(failures, err.Error())
			}
			probes++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := m2.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "both replicas to serve the new CA's certificate", func() error {
		now := secretCA(t, ctx, cs)
		if now.Equal(ca) {
			return fmt.Errorf("CA not rotated yet")
		}
		for i, m := range []*Manager{m1, m2} {
			if !signedBy(servedIssuer(t, m), now, time.Now()) {
				return fmt.Errorf("replica %d still serves the old CA's certificate", i+1)
			}
		}
		return nil
	})
	time.Sleep(time.Second) // a few probes against the new certificate
	close(stop)
	<-probing
	if len(failures) > 0 {
		t.Errorf("%d of %d admission requests failed during the rotation, first: %s", len(failures), probes, failures[0])
	}
	t.Logf("%d admission requests during the rotation, all reached the webhook", probes)
	newCA := secretCA(t, ctx, cs)
	vb, mb = bundles(t, ctx, cs)
	for _, b := range [][]byte{vb, mb} {
		if !bundleHas(b, newCA) || !bundleHas(b, ca) {
			t.Errorf("caBundle after rotation should hold the new and the previous CA")
		}
	}
	s, _ := cs.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
	if _, ok := s.Annotations[AnnotationRotate]; ok {
		t.Errorf("the rotation annotation was not removed")
	}

	// Renewal before expiry: a replica whose clock is past two thirds of
	// the CA's life renews it without being asked.
	later := newManager(func() time.Time { return time.Now().Add(DefaultCAValidity * 7 / 10) })
	if _, err := later.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if renewed := secretCA(t, ctx, cs); renewed.Equal(newCA) {
		t.Error("a CA with less than a third of its life left was not renewed")
	}

	// A deleted Secret is made again, and the webhook configurations
	// follow the new CA.
	if err := cs.CoreV1().Secrets(ns).Delete(ctx, secretName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the Secret to be made again and trusted", func() error {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cas, _ := parseCerts(s.Data[KeyCACert])
		vb, mb := bundles(t, ctx, cs)
		if len(cas) != 1 || !bundleHas(vb, cas[0]) || !bundleHas(mb, cas[0]) {
			return fmt.Errorf("caBundle does not trust the new Secret's CA yet")
		}
		return admissionReached(ctx, cs)
	})

	// An empty Secret made beforehand (some installers do) is filled in.
	// It gets a name of its own: the running replicas recreate a deleted
	// Secret at once, so deleting theirs and creating an empty one would
	// race them.
	const preMade = "drydock-admission-tls-premade"
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: preMade, Namespace: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	filler, err := New(Config{
		Client: cs, Namespace: ns, SecretName: preMade,
		DNSNames: ServiceDNSNames("drydock-admission", ns), Now: time.Now,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := filler.Reconcile(ctx); err != nil {
		t.Fatalf("reconcile a pre-made empty Secret: %v", err)
	}
	filled, err := cs.CoreV1().Secrets(ns).Get(ctx, preMade, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cas, _ := parseCerts(filled.Data[KeyCACert]); len(cas) != 1 || len(filled.Data[KeyCert]) == 0 || len(filled.Data[KeyKey]) == 0 {
		t.Errorf("the pre-made empty Secret was not filled in: keys %v", keys(filled.Data))
	}
	if _, err := filler.TLSConfig().GetCertificate(&tls.ClientHelloInfo{}); err != nil {
		t.Errorf("the manager does not serve the certificate it wrote into the pre-made Secret: %v", err)
	}
	if calls.Load() == 0 {
		t.Error("the webhook was never called")
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, f func() error) {
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

// testWriter sends the managers' logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
