package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/finding"
)

// maxListed is how many findings a message names before "and N more".
const maxListed = 5

// builtins appends the violations of the enabled built-in rules, in
// builtinNames order, and records the rules it could not check.
func (p *Policy) builtins(in Input, now time.Time, out []Violation, skipped *[]Skipped) []Violation {
	add := func(rule, format string, args ...any) {
		out = append(out, Violation{Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	skip := func(rule, reason string) {
		*skipped = append(*skipped, Skipped{Rule: rule, Reason: reason})
	}
	ref := in.Image.Ref
	if ref == "" {
		ref = in.Image.Digest
	}

	if p.allowed != nil {
		name := in.imageName()
		switch {
		case name == "":
			add(RuleAllowedImages, "image %s has no registry name, so it cannot match the allowed images (%s)", ref, strings.Join(p.allowedRaw, ", "))
		case !anyMatch(p.allowed, name):
			add(RuleAllowedImages, "image %s is not allowed: it matches none of %s", name, strings.Join(p.allowedRaw, ", "))
		}
	}

	if p.requireDig && !in.Image.Pinned {
		if in.Image.Digest != "" && in.Image.Repository != "" {
			add(RuleRequireDigest, "image reference %s is not pinned by digest: use %s@%s", ref, in.imageName(), in.Image.Digest)
		} else {
			add(RuleRequireDigest, "image reference %s is not pinned by digest", ref)
		}
	}

	if p.requireVerd {
		switch {
		case in.FreshScan:
			skip(RuleRequireVerdict, "the findings come from a fresh scan, not a verdict")
		case in.Verdict == nil:
			add(RuleRequireVerdict, "image %s has no signed verdict", ref)
		case !in.Verdict.Passed:
			add(RuleRequireVerdict, "the verdict for image %s did not pass%s", ref, verdictFrom(in.Verdict))
		}
	}

	if p.maxVerdict > 0 {
		switch {
		case in.FreshScan:
			skip(RuleMaxVerdictAge, "the findings come from a fresh scan, not a verdict")
		case in.Verdict == nil:
			add(RuleMaxVerdictAge, "image %s has no signed verdict (one younger than %s is required)", ref, formatAge(p.maxVerdict))
		case in.Verdict.Created.IsZero():
			add(RuleMaxVerdictAge, "the verdict for image %s has no creation time (one younger than %s is required)", ref, formatAge(p.maxVerdict))
		default:
			if age := now.Sub(in.Verdict.Created); age > p.maxVerdict {
				add(RuleMaxVerdictAge, "the verdict for image %s is %s old (max %s)", ref, formatAge(age), formatAge(p.maxVerdict))
			}
		}
	}

	if p.maxBase > 0 {
		b := in.Image.Base
		switch {
		case b.Name == "" && b.Digest == "":
			skip(RuleMaxBaseAge, "the base image is unknown")
		case b.Created.IsZero():
			skip(RuleMaxBaseAge, "the base image's creation time is unknown")
		default:
			if age := now.Sub(b.Created); age > p.maxBase {
				add(RuleMaxBaseAge, "base image %s was created %s ago (max %s): rebuild on a newer base", baseName(b), formatAge(age), formatAge(p.maxBase))
			}
		}
	}

	if p.maxSev != "" {
		var over []*Finding
		for i := range in.Findings {
			f := &in.Findings[i]
			if finding.GateRank(normRating(f.Severity), p.unknownRule) > p.maxSevRank && (!p.fixableOnly || f.Fixable) {
				over = append(over, f)
			}
		}
		if len(over) > 0 {
			slices.SortStableFunc(over, func(a, b *Finding) int {
				return SeverityRank(normRating(b.Severity)) - SeverityRank(normRating(a.Severity))
			})
			what := "findings"
			if len(over) == 1 {
				what = "finding"
			}
			if p.fixableOnly {
				what += " with a fix"
			}
			add(RuleMaxSeverity, "image has %s %s (max allowed %s): %s", countBySeverity(over), what, p.maxSev, listFindings(over, nil))
		}
	}

	if len(p.deny) > 0 {
		var hit []*Finding
		var as []string
		for i := range in.Findings {
			f := &in.Findings[i]
			if id, ok := deniedID(f, p.deny); ok {
				hit = append(hit, f)
				as = append(as, id)
			}
		}
		if len(hit) > 0 {
			what := "denied findings"
			if len(hit) == 1 {
				what = "a denied finding"
			}
			add(RuleDenyFindings, "image has %s: %s", what, listFindings(hit, as))
		}
	}
	return out
}

// deniedID returns the denied ID f matches, by its ID or an alias.
func deniedID(f *Finding, deny []string) (string, bool) {
	for _, d := range deny {
		if strings.EqualFold(f.ID, d) {
			return d, true
		}
		for _, a := range f.Aliases {
			if strings.EqualFold(a, d) {
				return d, true
			}
		}
	}
	return "", false
}

// countBySeverity says "2 CRITICAL and 1 HIGH" for findings sorted worst
// first.
func countBySeverity(fs []*Finding) string {
	var parts []string
	for i := 0; i < len(fs); {
		s := normRating(fs[i].Severity)
		j := i
		for j < len(fs) && normRating(fs[j].Severity) == s {
			j++
		}
		parts = append(parts, fmt.Sprintf("%d %s", j-i, s))
		i = j
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// listFindings names findings: "CVE-2024-1 in openssl 3.0.1, ...". When as
// is given, as[i] is the denied ID findings[i] matched, shown when it is an
// alias.
func listFindings(fs []*Finding, as []string) string {
	var b strings.Builder
	for i, f := range fs {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(fs)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.ID)
		if as != nil && !strings.EqualFold(as[i], f.ID) {
			fmt.Fprintf(&b, " (%s)", as[i])
		}
		if f.Package.Name != "" {
			fmt.Fprintf(&b, " in %s %s", f.Package.Name, f.Package.Version)
		}
	}
	return b.String()
}

func verdictFrom(v *VerdictFacts) string {
	var parts []string
	if v.Policy != "" {
		parts = append(parts, "policy "+v.Policy)
	}
	if v.Signer != "" {
		parts = append(parts, "signed by "+v.Signer)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func baseName(b BaseFacts) string {
	switch {
	case b.Name != "" && b.Digest != "":
		return b.Name + "@" + b.Digest
	case b.Name != "":
		return b.Name
	}
	return b.Digest
}

// formatAge writes a duration the way people say ages: 36h, 45d, 90m.
func formatAge(d time.Duration) string {
	switch {
	case d >= 72*time.Hour && d%(24*time.Hour) == 0 || d >= 7*24*time.Hour:
		return fmt.Sprintf("%dd", int64(d/(24*time.Hour)))
	case d >= time.Hour:
		if d%time.Hour == 0 || d >= 10*time.Hour {
			return fmt.Sprintf("%dh", int64(d/time.Hour))
		}
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%dm", int64(d/time.Hour), int64(d%time.Hour/time.Minute))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int64(d/time.Minute))
	}
	return d.Round(time.Second).String()
}
