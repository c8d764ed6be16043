package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/drydock/drydock/internal/admission"
)

// Severity rules apply at admission from what the verified verdict records.
func TestAdmissionPolicySeverityFromVerdict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(path, []byte("apiVersion: drydock.dev/v1\nkind: Policy\nmetadata:\n  name: prod\nspec:\n  maxSeverity: HIGH\n  fixableOnly: true\n  maxVerdictAge: 24h\n"), 0o644)
	p, err := loadAdmissionPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	dg, _ := name.NewDigest("reg.example/team/app@sha256:" + strings.Repeat("a", 64))
	critical := admission.FindingDetail{ID: "CVE-2024-0001", Severity: "CRITICAL", FixedVersions: []string{"1.2"}, Package: "openssl", Version: "1.1", PkgType: "deb"}
	unfixed := admission.FindingDetail{ID: "CVE-2024-0002", Severity: "CRITICAL", Package: "zlib", Version: "1.0", PkgType: "deb"}
	tests := []struct {
		name    string
		details []admission.FindingDetail
		allow   bool
		reason  string
	}{
		{"fixable critical denies", []admission.FindingDetail{critical}, false, "CVE-2024-0001"},
		{"unfixed critical passes with fixableOnly", []admission.FindingDetail{unfixed}, true, ""},
		{"no findings", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &admission.Verdict{Digest: dg.DigestStr(), Result: "pass", Created: time.Now().Add(-time.Hour), Policy: "ci", Details: tt.details}
			for _, d := range tt.details {
				v.Findings = append(v.Findings, d.ID)
			}
			d, err := p.Evaluate(context.Background(), admission.Request{Image: dg.String(), Digest: dg, Verdict: v,
				Kubernetes: admission.Kubernetes{Namespace: "prod", Kind: "Pod"}})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tt.allow || !strings.Contains(strings.Join(d.Reasons, "; "), tt.reason) {
				t.Errorf("decision = %+v, want allow=%v mentioning %q", d, tt.allow, tt.reason)
			}
		})
	}
}
