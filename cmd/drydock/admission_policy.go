package main

import (
	"context"

	"github.com/drydock/drydock/internal/admission"
	"github.com/drydock/drydock/internal/policy"
)

// admissionPolicy adapts a policy to admission.Evaluator. Findings come
// from the verified verdict: with their severities, fixes and packages when
// the verdict records them, so severity and fixability rules apply at
// admission too; a verdict that lists bare ids (an older drydock) gives
// findings of unknown severity, and its own pass/fail (requireVerdict)
// carries the CI policy's judgement.
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
		if len(v.Details) > 0 {
			for _, f := range v.Details {
				in.Findings = append(in.Findings, policy.Finding{
					ID: f.ID, Aliases: f.Aliases, Severity: f.Severity, Score: f.Score,
					Fixable: len(f.FixedVersions) > 0, FixedVersions: f.FixedVersions, FixPath: f.FixPath,
					Package: policy.Package{Name: f.Package, Version: f.Version, Type: f.PkgType},
				})
			}
		} else {
			for _, id := range v.Findings {
				in.Findings = append(in.Findings, policy.Finding{ID: id})
			}
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
