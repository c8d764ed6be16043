package policy

import (
	"strings"
	"time"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/report"
)

// Input is everything a policy is evaluated over, for one image.
type Input struct {
	Image    ImageFacts
	Findings []Finding
	// Verdict is the signed verdict found for the image; nil when there is
	// none. The verdict rules deny a nil verdict unless FreshScan is set.
	Verdict *VerdictFacts
	// FreshScan says the findings come from a scan made for this
	// evaluation (drydock policy check) rather than from a verdict: the
	// verdict rules are then skipped, a fresh scan being newer than any
	// verdict.
	FreshScan bool
	// Kubernetes is the workload being admitted; nil outside a cluster.
	Kubernetes *KubeFacts
	// Now is the time of the evaluation; the zero time means time.Now().
	Now time.Time
}

// ImageFacts describe the image and how it is referenced.
type ImageFacts struct {
	// Ref is the reference as given ("registry.example.com/team/app:1.2").
	Ref string
	// Registry and Repository are the normalised name ParseReference
	// returns ("docker.io", "library/nginx"); both empty for local sources
	// that have no registry name.
	Registry   string
	Repository string
	Tag        string
	// Digest is the image's manifest digest when known (the reference's own,
	// or the one resolved by the scan).
	Digest string
	// Pinned says the reference names a digest.
	Pinned bool
	// Created is the image config's creation time; zero when unknown.
	Created time.Time
	Base    BaseFacts
}

// BaseFacts identify the image's base image. All empty when unknown.
type BaseFacts struct {
	Name   string
	Digest string
	// Created is the base image's creation time; zero when unknown.
	Created time.Time
}

// Finding is one vulnerability as the policy sees it. Its JSON names are its
// CEL names.
type Finding struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases"`
	// Severity is one of the finding.Rating* constants.
	Severity string  `json:"severity"`
	Score    float64 `json:"score"`
	// Fixable says a fixed version is known; FindingsFrom sets it from
	// FixedVersions.
	Fixable       bool     `json:"fixable"`
	FixedVersions []string `json:"fixedVersions"`
	// FixPath is "base", "app", or "" when the base is unknown.
	FixPath string  `json:"fixPath"`
	Package Package `json:"package"`
}

// Package is the vulnerable package of a Finding.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Type is the package-URL type: deb, apk, rpm, pypi, npm, ...
	Type string `json:"type"`
	PURL string `json:"purl"`
}

// VerdictFacts describe a verified, signed verdict for the image.
type VerdictFacts struct {
	Passed  bool
	Created time.Time
	// Signer identifies the key or identity that signed it.
	Signer string
	// Policy names the policy the verdict was made under.
	Policy string
}

// KubeFacts describe the Kubernetes workload an image is admitted for.
type KubeFacts struct {
	Namespace       string
	Kind            string
	Name            string
	Labels          map[string]string
	NamespaceLabels map[string]string
}

// InputFromReport builds the input of `drydock policy check` (and of
// attestation) from a fresh scan report: image facts from the inventory's
// source, the findings that survived suppression, FreshScan set, no
// verdict and no Kubernetes facts.
func InputFromReport(r *report.ScanReport, now time.Time) Input {
	in := Input{FreshScan: true, Now: now, Findings: FindingsFrom(r.Findings)}
	if r.Inventory != nil {
		in.Image = ImageFromSource(r.Inventory.Source)
	}
	return in
}

// ImageFromSource describes a scanned image. A registry reference is parsed
// into its name; a local source (OCI layout, archive) has no registry name
// and counts as pinned when its digest is known, since it is its content.
func ImageFromSource(s inventory.Source) ImageFacts {
	im := ImageFacts{Ref: s.Ref, Digest: s.Digest, Created: s.Created}
	if s.Kind == "registry" {
		r := ParseReference(s.Ref)
		im.Registry, im.Repository, im.Tag, im.Pinned = r.Registry, r.Repository, r.Tag, r.Digest != ""
		if r.Digest != "" && s.IndexDigest == "" && s.Digest == "" {
			im.Digest = r.Digest
		}
	} else {
		im.Pinned = s.Digest != ""
	}
	if s.BaseName != "" || s.BaseDigest != "" {
		im.Base = BaseFacts{Name: s.BaseName, Digest: s.BaseDigest}
	}
	return im
}

// Reference is an image reference split into its parts.
type Reference struct {
	Registry   string
	Repository string
	Tag        string
	Digest     string
}

// Name is registry/repository, what image globs match.
func (r Reference) Name() string {
	if r.Registry == "" {
		return r.Repository
	}
	return r.Registry + "/" + r.Repository
}

// ParseReference splits an image reference the way docker does: the first
// path component is a registry when it has a "." or ":" or is "localhost";
// otherwise the registry is docker.io, and a single-component repository is
// under library/. Docker Hub's aliases (index.docker.io,
// registry-1.docker.io) become docker.io. It does not validate: policy
// decisions about malformed references are left to allowedImages.
func ParseReference(ref string) Reference {
	var r Reference
	ref = strings.TrimPrefix(ref, "registry:")
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, r.Digest = ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		ref, r.Tag = ref[:i], ref[i+1:]
	}
	first, rest, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = strings.ToLower(first), rest
	} else {
		r.Registry, r.Repository = "docker.io", ref
	}
	switch r.Registry {
	case "index.docker.io", "registry-1.docker.io":
		r.Registry = "docker.io"
	}
	if r.Registry == "docker.io" && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r
}

// FindingsFrom converts the matcher's findings.
func FindingsFrom(fs []finding.Finding) []Finding {
	out := make([]Finding, len(fs))
	for i, f := range fs {
		out[i] = Finding{
			ID:            f.ID,
			Aliases:       f.Aliases,
			Severity:      normRating(f.Severity.Rating),
			Score:         f.Severity.Score,
			Fixable:       len(f.FixedVersions) > 0,
			FixedVersions: f.FixedVersions,
			FixPath:       f.FixPath,
			Package: Package{
				Name:    f.Package.Name,
				Version: f.Package.Version,
				Type:    f.Package.Type,
				PURL:    f.Package.PURL,
			},
		}
	}
	return out
}

// severities are the ratings, worst first.
var severities = []string{finding.RatingCritical, finding.RatingHigh, finding.RatingMedium, finding.RatingLow, finding.RatingNone, finding.RatingUnknown}

// SeverityRank orders ratings: CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2, NONE 1,
// UNKNOWN (or "") 0, and -1 for anything else. Case-insensitive.
func SeverityRank(rating string) int { return finding.SeverityRank(rating) }

// normRating maps a rating onto the known ones; anything unrecognised is
// UNKNOWN.
func normRating(r string) string {
	if n := SeverityRank(r); n >= 0 {
		return severities[len(severities)-1-n]
	}
	return finding.RatingUnknown
}

// Document is the input as CEL rules see it (see the package comment); its
// JSON form uses the same names. Evaluate builds it once per call.
type Document struct {
	Image      ImageDoc         `json:"image"`
	Findings   []Finding        `json:"findings"`
	Verdict    VerdictDoc       `json:"verdict"`
	Kubernetes KubeDoc          `json:"kubernetes"`
	Counts     map[string]int64 `json:"counts"`
	Now        time.Time        `json:"now"`
}

// ImageDoc is the CEL variable image.
type ImageDoc struct {
	Ref        string    `json:"ref"`
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	Pinned     bool      `json:"pinned"`
	Created    time.Time `json:"created"`
	AgeSeconds int64     `json:"ageSeconds"`
	Base       BaseDoc   `json:"base"`
}

// BaseDoc is the CEL value image.base.
type BaseDoc struct {
	Name       string    `json:"name"`
	Digest     string    `json:"digest"`
	Known      bool      `json:"known"`
	Created    time.Time `json:"created"`
	AgeSeconds int64     `json:"ageSeconds"`
}

// VerdictDoc is the CEL variable verdict.
type VerdictDoc struct {
	Present    bool   `json:"present"`
	Passed     bool   `json:"passed"`
	Scanned    bool   `json:"scanned"`
	AgeSeconds int64  `json:"ageSeconds"`
	Signer     string `json:"signer"`
	Policy     string `json:"policy"`
}

// KubeDoc is the CEL variable kubernetes.
type KubeDoc struct {
	Present         bool              `json:"present"`
	Namespace       string            `json:"namespace"`
	Kind            string            `json:"kind"`
	Name            string            `json:"name"`
	Labels          map[string]string `json:"labels"`
	NamespaceLabels map[string]string `json:"namespaceLabels"`
}

// Document returns the input as CEL rules see it.
func (in Input) Document() Document {
	now := in.now()
	d := Document{
		Image: ImageDoc{
			Ref:        in.Image.Ref,
			Registry:   in.Image.Registry,
			Repository: in.Image.Repository,
			Tag:        in.Image.Tag,
			Digest:     in.Image.Digest,
			Pinned:     in.Image.Pinned,
			Created:    docTime(in.Image.Created),
			AgeSeconds: ageSeconds(in.Image.Created, now),
			Base: BaseDoc{
				Name:       in.Image.Base.Name,
				Digest:     in.Image.Base.Digest,
				Known:      in.Image.Base.Name != "" || in.Image.Base.Digest != "",
				Created:    docTime(in.Image.Base.Created),
				AgeSeconds: ageSeconds(in.Image.Base.Created, now),
			},
		},
		Findings: in.Findings,
		Verdict:  VerdictDoc{Scanned: in.FreshScan, AgeSeconds: -1},
		Counts:   make(map[string]int64, len(severities)),
		Now:      now,
	}
	if d.Findings == nil {
		d.Findings = []Finding{}
	}
	if v := in.Verdict; v != nil {
		d.Verdict = VerdictDoc{Present: true, Passed: v.Passed, Scanned: in.FreshScan, AgeSeconds: ageSeconds(v.Created, now), Signer: v.Signer, Policy: v.Policy}
	}
	if k := in.Kubernetes; k != nil {
		d.Kubernetes = KubeDoc{Present: true, Namespace: k.Namespace, Kind: k.Kind, Name: k.Name, Labels: k.Labels, NamespaceLabels: k.NamespaceLabels}
	}
	if d.Kubernetes.Labels == nil {
		d.Kubernetes.Labels = map[string]string{}
	}
	if d.Kubernetes.NamespaceLabels == nil {
		d.Kubernetes.NamespaceLabels = map[string]string{}
	}
	for _, s := range severities {
		d.Counts[s] = 0
	}
	for i := range in.Findings {
		d.Counts[normRating(in.Findings[i].Severity)]++
	}
	return d
}

func (in Input) now() time.Time {
	if in.Now.IsZero() {
		return time.Now().UTC()
	}
	return in.Now.UTC()
}

// imageName is what image globs match: registry/repository, empty for a
// local source.
func (in Input) imageName() string {
	if in.Image.Repository == "" {
		return ""
	}
	return Reference{Registry: in.Image.Registry, Repository: in.Image.Repository}.Name()
}

// docTime is t in UTC, and an unknown (zero) time the Unix epoch, which is
// what CEL's native types make of a zero time.Time: so that CEL and the
// JSON document agree.
func docTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// ageSeconds is how long before now t was, -1 when t is unknown.
func ageSeconds(t, now time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return int64(now.Sub(t) / time.Second)
}
