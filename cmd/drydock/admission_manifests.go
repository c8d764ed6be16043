package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	// sigs.k8s.io/yaml, not go.yaml.in/yaml/v3: Kubernetes API types carry only
	// json tags (and custom JSON marshalling, e.g. resource.Quantity), which it
	// honours by going through encoding/json.
	"sigs.k8s.io/yaml"

	"github.com/drydock/drydock/internal/admission"
)

// admissionManifests are the inputs of `drydock admission manifests`.
type admissionManifests struct {
	namespace, image, caFile, name string
	mode, selection, failure       string
	policyFile                     string
	exempt                         []string
	timeoutSeconds, replicas       int32
	webhookURL                     string
	insecure                       bool
}

func newAdmissionManifestsCommand() *cobra.Command {
	m := &admissionManifests{}
	cmd := &cobra.Command{
		Use:   "manifests",
		Short: "Print the Kubernetes objects that deploy the admission webhook",
		Long: `Print, as one YAML stream for "kubectl apply -f -", the Validating- and
MutatingWebhookConfiguration, the Service, the Deployment (2 replicas,
non-root, read-only root filesystem, readiness on /readyz), its
ServiceAccount and the RBAC it needs. The Helm chart (charts/drydock) is the
usual way to install; these objects match its webhook part.

Certificates: without --ca-bundle-file the webhook makes its own CA and
serving certificate in the Secret <name>-tls and keeps the configurations'
caBundle (RBAC: read namespaces; its own Secret and the two configurations,
by name). With --ca-bundle-file, the caBundle is that file and the Secret
<name>-tls (type kubernetes.io/tls, for <name>.<namespace>.svc) must be made
elsewhere (RBAC: read namespaces only).

The Deployment expects, in --namespace, a ConfigMap <name> holding key.pub
(the verdict signing public key) and, with --policy-file, the policy under
that name.`,
		Example: `  drydock admission manifests --image registry.example.com/drydock@sha256:… | kubectl apply -f -
  # A webhook run outside the cluster (tests): the configurations only.
  drydock admission manifests --webhook-url https://10.0.0.5:8443 --ca-bundle-file ca.crt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.write(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&m.namespace, "namespace", admission.DefaultNamespace, "namespace drydock runs in (always exempt)")
	fl.StringVar(&m.image, "image", "", "drydock container image (pin it by digest)")
	fl.StringVar(&m.caFile, "ca-bundle-file", "", "PEM CA certificate(s) that signed the webhook's serving certificate")
	fl.StringVar(&m.name, "name", "drydock-admission", "name of the Service, Deployment, ServiceAccount, Secret and ConfigMap")
	fl.StringVar(&m.mode, "mode", "enforce", "enforce, warn or audit")
	fl.StringVar(&m.selection, "selection", "opt-out", "opt-out (drydock.dev/ignore=true skips a namespace) or opt-in (only drydock.dev/enforce=true)")
	fl.StringVar(&m.failure, "failure-policy", "fail", "fail (deny when the webhook or a registry is unreachable) or ignore")
	fl.StringVar(&m.policyFile, "policy-file", "", "policy file name inside the ConfigMap (default: require a passing verdict)")
	fl.StringSliceVar(&m.exempt, "exempt-namespace", []string{"kube-system"}, "namespaces never checked besides --namespace")
	fl.Int32Var(&m.timeoutSeconds, "timeout-seconds", 10, "webhook timeoutSeconds (1-30)")
	fl.Int32Var(&m.replicas, "replicas", 2, "webhook replicas")
	fl.StringVar(&m.webhookURL, "webhook-url", "", "call the webhook at this https URL (…/validate, …/mutate) instead of the Service (out-of-cluster webhooks, tests)")
	fl.BoolVar(&m.insecure, "insecure-registry", false, "pass --insecure-registry to the webhook")
	return cmd
}

func (m *admissionManifests) write(w io.Writer) error {
	objs, err := m.objects()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# drydock admission webhook: kubectl apply -f -\n")
	for _, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func (m *admissionManifests) objects() ([]any, error) {
	if m.image == "" && m.webhookURL == "" {
		return nil, errors.New("--image is required")
	}
	var ca []byte
	if m.caFile != "" {
		b, err := os.ReadFile(m.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle-file: %w", err)
		}
		if err := checkCABundle(b); err != nil {
			return nil, fmt.Errorf("--ca-bundle-file %s: %w", m.caFile, err)
		}
		ca = b
	}
	selfCerts := m.caFile == ""
	if _, err := admission.ParseMode(m.mode); err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	sel, err := admission.ParseSelection(m.selection)
	if err != nil {
		return nil, fmt.Errorf("--selection: %w", err)
	}
	failOpen, err := parseFailurePolicy(m.failure)
	if err != nil {
		return nil, err
	}
	if m.timeoutSeconds < 1 || m.timeoutSeconds > 30 {
		return nil, errors.New("--timeout-seconds must be between 1 and 30")
	}
	if m.webhookURL != "" && !strings.HasPrefix(m.webhookURL, "https://") {
		return nil, errors.New("--webhook-url must be https://")
	}
	fp := admissionregistrationv1.Fail
	if failOpen {
		fp = admissionregistrationv1.Ignore
	}
	sideEffects := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	reinvoke := admissionregistrationv1.IfNeededReinvocationPolicy
	scope := admissionregistrationv1.NamespacedScope
	labels := map[string]string{"app.kubernetes.io/name": m.name, "app.kubernetes.io/part-of": "drydock"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}

	// Rules: pods (and their ephemeral containers), and every kind that
	// creates pods.
	byGroup := map[string][]string{}
	var groups []string
	for _, k := range admission.Kinds {
		if _, ok := byGroup[k.Group]; !ok {
			groups = append(groups, k.Group)
		}
		byGroup[k.Group] = append(byGroup[k.Group], k.Resource)
		if k.Resource == "pods" {
			byGroup[k.Group] = append(byGroup[k.Group], "pods/ephemeralcontainers")
		}
	}
	var rules []admissionregistrationv1.RuleWithOperations
	for _, g := range groups {
		rules = append(rules, admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{g}, APIVersions: []string{"v1"}, Resources: byGroup[g], Scope: &scope},
		})
	}
	exempt := append([]string{m.namespace}, m.exempt...)
	nsSel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: admission.LabelNamespaceName, Operator: metav1.LabelSelectorOpNotIn, Values: exempt},
	}}
	if sel == admission.SelectOptIn {
		nsSel.MatchExpressions = append(nsSel.MatchExpressions, metav1.LabelSelectorRequirement{Key: admission.LabelEnforce, Operator: metav1.LabelSelectorOpIn, Values: []string{"true"}})
	} else {
		nsSel.MatchExpressions = append(nsSel.MatchExpressions, metav1.LabelSelectorRequirement{Key: admission.LabelIgnore, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}})
	}
	client := func(path string) admissionregistrationv1.WebhookClientConfig {
		if m.webhookURL != "" {
			u := strings.TrimSuffix(m.webhookURL, "/") + path
			return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: ca}
		}
		port := int32(443)
		return admissionregistrationv1.WebhookClientConfig{
			Service:  &admissionregistrationv1.ServiceReference{Namespace: m.namespace, Name: m.name, Path: &path, Port: &port},
			CABundle: ca,
		}
	}
	timeout := m.timeoutSeconds
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta(m.name, ""),
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.drydock.dev", ClientConfig: client("/validate"), Rules: rules,
			FailurePolicy: &fp, MatchPolicy: &equivalent, NamespaceSelector: nsSel, SideEffects: &sideEffects,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: meta(m.name, ""),
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pin.drydock.dev", ClientConfig: client("/mutate"), Rules: rules,
			FailurePolicy: &fp, MatchPolicy: &equivalent, NamespaceSelector: nsSel, SideEffects: &sideEffects,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &reinvoke,
		}},
	}
	objs := []any{validating, mutating}
	if m.webhookURL != "" {
		return objs, nil // the webhook runs elsewhere
	}

	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(m.name, m.namespace)}
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta(m.name, ""),
		// Secrets and service accounts: each workload's pull credentials
		// (--pull-credentials), read through informers; only pull secrets'
		// data is kept in memory.
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces", "secrets", "serviceaccounts"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if selfCerts {
		role.Rules = append(role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
			ResourceNames: []string{m.name}, Verbs: []string{"get", "update", "patch"},
		})
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: meta(m.name, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: m.name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: m.name, Namespace: m.namespace}},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(m.name, m.namespace),
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": m.name},
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}},
		},
	}
	args := []string{"admission", "serve", "--listen=:8443",
		"--key=/etc/drydock/config/key.pub", "--mode=" + m.mode, "--selection=" + m.selection,
		"--namespace=" + m.namespace, "--failure-policy=" + m.failure, "--log-level=info"}
	if selfCerts {
		args = append(args, "--cert-secret="+m.name+"-tls", "--cert-service="+m.name, "--webhook-config-name="+m.name)
	} else {
		args = append(args, "--tls-cert=/etc/drydock/tls/tls.crt", "--tls-key=/etc/drydock/tls/tls.key")
	}
	for _, e := range m.exempt {
		args = append(args, "--exempt-namespace="+e)
	}
	if m.policyFile != "" {
		args = append(args, "--policy=/etc/drydock/config/"+m.policyFile)
	}
	if m.insecure {
		args = append(args, "--insecure-registry")
	}
	yes, no := true, false
	uid := int64(65532)
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds: 10, TimeoutSeconds: 3}
	}
	replicas := m.replicas
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(m.name, m.namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": m.name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: m.name,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
								TopologyKey:   "kubernetes.io/hostname",
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": m.name}},
							}}}}},
					Containers: []corev1.Container{{
						Name: "webhook", Image: m.image, Args: args,
						Env:            []corev1.EnvVar{{Name: "DRYDOCK_CACHE_DIR", Value: "/tmp/drydock"}, {Name: "HOME", Value: "/tmp"}},
						Ports:          []corev1.ContainerPort{{Name: "https", ContainerPort: 8443, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe: probe("/readyz"), LivenessProbe: probe("/healthz"),
						SecurityContext: &corev1.SecurityContext{
							ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "tls", MountPath: "/etc/drydock/tls", ReadOnly: true},
							{Name: "config", MountPath: "/etc/drydock/config", ReadOnly: true},
							{Name: "tmp", MountPath: "/tmp"},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: m.name + "-tls"}}},
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.name}}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
	if selfCerts {
		c := &dep.Spec.Template.Spec.Containers[0]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.Name == "tls" })
		vs := &dep.Spec.Template.Spec.Volumes
		*vs = slices.DeleteFunc(*vs, func(v corev1.Volume) bool { return v.Name == "tls" })
		secretRole := &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(m.name, m.namespace),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{m.name + "-tls"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
				{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			},
		}
		secretBinding := &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(m.name, m.namespace),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: m.name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: m.name, Namespace: m.namespace}},
		}
		return append(objs, svc, dep, sa, role, binding, secretRole, secretBinding), nil
	}
	return append(objs, svc, dep, sa, role, binding), nil
}

func checkCABundle(b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return errors.New("no PEM certificate")
	}
	return nil
}
