package main

import (
	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/admission"
)

func newAdmissionManifestsCommand() *cobra.Command {
	m := &admission.Manifests{}
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
			return m.Write(cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&m.Namespace, "namespace", admission.DefaultNamespace, "namespace drydock runs in (always exempt)")
	fl.StringVar(&m.Image, "image", "", "drydock container image (pin it by digest)")
	fl.StringVar(&m.CAFile, "ca-bundle-file", "", "PEM CA certificate(s) that signed the webhook's serving certificate")
	fl.StringVar(&m.Name, "name", "drydock-admission", "name of the Service, Deployment, ServiceAccount, Secret and ConfigMap")
	fl.StringVar(&m.Mode, "mode", "enforce", "enforce, warn or audit")
	fl.StringVar(&m.Selection, "selection", "opt-out", "opt-out (drydock.dev/ignore=true skips a namespace) or opt-in (only drydock.dev/enforce=true)")
	fl.StringVar(&m.FailurePolicy, "failure-policy", "fail", "fail (deny when the webhook or a registry is unreachable) or ignore")
	fl.StringVar(&m.PolicyFile, "policy-file", "", "policy file name inside the ConfigMap (default: require a passing verdict)")
	fl.StringSliceVar(&m.Exempt, "exempt-namespace", []string{"kube-system"}, "namespaces never checked besides --namespace")
	fl.Int32Var(&m.TimeoutSeconds, "timeout-seconds", 10, "webhook timeoutSeconds (1-30)")
	fl.Int32Var(&m.Replicas, "replicas", 2, "webhook replicas")
	fl.StringVar(&m.WebhookURL, "webhook-url", "", "call the webhook at this https URL (…/validate, …/mutate) instead of the Service (out-of-cluster webhooks, tests)")
	fl.BoolVar(&m.Insecure, "insecure-registry", false, "pass --insecure-registry to the webhook")
	return cmd
}
