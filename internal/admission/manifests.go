package admission

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
)

// Manifests are the inputs of "drydock admission manifests": the objects
// that deploy the webhook, kept consistent with the Helm chart's webhook
// part (a test compares them). Errors name the command's flags, the only
// way these fields are set.
type Manifests struct {
	Namespace, Image, CAFile, Name string
	Mode, Selection, FailurePolicy string
	PolicyFile                     string
	Exempt                         []string
	TimeoutSeconds, Replicas       int32
	WebhookURL                     string
	Insecure                       bool
}

// Write prints the objects as one YAML stream for "kubectl apply -f -".
func (m *Manifests) Write(w io.Writer) error {
	objs, err := m.Objects()
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

// Objects are the webhook's Kubernetes objects: both webhook
// configurations, the Service, the Deployment, its ServiceAccount and RBAC.
func (m *Manifests) Objects() ([]any, error) {
	if m.Image == "" && m.WebhookURL == "" {
		return nil, errors.New("--image is required")
	}
	var ca []byte
	if m.CAFile != "" {
		b, err := os.ReadFile(m.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle-file: %w", err)
		}
		if err := checkCABundle(b); err != nil {
			return nil, fmt.Errorf("--ca-bundle-file %s: %w", m.CAFile, err)
		}
		ca = b
	}
	selfCerts := m.CAFile == ""
	if _, err := ParseMode(m.Mode); err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	sel, err := ParseSelection(m.Selection)
	if err != nil {
		return nil, fmt.Errorf("--selection: %w", err)
	}
	failOpen, err := ParseFailurePolicy(m.FailurePolicy)
	if err != nil {
		return nil, err
	}
	if m.TimeoutSeconds < 1 || m.TimeoutSeconds > 30 {
		return nil, errors.New("--timeout-seconds must be between 1 and 30")
	}
	if m.WebhookURL != "" && !strings.HasPrefix(m.WebhookURL, "https://") {
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
	labels := map[string]string{"app.kubernetes.io/name": m.Name, "app.kubernetes.io/part-of": "drydock"}
	meta := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
	}

	// Rules: pods (and their ephemeral containers), and every kind that
	// creates pods.
	byGroup := map[string][]string{}
	var groups []string
	for _, k := range Kinds {
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
	exempt := append([]string{m.Namespace}, m.Exempt...)
	nsSel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: LabelNamespaceName, Operator: metav1.LabelSelectorOpNotIn, Values: exempt},
	}}
	if sel == SelectOptIn {
		nsSel.MatchExpressions = append(nsSel.MatchExpressions, metav1.LabelSelectorRequirement{Key: LabelEnforce, Operator: metav1.LabelSelectorOpIn, Values: []string{"true"}})
	} else {
		nsSel.MatchExpressions = append(nsSel.MatchExpressions, metav1.LabelSelectorRequirement{Key: LabelIgnore, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"}})
	}
	client := func(path string) admissionregistrationv1.WebhookClientConfig {
		if m.WebhookURL != "" {
			u := strings.TrimSuffix(m.WebhookURL, "/") + path
			return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: ca}
		}
		port := int32(443)
		return admissionregistrationv1.WebhookClientConfig{
			Service:  &admissionregistrationv1.ServiceReference{Namespace: m.Namespace, Name: m.Name, Path: &path, Port: &port},
			CABundle: ca,
		}
	}
	timeout := m.TimeoutSeconds
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: meta(m.Name, ""),
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.drydock.dev", ClientConfig: client("/validate"), Rules: rules,
			FailurePolicy: &fp, MatchPolicy: &equivalent, NamespaceSelector: nsSel, SideEffects: &sideEffects,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: meta(m.Name, ""),
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pin.drydock.dev", ClientConfig: client("/mutate"), Rules: rules,
			FailurePolicy: &fp, MatchPolicy: &equivalent, NamespaceSelector: nsSel, SideEffects: &sideEffects,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &reinvoke,
		}},
	}
	objs := []any{validating, mutating}
	if m.WebhookURL != "" {
		return objs, nil // the webhook runs elsewhere
	}

	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(m.Name, m.Namespace)}
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: meta(m.Name, ""),
		// Secrets and service accounts: each workload's pull credentials
		// (--pull-credentials), read through informers; only pull secrets'
		// data is kept in memory.
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces", "secrets", "serviceaccounts"}, Verbs: []string{"get", "list", "watch"}}},
	}
	if selfCerts {
		role.Rules = append(role.Rules, rbacv1.PolicyRule{
			APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"},
			ResourceNames: []string{m.Name}, Verbs: []string{"get", "update", "patch"},
		})
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: meta(m.Name, ""),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: m.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: m.Name, Namespace: m.Namespace}},
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(m.Name, m.Namespace),
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app.kubernetes.io/name": m.Name},
			Ports:    []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}},
		},
	}
	args := []string{"admission", "serve", "--listen=:8443",
		"--key=/etc/drydock/config/key.pub", "--mode=" + m.Mode, "--selection=" + m.Selection,
		"--namespace=" + m.Namespace, "--failure-policy=" + m.FailurePolicy, "--log-level=info"}
	if selfCerts {
		args = append(args, "--cert-secret="+m.Name+"-tls", "--cert-service="+m.Name, "--webhook-config-name="+m.Name)
	} else {
		args = append(args, "--tls-cert=/etc/drydock/tls/tls.crt", "--tls-key=/etc/drydock/tls/tls.key")
	}
	for _, e := range m.Exempt {
		args = append(args, "--exempt-namespace="+e)
	}
	if m.PolicyFile != "" {
		args = append(args, "--policy=/etc/drydock/config/"+m.PolicyFile)
	}
	if m.Insecure {
		args = append(args, "--insecure-registry")
	}
	yes, no := true, false
	uid := int64(65532)
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}},
			PeriodSeconds: 10, TimeoutSeconds: 3}
	}
	replicas := m.Replicas
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(m.Name, m.Namespace),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": m.Name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: m.Name,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
							Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
								TopologyKey:   "kubernetes.io/hostname",
								LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": m.Name}},
							}}}}},
					Containers: []corev1.Container{{
						Name: "webhook", Image: m.Image, Args: args,
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
						{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: m.Name + "-tls"}}},
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.Name}}}},
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
			ObjectMeta: meta(m.Name, m.Namespace),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{m.Name + "-tls"}, Verbs: []string{"get", "list", "watch", "update", "patch"}},
				{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			},
		}
		secretBinding := &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(m.Name, m.Namespace),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: m.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: m.Name, Namespace: m.Namespace}},
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

// ParseFailurePolicy reads --failure-policy: fail (deny what cannot be
// checked) or ignore (admit it with a warning).
func ParseFailurePolicy(s string) (failOpen bool, err error) {
	switch strings.ToLower(s) {
	case "fail":
		return false, nil
	case "ignore":
		return true, nil
	}
	return false, fmt.Errorf("--failure-policy %q: want fail or ignore", s)
}
