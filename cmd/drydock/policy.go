package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drydock/drydock/internal/policy"
)

func newPolicyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check images against a deployment policy (CI gate), validate policies",
	}
	cmd.AddCommand(newPolicyCheckCommand(g), newPolicyValidateCommand())
	return cmd
}

func newPolicyCheckCommand(g *globals) *cobra.Command {
	var (
		sf             scanFlags
		policyPath     string
		format         string
		name           string
		namespace      string
		labels         []string
		namespaceLabel []string
	)
	cmd := &cobra.Command{
		Use:   "check <source> --policy policy.yaml",
		Short: "Scan an image and evaluate a policy over it: exit 0 allowed, 1 denied",
		Long: `Scan an image (as "drydock scan" does) and evaluate a policy over the result, the way
the admission webhook will: allowed registries, digest pinning, severities, denied
findings, CEL rules, exceptions.

The verdict rules (requireVerdict, maxVerdictAge) are skipped: the scan made now is
fresher than any verdict. Kubernetes facts are empty unless --namespace, --label or
--namespace-label simulate a workload. A local source (OCI layout, archive) has no
registry name: --name gives the reference it will be deployed as.

Exit codes: 0 allowed; 1 denied; 2 an error (including an invalid policy).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			kube, err := kubeFacts(namespace, labels, namespaceLabel)
			if err != nil {
				return err
			}
			// Load the policy before scanning: a broken policy fails fast.
			p, err := policy.Load(policyPath)
			if err != nil {
				return err
			}
			rep, err := runScan(cmd.Context(), g, &sf, args[0], cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			in := policy.InputFromReport(rep, time.Now().UTC())
			in.Kubernetes = kube
			if name != "" {
				r := policy.ParseReference(name)
				in.Image.Ref, in.Image.Registry, in.Image.Repository, in.Image.Tag = name, r.Registry, r.Repository, r.Tag
				in.Image.Pinned = r.Digest != ""
				if r.Digest != "" && in.Image.Digest != "" && r.Digest != in.Image.Digest {
					return fmt.Errorf("--name %s names digest %s, but the image scanned is %s", name, r.Digest, in.Image.Digest)
				}
			}
			d, err := p.Evaluate(cmd.Context(), in)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = writeDecisionJSON(out, d, in.Image.Digest)
			} else {
				err = writeDecisionTable(out, d, in.Image.Digest)
			}
			if err != nil {
				return err
			}
			if !d.Allowed {
				return &errGate{msg: fmt.Sprintf("policy %s denied %s: %d violation(s)", d.Policy, d.Image, len(d.Violations))}
			}
			return nil
		},
	}
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&policyPath, "policy", "", "policy file (YAML, kind: Policy)")
	fl.StringVarP(&format, "format", "f", "table", "output format: table, json")
	fl.StringVar(&name, "name", "", "the registry reference the image is deployed as, for allowedImages, requireDigest and image exceptions (default: <source> when it is a registry reference)")
	fl.StringVar(&namespace, "namespace", "", "simulate admission to this Kubernetes namespace")
	fl.StringArrayVar(&labels, "label", nil, "simulate a workload label, key=value (repeatable)")
	fl.StringArrayVar(&namespaceLabel, "namespace-label", nil, "simulate a namespace label, key=value (repeatable)")
	cmd.MarkFlagRequired("policy")
	return cmd
}

func newPolicyValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate policy.yaml...",
		Short: "Parse policies and compile their CEL rules: exit 0 valid, 2 not",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var failed []string
			for _, path := range args {
				p, err := policy.Load(path)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%v\n", err)
					failed = append(failed, path)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: policy %s is valid; rules: %s\n", path, p.Name(), strings.Join(p.Rules(), ", "))
			}
			if len(failed) > 0 {
				return fmt.Errorf("invalid policy: %s", strings.Join(failed, ", "))
			}
			return nil
		},
	}
}

// kubeFacts builds the simulated workload; nil when no flag asks for one.
func kubeFacts(namespace string, labels, nsLabels []string) (*policy.KubeFacts, error) {
	if namespace == "" && len(labels) == 0 && len(nsLabels) == 0 {
		return nil, nil
	}
	k := &policy.KubeFacts{Namespace: namespace, Labels: map[string]string{}, NamespaceLabels: map[string]string{}}
	for _, kv := range labels {
		key, v, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--label %q: want key=value", kv)
		}
		k.Labels[key] = v
	}
	for _, kv := range nsLabels {
		key, v, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--namespace-label %q: want key=value", kv)
		}
		k.NamespaceLabels[key] = v
	}
	return k, nil
}

func writeDecisionJSON(w io.Writer, d policy.Decision, digest string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		policy.Decision
		Digest string `json:"digest,omitempty"`
	}{d, digest})
}

func writeDecisionTable(w io.Writer, d policy.Decision, digest string) error {
	verdict := "ALLOWED"
	if !d.Allowed {
		verdict = "DENIED"
	}
	image := d.Image
	if digest != "" && !strings.Contains(image, digest) {
		image += " (" + digest + ")"
	}
	fmt.Fprintf(w, "%s by policy %s: %s\n", verdict, d.Policy, image)
	if len(d.Violations) > 0 {
		fmt.Fprintln(w, "\nviolations:")
		for _, v := range d.Violations {
			fmt.Fprintf(w, "  %s: %s\n", v.Rule, v.Message)
		}
	}
	if len(d.Exceptions) > 0 {
		fmt.Fprintln(w, "\nexcepted:")
		for _, e := range d.Exceptions {
			fmt.Fprintf(w, "  %s: %s\n    exception %d: %s (%s)\n", e.Violation.Rule, e.Violation.Message, e.Index, e.Reason, expiryText("expires", e.Expires))
		}
	}
	if len(d.ExpiredExceptions) > 0 {
		fmt.Fprintln(w, "\nexpired exceptions (no longer applied):")
		for _, e := range d.ExpiredExceptions {
			fmt.Fprintf(w, "  %s: exception %d: %s (%s)\n", e.Violation.Rule, e.Index, e.Reason, expiryText("expired", e.Expires))
		}
	}
	if len(d.Skipped) > 0 {
		fmt.Fprintln(w, "\nskipped:")
		for _, s := range d.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", s.Rule, s.Reason)
		}
	}
	return nil
}

// expiryText shows a date-only expiry (stored as midnight UTC of the next
// day) as the date written: "expires at the end of 2026-12-31".
func expiryText(verb string, t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return verb + " at the end of " + t.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	return verb + " " + t.Format("2006-01-02 15:04 MST")
}
