package k8s

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/drydock/drydock/internal/attest"
	"github.com/drydock/drydock/internal/certs"
	"github.com/drydock/drydock/internal/k8stest"
	"github.com/drydock/drydock/internal/testenv"
)

// EnvHelm names the helm binary scripts/test.sh builds from the Go module
// proxy (scripts/lib/helm.sh).
const EnvHelm = "DRYDOCK_HELM"

func requireHelm(t *testing.T) string {
	t.Helper()
	h := os.Getenv(EnvHelm)
	if h == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(EnvHelm + " is not set: run ./scripts/test.sh (it builds helm with scripts/lib/helm.sh)")
		}
		t.Skip(EnvHelm + " is not set: run ./scripts/test.sh, or export " + EnvHelm + "=$(./scripts/lib/helm.sh)")
	}
	return h
}

// chart runs helm on charts/drydock.
type chart struct {
	helm, dir, pubKey string
}

func newChart(t *testing.T) *chart {
	t.Helper()
	helm := requireHelm(t)
	key, err := attest.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := attest.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "drydock.pub")
	write(t, p, pub)
	return &chart{helm: helm, dir: filepath.Join(testenv.ModuleRoot(t), "charts", "drydock"), pubKey: p}
}

func (c *chart) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(c.helm, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	err := cmd.Run()
	if err != nil {
		return out.String(), errors.New(strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (c *chart) template(t *testing.T, extra ...string) []*unstructured.Unstructured {
	t.Helper()
	args := append([]string{"template", "drydock", c.dir, "--namespace", "drydock-system", "--set-file", "keys.default=" + c.pubKey}, extra...)
	out, err := c.run(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return decodeObjects(t, out)
}

func decodeObjects(t *testing.T, stream string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decode rendered objects: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	if u == nil {
		t.Fatalf("no %T rendered", new(T))
	}
	var out T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &out
}

func kinds(objs []*unstructured.Unstructured) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(ks)
	return ks
}

// applyAll server-side applies every object to the real apiserver, the way
// `helm install --server-side` would, and fails on the first refusal.
func applyAll(t *testing.T, ctx context.Context, c *k8stest.Cluster, objs []*unstructured.Unstructured) {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s %s: the apiserver does not serve this kind: %v", gvk, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if ns := o.GetNamespace(); ns != "" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		body, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		force := true
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "helm", Force: &force}); err != nil {
			t.Errorf("apply %s %s/%s: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
}

func deleteAll(ctx context.Context, c *k8stest.Cluster, objs []*unstructured.Unstructured) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, _ := dynamic.NewForConfig(c.Config)
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if ns := o.GetNamespace(); ns != "" {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		_ = ri.Delete(ctx, o.GetName(), metav1.DeleteOptions{})
	}
}

func TestChartLintAndTemplateErrors(t *testing.T) {
	c := newChart(t)
	for _, values := range []string{"", "ci/everything-values.yaml", "ci/cert-manager-values.yaml", "ci/sqlite-server-values.yaml"} {
		args := []string{"lint", "--strict", c.dir, "--namespace", "drydock-system", "--set-file", "keys.default=" + c.pubKey}
		if values != "" {
			args = append(args, "-f", filepath.Join(c.dir, values))
		}
		if out, err := c.run(t, args...); err != nil {
			t.Errorf("helm lint %s: %v\n%s", values, err, out)
		}
	}
	// Bad or missing values fail at render time with the reason.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"template", "drydock", c.dir}, "keys: set at least one trusted public key"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "mode=loud"}, "mode"},
		{[]string{"template", "drydock", c.dir, "--set", "keys.default=not-a-key"}, "not a PEM public key"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "webhook.certificates.provider=vault"}, "want self or cert-manager"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "watch.enabled=true"}, "watch.config"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "server.enabled=true,server.replicas=2"}, "PostgreSQL"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "server.enabled=true"}, "server.config"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "server.enabled=true,server.config=x"}, "server.tokenSecret"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "server.enabled=true,server.config=x,server.tokenSecret=t"}, "tokenEnv: DRYDOCK_SERVER_TOKEN"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "server.enabled=true,server.tokenSecret=t,server.pullCredentials=false",
			"--set", "server.config=server:\n  tokenEnv: DRYDOCK_SERVER_TOKEN\n  clusters:\n    - name: here\n      pullCredentials: true\n"}, "server.pullCredentials is false"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set", "vulnDB.from=oci://reg.example/security/vulndb:latest"}, "vulnDB.publicKey"},
		{[]string{"template", "drydock", c.dir, "--set-file", "keys.default=" + c.pubKey, "--set-file", "vulnDB.publicKey=" + c.pubKey, "--set", "vulnDB.from=reg.example/security/vulndb:latest"}, "want oci://"},
	} {
		_, err := c.run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("helm %s: error %v, want one saying %q", strings.Join(tc.args[3:], " "), err, tc.want)
		}
	}
	// vulnDB.from: the webhook and the server both keep the signed
	// database, with the key from the ConfigMap.
	withDB := c.template(t, "-f", filepath.Join(c.dir, "ci/sqlite-server-values.yaml"), "--set", "vulnDB.from=oci://reg.example/security/vulndb:latest",
		"--set-file", "vulnDB.publicKey="+c.pubKey, "--set", "vulnDB.pullInterval=30m")
	wantDB := []string{"--db-from=oci://reg.example/security/vulndb:latest", "--db-key=/etc/drydock/config/vulndb-key.pub", "--db-pull-interval=30m"}
	for _, args := range [][]string{
		convert[appsv1.Deployment](t, find(withDB, "Deployment", "drydock-admission")).Spec.Template.Spec.Containers[0].Args,
		convert[appsv1.StatefulSet](t, find(withDB, "StatefulSet", "drydock-server")).Spec.Template.Spec.Containers[0].Args,
	} {
		for _, w := range wantDB {
			if !slices.Contains(args, w) {
				t.Errorf("with vulnDB.from, args %q lack %s", args, w)
			}
		}
	}
	if cm := convert[corev1.ConfigMap](t, find(withDB, "ConfigMap", "drydock-config")); !strings.Contains(cm.Data["vulndb-key.pub"], "PUBLIC KEY") {
		t.Error("the ConfigMap holds no vulndb-key.pub")
	}

	// cert-manager: the kinds it serves, and the CA injection annotation,
	// with no certificate flags left to the webhook.
	objs := c.template(t, "-f", filepath.Join(c.dir, "ci/cert-manager-values.yaml"))
	if find(objs, "Certificate", "drydock-admission") == nil || find(objs, "Issuer", "drydock-admission-ca") == nil {
		t.Errorf("cert-manager values render no Certificate/Issuer: %v", kinds(objs))
	}
	v := convert[admissionregistrationv1.ValidatingWebhookConfiguration](t, find(objs, "ValidatingWebhookConfiguration", ""))
	if v.Annotations["cert-manager.io/inject-ca-from"] != "drydock-system/drydock-admission" {
		t.Errorf("cert-manager CA injection annotation %q", v.Annotations)
	}
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "drydock-admission"))
	if args := dep.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--tls-cert=/etc/drydock/tls/tls.crt") || slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--cert-secret") }) {
		t.Errorf("cert-manager webhook args %q", args)
	}
	if find(objs, "Role", "drydock-admission") != nil {
		t.Error("with cert-manager the webhook needs no Secret access, but a Role was rendered")
	}
}

func TestChartAppliesToRealCluster(t *testing.T) {
	c := newChart(t)
	k8stest.Require(t, false)
	cl := k8stest.Start(t, k8stest.Options{})
	cs := cl.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "drydock-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("defaults", func(t *testing.T) {
		objs := c.template(t)
		want := []string{
			"ClusterRole/drydock-admission", "ClusterRoleBinding/drydock-admission", "ConfigMap/drydock-config",
			"Deployment/drydock-admission", "MutatingWebhookConfiguration/drydock-admission",
			"NetworkPolicy/drydock-admission", "PodDisruptionBudget/drydock-admission",
			"Role/drydock-admission", "RoleBinding/drydock-admission", "Service/drydock-admission",
			"ServiceAccount/drydock-admission", "ValidatingWebhookConfiguration/drydock-admission",
		}
		if d := cmp.Diff(want, kinds(objs)); d != "" {
			t.Errorf("default objects (-want +got):\n%s", d)
		}
		checkWebhookDefaults(t, objs)
		applyAll(t, ctx, cl, objs)
		// The apiserver stored what was rendered: the selector that keeps
		// the cluster from locking itself out survives defaulting.
		v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "drydock-admission", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Webhooks[0].NamespaceSelector.MatchExpressions[0].Values; !slices.Equal(got, []string{"drydock-system", "kube-system"}) {
			t.Errorf("stored namespaceSelector exempts %q", got)
		}
		checkWebhookRBACSuffices(t, ctx, cl)
		deleteAll(ctx, cl, objs)
	})

	t.Run("everything", func(t *testing.T) {
		objs := c.template(t, "-f", filepath.Join(c.dir, "ci/everything-values.yaml"))
		for _, k := range []string{"StatefulSet/drydock-server", "Deployment/drydock-watch", "ClusterRole/drydock-watch", "PersistentVolumeClaim/drydock-watch", "NetworkPolicy/drydock-server", "NetworkPolicy/drydock-watch", "Service/drydock-watch"} {
			if !slices.Contains(kinds(objs), k) {
				t.Errorf("everything-on renders no %s: %v", k, kinds(objs))
			}
		}
		// Rollouts on: patch on exactly the four workload kinds rollouts set.
		role := convert[rbacv1.ClusterRole](t, find(objs, "ClusterRole", "drydock-watch"))
		var patchable []string
		for _, r := range role.Rules {
			if slices.Contains(r.Verbs, "patch") {
				patchable = append(patchable, r.Resources...)
			}
		}
		sort.Strings(patchable)
		if d := cmp.Diff([]string{"cronjobs", "daemonsets", "deployments", "statefulsets"}, patchable); d != "" {
			t.Errorf("watch may patch (-want +got):\n%s", d)
		}
		sts := convert[appsv1.StatefulSet](t, find(objs, "StatefulSet", "drydock-server"))
		if len(sts.Spec.VolumeClaimTemplates) != 0 {
			t.Error("with PostgreSQL the server should not claim a volume")
		}
		applyAll(t, ctx, cl, objs)
		deleteAll(ctx, cl, objs)
	})

	t.Run("sqlite-server", func(t *testing.T) {
		objs := c.template(t, "-f", filepath.Join(c.dir, "ci/sqlite-server-values.yaml"))
		sts := convert[appsv1.StatefulSet](t, find(objs, "StatefulSet", "drydock-server"))
		if len(sts.Spec.VolumeClaimTemplates) != 1 {
			t.Error("with SQLite the server needs its PersistentVolume")
		}
		// pullCredentials on (the default): the server reads secrets and
		// serviceaccounts; off: it does not.
		if got := serverReads(t, objs); !slices.Contains(got, "secrets") || !slices.Contains(got, "serviceaccounts") {
			t.Errorf("server with pullCredentials reads %v; want secrets and serviceaccounts too", got)
		}
		off := c.template(t, "-f", filepath.Join(c.dir, "ci/sqlite-server-values.yaml"), "--set", "server.pullCredentials=false")
		if d := cmp.Diff([]string{"namespaces", "pods"}, serverReads(t, off)); d != "" {
			t.Errorf("server without pullCredentials reads (-want +got):\n%s", d)
		}
		// Rollouts off: the loop gets no Kubernetes access at all.
		if find(objs, "ClusterRole", "drydock-watch") != nil {
			t.Error("watch without rollouts has a ClusterRole")
		}
		sa := convert[corev1.ServiceAccount](t, find(objs, "ServiceAccount", "drydock-watch"))
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("watch without rollouts mounts a service account token")
		}
		applyAll(t, ctx, cl, objs)
		deleteAll(ctx, cl, objs)
	})
}

// serverReads lists the resources the server's ClusterRole may list, sorted.
func serverReads(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	role := convert[rbacv1.ClusterRole](t, find(objs, "ClusterRole", "drydock-server"))
	var out []string
	for _, r := range role.Rules {
		if slices.Contains(r.Verbs, "list") {
			out = append(out, r.Resources...)
		}
	}
	sort.Strings(out)
	return out
}

// checkWebhookDefaults holds the promises of the chart README.
func checkWebhookDefaults(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "drydock-admission"))
	if *dep.Spec.Replicas < 2 {
		t.Errorf("webhook replicas %d, want 2 or more", *dep.Spec.Replicas)
	}
	ps := dep.Spec.Template.Spec
	if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil || len(ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Error("webhook pods have no anti-affinity")
	}
	if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", ps.SecurityContext)
	}
	ctr := ps.Containers[0]
	if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("container securityContext %+v", ctr.SecurityContext)
	}
	for _, want := range []string{"--mode=enforce", "--cert-secret=drydock-admission-tls", "--webhook-config-name=drydock-admission", "--key=/etc/drydock/config/key-default.pub", "--namespace=drydock-system"} {
		if !slices.Contains(ctr.Args, want) {
			t.Errorf("webhook args %q lack %s", ctr.Args, want)
		}
	}
	v := convert[admissionregistrationv1.ValidatingWebhookConfiguration](t, find(objs, "ValidatingWebhookConfiguration", ""))
	w := v.Webhooks[0]
	if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy %v, want Fail", w.FailurePolicy)
	}
	if len(w.ClientConfig.CABundle) != 0 {
		t.Error("the chart sets caBundle; the webhook owns it")
	}
	pdb := find(objs, "PodDisruptionBudget", "drydock-admission")
	if pdb == nil {
		t.Error("no PodDisruptionBudget")
	}
	// Least privilege: nothing may patch workloads when rollouts are off,
	// and the webhook writes only its own objects, by name.
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		r := convert[rbacv1.ClusterRole](t, o)
		for _, rule := range r.Rules {
			for _, verb := range rule.Verbs {
				if verb == "create" && slices.Equal(rule.Resources, []string{"secrets"}) && o.GetKind() == "Role" {
					continue // create cannot be limited by name; a Role limits it to the namespace
				}
				if verb != "get" && verb != "list" && verb != "watch" && len(rule.ResourceNames) == 0 {
					t.Errorf("%s %s may %s %v of any name", o.GetKind(), o.GetName(), verb, rule.Resources)
				}
			}
		}
	}
}

// TestChartMatchesAdmissionManifests: `drydock admission manifests` and the
// chart describe the same webhooks, so either way of installing behaves the
// same.
func TestChartMatchesAdmissionManifests(t *testing.T) {
	c := newChart(t)
	bin := drydockBinary(t)
	out, err := exec.Command(bin, "admission", "manifests", "--namespace", "drydock-system", "--image", "registry.example.com/drydock:dev").Output()
	if err != nil {
		t.Fatalf("admission manifests: %v", err)
	}
	fromCLI := decodeObjects(t, out2str(out))
	fromChart := c.template(t)
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		a, b := find(fromCLI, kind, "drydock-admission"), find(fromChart, kind, "drydock-admission")
		if a == nil || b == nil {
			t.Fatalf("%s: manifests %v, chart %v", kind, a != nil, b != nil)
		}
		wa, _, _ := unstructured.NestedSlice(a.Object, "webhooks")
		wb, _, _ := unstructured.NestedSlice(b.Object, "webhooks")
		ya, _ := yaml.Marshal(wa)
		yb, _ := yaml.Marshal(wb)
		if d := cmp.Diff(string(ya), string(yb)); d != "" {
			t.Errorf("%s webhooks differ (-manifests +chart):\n%s", kind, d)
		}
	}
	flags := func(objs []*unstructured.Unstructured) []string {
		dep := convert[appsv1.Deployment](t, find(objs, "Deployment", "drydock-admission"))
		var fs []string
		for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
			if f, _, _ := strings.Cut(a, "="); strings.HasPrefix(f, "--") && !slices.Contains(fs, f) {
				fs = append(fs, f)
			}
		}
		sort.Strings(fs)
		return fs
	}
	// The chart passes more tuning flags; every flag of the manifests must
	// be among them.
	chartFlags := flags(fromChart)
	for _, f := range flags(fromCLI) {
		if !slices.Contains(chartFlags, f) {
			t.Errorf("manifests pass %s to the webhook, the chart does not (chart: %v)", f, chartFlags)
		}
	}
}

func out2str(b []byte) string { return string(b) }

// checkWebhookRBACSuffices runs the certificate manager as the chart's
// ServiceAccount: the least-privilege RBAC must be enough to create the
// Secret, watch it by name and keep both configurations' caBundle, and no
// more than that (another Secret cannot be changed, pods cannot be listed).
func checkWebhookRBACSuffices(t *testing.T, ctx context.Context, cl *k8stest.Cluster) {
	t.Helper()
	rc := rest.CopyConfig(cl.Config)
	rc.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:drydock-system:drydock-admission"}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := certs.New(certs.Config{
		Client: cs, Namespace: "drydock-system", SecretName: "drydock-admission-tls",
		DNSNames:           certs.ServiceDNSNames("drydock-admission", "drydock-system"),
		ValidatingWebhooks: []string{"drydock-admission"}, MutatingWebhooks: []string{"drydock-admission"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.Start(sctx, 30*time.Second); err != nil {
		t.Fatalf("certificate manager as the chart's ServiceAccount: %v", err)
	}
	admin := cl.Client(t)
	v, err := admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "drydock-admission", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu, err := admin.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "drydock-admission", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Webhooks[0].ClientConfig.CABundle, m.CABundle()) || !bytes.Equal(mu.Webhooks[0].ClientConfig.CABundle, m.CABundle()) {
		t.Error("the caBundle was not written with the chart's RBAC")
	}
	// With pullCredentials (the default) the webhook reads pull secrets
	// cluster-wide, but it may never change a Secret that is not its own.
	if err := cs.CoreV1().Secrets("drydock-system").Delete(ctx, "someone-elses", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the webhook's ServiceAccount may delete other Secrets: %v", err)
	}
	if _, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the webhook's ServiceAccount may list pods: %v", err)
	}
}
