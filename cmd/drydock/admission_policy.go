package main

import (
	"context"

	"github.com/drydock/drydock/internal/admission"
	"github.com/drydock/drydock/internal/policy"
)

// admissionPolicy adapts a policy to admission.Evaluator. The verdict
// carries finding ids but not their severities, so at admission the
// severity rules (maxSeverity, CEL rules over severities) see findings of
// unknown severity; the verdict's own pass/fail (requireVerdict) is what
// carries the CI policy's judgement of severities.
type admissionPolicy struct{ p *policy.Policy }

func loadAdmissionPolicy(path string) (*admissionPolicy, error) {
	p, err := policy.Load(path)
	if err != nil {
		return nil, err
	}
	return &admissionPolicy{p: p}, nil
}

func (e *admissionPolicy) Evaluate(ctx context.Context, req admission.Request) (admission.Decision, error) {
	ref := policy.ParseReference(req.Image)
	in := policy.Input{
		Image: policy.ImageFacts{
			Ref: req.Image, Registry: ref.Registry, Repository: ref.Repository, Tag: ref.Tag,
			Digest: req.Digest.DigestStr(), Pinned: ref.Digest != "",
		},
		Kubernetes: &policy.KubeFacts{
			Namespace: req.Kubernetes.Namespace, Kind: req.Kubernetes.Kind, Name: req.Kubernetes.Name,
			Labels: req.Kubernetes.Labels, NamespaceLabels: req.Kubernetes.NamespaceLabels,
		},
	}
	if v := req.Verdict; v != nil {
		in.Verdict = &policy.VerdictFacts{Passed: v.Result == "pass", Created: v.Created, Signer: v.KeyID, Policy: v.Policy}
		in.Image.Base = policy.BaseFacts{Name: v.BaseName, Digest: v.BaseDigest}
		for _, id := range v.Findings {
			in.Findings = append(in.Findings, policy.Finding{ID: id})
		}
	}
	d, err := e.p.Evaluate(ctx, in)
	if err != nil {
		return admission.Decision{}, err
	}
	out := admission.Decision{Allow: d.Allowed}
	for _, v := range d.Violations {
		out.Reasons = append(out.Reasons, v.Rule+": "+v.Message)
	}
	return out, nil
}
