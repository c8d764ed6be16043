package policy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/report"
)

func sourceRegistry(ref string) inventory.Source {
	return inventory.Source{Kind: "registry", Ref: ref}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
	}{
		{"nginx", Reference{"docker.io", "library/nginx", "latest", ""}},
		{"nginx:1.27", Reference{"docker.io", "library/nginx", "1.27", ""}},
		{"bitnami/redis:7", Reference{"docker.io", "bitnami/redis", "7", ""}},
		{"index.docker.io/library/debian:12", Reference{"docker.io", "library/debian", "12", ""}},
		{"registry.example.com/team/app:1.2", Reference{"registry.example.com", "team/app", "1.2", ""}},
		{"Registry.Example.com/team/app", Reference{"registry.example.com", "team/app", "latest", ""}},
		{"localhost:5000/app@sha256:abcd", Reference{"localhost:5000", "app", "", "sha256:abcd"}},
		{"localhost/app:v1", Reference{"localhost", "app", "v1", ""}},
		{"registry.example.com:8443/a/b/c:v1@sha256:abcd", Reference{"registry.example.com:8443", "a/b/c", "v1", "sha256:abcd"}},
		{"registry:registry.example.com/team/app:1", Reference{"registry.example.com", "team/app", "1", ""}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ParseReference(tt.in)); diff != "" {
			t.Errorf("ParseReference(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	if got := ParseReference("nginx").Name(); got != "docker.io/library/nginx" {
		t.Errorf("Name() = %q", got)
	}
}

func TestImageFromSource(t *testing.T) {
	created := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		src  inventory.Source
		want ImageFacts
	}{
		{"registry tag", inventory.Source{Kind: "registry", Ref: "registry.example.com/team/app:1.2", Digest: "sha256:aa", Created: created},
			ImageFacts{Ref: "registry.example.com/team/app:1.2", Registry: "registry.example.com", Repository: "team/app", Tag: "1.2", Digest: "sha256:aa", Created: created}},
		{"registry digest", inventory.Source{Kind: "registry", Ref: "registry.example.com/team/app@sha256:aa", Digest: "sha256:aa", BaseName: "debian:12", BaseDigest: "sha256:bb"},
			ImageFacts{Ref: "registry.example.com/team/app@sha256:aa", Registry: "registry.example.com", Repository: "team/app", Digest: "sha256:aa", Pinned: true, Base: BaseFacts{Name: "debian:12", Digest: "sha256:bb"}}},
		{"oci layout", inventory.Source{Kind: "oci-layout", Ref: "oci:./layout:app", Digest: "sha256:cc"},
			ImageFacts{Ref: "oci:./layout:app", Digest: "sha256:cc", Pinned: true}},
		{"rootfs", inventory.Source{Kind: "rootfs", Ref: "rootfs:/mnt"},
			ImageFacts{Ref: "rootfs:/mnt"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ImageFromSource(tt.src)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestInputFromReport(t *testing.T) {
	r := &report.ScanReport{
		Inventory: &inventory.Inventory{Source: inventory.Source{Kind: "registry", Ref: "nginx:1.27", Digest: "sha256:aa"}},
		Findings: []finding.Finding{{
			ID: "PYSEC-2018-28", Aliases: []string{"CVE-2018-18074"},
			Package:       inventory.Package{Name: "requests", Version: "2.19.1", Type: "pypi", PURL: "pkg:pypi/requests@2.19.1"},
			FixedVersions: []string{"2.20.0"}, Severity: finding.Severity{Rating: "MEDIUM", Score: 6.1}, FixPath: "app",
		}, {ID: "CVE-1", Severity: finding.Severity{Rating: "weird"}}},
	}
	got := InputFromReport(r, now)
	want := Input{
		Image: ImageFacts{Ref: "nginx:1.27", Registry: "docker.io", Repository: "library/nginx", Tag: "1.27", Digest: "sha256:aa"},
		Findings: []Finding{
			{ID: "PYSEC-2018-28", Aliases: []string{"CVE-2018-18074"}, Severity: "MEDIUM", Score: 6.1, Fixable: true, FixedVersions: []string{"2.20.0"}, FixPath: "app",
				Package: Package{Name: "requests", Version: "2.19.1", Type: "pypi", PURL: "pkg:pypi/requests@2.19.1"}},
			{ID: "CVE-1", Severity: "UNKNOWN"},
		},
		FreshScan: true,
		Now:       now,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("InputFromReport (-want +got):\n%s", diff)
	}
}

// The documented input: the JSON of Document uses the CEL names.
func TestDocumentJSON(t *testing.T) {
	in := testInput()
	in.Findings = in.Findings[3:4]
	in.Kubernetes = &KubeFacts{Namespace: "payments", Labels: map[string]string{"team": "pay"}}
	b, err := json.Marshal(in.Document())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	want := map[string]any{
		"image": map[string]any{
			"ref": "registry.example.com/team/app:1.2", "registry": "registry.example.com", "repository": "team/app", "tag": "1.2",
			"digest": "sha256:aaaa", "pinned": false, "created": "2026-05-30T12:00:00Z", "ageSeconds": 172800.0,
			"base": map[string]any{"name": "registry.example.com/base/debian:12", "digest": "sha256:bbbb", "known": true, "created": "2026-05-22T12:00:00Z", "ageSeconds": 864000.0},
		},
		"findings": []any{map[string]any{
			"id": "PYSEC-2018-28", "aliases": []any{"CVE-2018-18074"}, "severity": "MEDIUM", "score": 0.0, "fixable": true,
			"fixedVersions": []any{"2.20.0"}, "fixPath": "app",
			"package": map[string]any{"name": "requests", "version": "2.19.1", "type": "pypi", "purl": "pkg:pypi/requests@2.19.1"},
		}},
		"verdict":    map[string]any{"present": true, "passed": true, "scanned": false, "ageSeconds": 7200.0, "signer": "ci-key", "policy": "production"},
		"kubernetes": map[string]any{"present": true, "namespace": "payments", "kind": "", "name": "", "labels": map[string]any{"team": "pay"}, "namespaceLabels": map[string]any{}},
		"counts":     map[string]any{"CRITICAL": 0.0, "HIGH": 0.0, "MEDIUM": 1.0, "LOW": 0.0, "NONE": 0.0, "UNKNOWN": 0.0},
		"now":        "2026-06-01T12:00:00Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

func TestSeverityRank(t *testing.T) {
	for r, want := range map[string]int{"CRITICAL": 5, "high": 4, "Medium": 3, "LOW": 2, "NONE": 1, "UNKNOWN": 0, "": 0, "SEVERE": -1} {
		if got := SeverityRank(r); got != want {
			t.Errorf("SeverityRank(%q) = %d, want %d", r, got, want)
		}
	}
}
