package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	// sigs.k8s.io/yaml, not go.yaml.in/yaml/v3: Kubernetes API types carry only
	// json tags (and custom JSON marshalling, e.g. resource.Quantity), which it
	// honours by going through encoding/json.
	"sigs.k8s.io/yaml"
)

func writeTestCA(t *testing.T) (string, []byte) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.crt")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestAdmissionManifests decodes every printed document strictly into its
// k8s.io/api type and checks what a user relies on.
func TestAdmissionManifests(t *testing.T) {
	caFile, ca := writeTestCA(t)
	e := newEnv(t)
	out, stderr, code := e.run(t, "admission", "manifests", "--namespace", "dd-sys", "--image", "registry.example/drydock@sha256:"+strings.Repeat("a", 64), "--ca-bundle-file", caFile, "--policy-file", "policy.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	kinds := map[string]int{}
	for _, doc := range strings.Split(out, "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil || tm.Kind == "" {
			continue // the leading comment
		}
		kinds[tm.Kind]++
		strict := func(v any) {
			t.Helper()
			if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
				t.Fatalf("%s: %v\n%s", tm.Kind, err, doc)
			}
		}
		checkRules := func(rules []admissionregistrationv1.RuleWithOperations) {
			t.Helper()
			var res []string
			for _, r := range rules {
				res = append(res, r.Resources...)
				if !slices.Contains(r.Operations, admissionregistrationv1.Create) || !slices.Contains(r.Operations, admissionregistrationv1.Update) {
					t.Errorf("%s rule %v lacks CREATE/UPDATE", tm.Kind, r)
				}
			}
			for _, want := range []string{"pods", "pods/ephemeralcontainers", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "replicationcontrollers"} {
				if !slices.Contains(res, want) {
					t.Errorf("%s rules lack %s", tm.Kind, want)
				}
			}
		}
		checkSelector := func(sel *metav1.LabelSelector) {
			t.Helper()
			s, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				t.Fatal(err)
			}
			for ns, want := range map[string]bool{"dd-sys": false, "kube-system": false, "default": true} {
				if got := s.Matches(labels.Set{"kubernetes.io/metadata.name": ns}); got != want {
					t.Errorf("%s selector on %s: %v, want %v", tm.Kind, ns, got, want)
				}
			}
			if s.Matches(labels.Set{"kubernetes.io/metadata.name": "x", "drydock.dev/ignore": "true"}) {
				t.Errorf("%s selector matches an opted-out namespace", tm.Kind)
			}
		}
		switch tm.Kind {
		case "ValidatingWebhookConfiguration":
			var o admissionregistrationv1.ValidatingWebhookConfiguration
			strict(&o)
			w := o.Webhooks[0]
			if *w.FailurePolicy != admissionregistrationv1.Fail || *w.SideEffects != admissionregistrationv1.SideEffectClassNone ||
				!slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) || *w.TimeoutSeconds != 10 ||
				string(w.ClientConfig.CABundle) != string(ca) || *w.ClientConfig.Service.Path != "/validate" || w.ClientConfig.Service.Namespace != "dd-sys" {
				t.Errorf("validating webhook: %+v", w)
			}
			checkRules(w.Rules)
			checkSelector(w.NamespaceSelector)
		case "MutatingWebhookConfiguration":
			var o admissionregistrationv1.MutatingWebhookConfiguration
			strict(&o)
			w := o.Webhooks[0]
			if *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy || *w.ClientConfig.Service.Path != "/mutate" ||
				string(w.ClientConfig.CABundle) != string(ca) || *w.FailurePolicy != admissionregistrationv1.Fail {
				t.Errorf("mutating webhook: %+v", w)
			}
			checkRules(w.Rules)
			checkSelector(w.NamespaceSelector)
		case "Service":
			var o corev1.Service
			strict(&o)
			if o.Namespace != "dd-sys" || o.Spec.Ports[0].Port != 443 {
				t.Errorf("service: %+v", o)
			}
		case "Deployment":
			var o appsv1.Deployment
			strict(&o)
			ps := o.Spec.Template.Spec
			c := ps.Containers[0]
			if *o.Spec.Replicas != 2 || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
				!*c.SecurityContext.ReadOnlyRootFilesystem || !*ps.SecurityContext.RunAsNonRoot || *c.SecurityContext.AllowPrivilegeEscalation ||
				ps.ServiceAccountName != "drydock-admission" {
				t.Errorf("deployment: %+v", o.Spec)
			}
			args := strings.Join(c.Args, " ")
			for _, want := range []string{"admission serve", "--tls-cert=/etc/drydock/tls/tls.crt", "--policy=/etc/drydock/config/policy.yaml", "--namespace=dd-sys"} {
				if !strings.Contains(args, want) {
					t.Errorf("deployment args %q lack %q", args, want)
				}
			}
			if o.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != o.Spec.Template.Labels["app.kubernetes.io/name"] {
				t.Error("selector does not match the template")
			}
		case "ServiceAccount":
			var o corev1.ServiceAccount
			strict(&o)
		case "ClusterRole":
			var o rbacv1.ClusterRole
			strict(&o)
			for _, r := range o.Rules {
				for _, v := range r.Verbs {
					if v != "get" && v != "list" && v != "watch" {
						t.Errorf("cluster role grants %s", v)
					}
				}
			}
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			strict(&o)
			if o.Subjects[0].Namespace != "dd-sys" {
				t.Errorf("binding: %+v", o)
			}
		default:
			t.Errorf("unexpected kind %s", tm.Kind)
		}
	}
	for _, k := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Service", "Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s documents, want 1", kinds[k], k)
		}
	}

	// Errors are exit 2 with a reason.
	for _, args := range [][]string{
		{"admission", "manifests", "--image", "x", "--ca-bundle-file", filepath.Join(t.TempDir(), "none")},
		{"admission", "manifests", "--ca-bundle-file", caFile},
		{"admission", "manifests", "--image", "x", "--ca-bundle-file", caFile, "--mode", "loud"},
		{"admission", "serve", "--tls-cert", caFile},
		{"admission", "serve", "--key", caFile, "--cert-secret", "s", "--tls-cert", caFile, "--tls-key", caFile},
		{"admission", "serve", "--key", caFile},
	} {
		if _, stderr, code := e.run(t, args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d %q, want 2 with a reason", args, code, stderr)
		}
	}
	// The bounds of one review must be positive: none means unbounded.
	for _, flag := range []string{"--max-images", "--review-concurrency", "--registry-concurrency"} {
		_, stderr, code := e.run(t, "admission", "serve", "--tls-cert", caFile, "--tls-key", caFile, "--key", caFile, flag, "0")
		if code != 2 || !strings.Contains(stderr, flag+" 0: must be at least 1") {
			t.Errorf("%s 0: exit %d %q, want 2 naming the flag", flag, code, stderr)
		}
	}
}

// TestAdmissionManifestsSelfManagedCerts: without --ca-bundle-file the
// webhook manages its certificates, so it gets the flags and exactly the
// RBAC that needs, and the configurations carry no caBundle yet.
func TestAdmissionManifestsSelfManagedCerts(t *testing.T) {
	e := newEnv(t)
	out, stderr, code := e.run(t, "admission", "manifests", "--namespace", "dd-sys", "--name", "dd", "--image", "registry.example/drydock@sha256:"+strings.Repeat("a", 64))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var args []string
	var roles []rbacv1.PolicyRule
	for _, doc := range strings.Split(out, "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil || tm.Kind == "" {
			continue
		}
		switch tm.Kind {
		case "ValidatingWebhookConfiguration":
			var o admissionregistrationv1.ValidatingWebhookConfiguration
			if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			if len(o.Webhooks[0].ClientConfig.CABundle) != 0 {
				t.Error("caBundle set without --ca-bundle-file")
			}
		case "Deployment":
			var o appsv1.Deployment
			if err := yaml.UnmarshalStrict([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			args = o.Spec.Template.Spec.Containers[0].Args
			for _, v := range o.Spec.Template.Spec.Volumes {
				if v.Name == "tls" {
					t.Error("a tls Secret volume is mounted though the webhook makes its own")
				}
			}
		case "Role", "ClusterRole":
			var o rbacv1.ClusterRole
			if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatal(err)
			}
			roles = append(roles, o.Rules...)
		}
	}
	for _, want := range []string{"--cert-secret=dd-tls", "--cert-service=dd", "--webhook-config-name=dd"} {
		if !slices.Contains(args, want) {
			t.Errorf("webhook args %q lack %s", args, want)
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--tls-cert") {
			t.Errorf("webhook args %q name a certificate file", args)
		}
	}
	var secretsByName, configsByName bool
	for _, r := range roles {
		if slices.Contains(r.Resources, "secrets") && slices.Contains(r.Verbs, "update") {
			secretsByName = slices.Equal(r.ResourceNames, []string{"dd-tls"})
		}
		if slices.Contains(r.Resources, "validatingwebhookconfigurations") {
			configsByName = slices.Equal(r.ResourceNames, []string{"dd"})
		}
	}
	if !secretsByName || !configsByName {
		t.Errorf("RBAC should limit Secret and configuration writes to their names: %+v", roles)
	}
}
