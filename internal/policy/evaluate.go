package policy

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Decision is the outcome of evaluating a policy for one image.
type Decision struct {
	// Allowed is true when no violation remains after exceptions.
	Allowed bool `json:"allowed"`
	// Policy is the policy's metadata.name.
	Policy string `json:"policy"`
	// Image is the reference evaluated (or its digest when it has none).
	Image string `json:"image"`
	// Violations are the violations no exception covers, in rule order.
	Violations []Violation `json:"violations"`
	// Exceptions are the violations an exception covers, each with it.
	Exceptions []AppliedException `json:"exceptions,omitempty"`
	// ExpiredExceptions are exceptions that would have covered a violation
	// but have expired; that violation is in Violations.
	ExpiredExceptions []AppliedException `json:"expiredExceptions,omitempty"`
	// Skipped are enabled rules that could not be checked for this input,
	// and why (the base image's age is unknown, the findings come from a
	// fresh scan rather than a verdict).
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Violation is one rule the image breaks.
type Violation struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// AppliedException is a violation together with the exception that covers
// it (or, in ExpiredExceptions, would have).
type AppliedException struct {
	Violation Violation `json:"violation"`
	// Index is the exception's position in spec.exceptions, from 0.
	Index   int       `json:"index"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires"`
}

// Skipped is an enabled rule that was not checked.
type Skipped struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// Evaluate decides whether the image in may be deployed. It fails only when
// ctx ends (CEL comprehensions check it, so a deadline bounds a runaway
// rule); a CEL rule that fails at run time is a violation.
func (p *Policy) Evaluate(ctx context.Context, in Input) (Decision, error) {
	now := in.now()
	d := Decision{Allowed: true, Policy: p.name, Image: in.Image.Ref, Violations: []Violation{}}
	if d.Image == "" {
		d.Image = in.Image.Digest
	}
	var found []Violation
	found = p.builtins(in, now, found, &d.Skipped)

	if len(p.rules) > 0 {
		doc := in.Document()
		act := newActivation(&doc)
		for _, r := range p.rules {
			violated, msg, err := r.eval(ctx, act)
			if err != nil {
				if ctx.Err() != nil {
					return Decision{}, fmt.Errorf("policy %s: rule %s: %w", p.name, r.name, ctx.Err())
				}
				found = append(found, Violation{Rule: r.name, Message: fmt.Sprintf("rule %s could not be evaluated: %v", r.name, err)})
				continue
			}
			if violated {
				found = append(found, Violation{Rule: r.name, Message: msg})
			}
		}
	}

	if len(found) > 0 {
		name := in.imageName()
		for _, v := range found {
			applied, expired := p.except(v, in, name, now)
			switch {
			case applied != nil:
				d.Exceptions = append(d.Exceptions, AppliedException{Violation: v, Index: applied.index, Reason: applied.reason, Expires: applied.expires})
			default:
				d.Violations = append(d.Violations, v)
				for _, e := range expired {
					d.ExpiredExceptions = append(d.ExpiredExceptions, AppliedException{Violation: v, Index: e.index, Reason: e.reason, Expires: e.expires})
				}
			}
		}
	}
	d.Allowed = len(d.Violations) == 0
	return d, nil
}

// exception is a compiled spec.exceptions entry.
type exception struct {
	index      int
	rules      []string
	all        bool
	namespaces []*imageGlob
	images     []*imageGlob
	reason     string
	expires    time.Time
}

// covers reports whether e is about rule and applies to the image's
// name and namespace, regardless of its expiry.
func (e *exception) covers(rule string, in Input, imageName string) bool {
	if !e.all && !slices.Contains(e.rules, rule) {
		return false
	}
	if len(e.namespaces) > 0 {
		if in.Kubernetes == nil || !anyMatch(e.namespaces, in.Kubernetes.Namespace) {
			return false
		}
	}
	if len(e.images) > 0 && !anyMatch(e.images, imageName) {
		return false
	}
	return true
}

// except returns the first live exception covering v, or, when none does,
// the expired ones that would have.
func (p *Policy) except(v Violation, in Input, imageName string, now time.Time) (*exception, []*exception) {
	var expired []*exception
	for _, e := range p.exceptions {
		if !e.covers(v.Rule, in, imageName) {
			continue
		}
		if now.Before(e.expires) {
			return e, nil
		}
		expired = append(expired, e)
	}
	return nil, expired
}
