package policy

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkEvaluate: a compiled policy with the built-in rules, an
// exception and a few CEL rules over 200 findings, the admission case.
func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, doc(`  allowedImages: ["registry.example.com/team/*", "registry.example.com/base/**"]
  requireDigest: true
  maxSeverity: HIGH
  fixableOnly: true
  denyFindings: [CVE-2024-3094, CVE-2021-44228]
  maxVerdictAge: 24h
  requireVerdict: true
  maxBaseAge: 30d
  rules:
    - name: no-app-criticals
      expression: 'findings.exists(f, f.severity == "CRITICAL" && f.fixPath == "app")'
      message: critical vulnerabilities in application layers
    - name: few-highs
      expression: 'counts["HIGH"] > 300'
      messageExpression: '"image has " + string(counts["HIGH"]) + " HIGH findings"'
    - name: no-old-log4j
      expression: 'findings.exists(f, f.package.name == "log4j-core" && f.package.version.startsWith("2.14"))'
    - name: team-label
      expression: 'kubernetes.present && !("team" in kubernetes.labels)'
  exceptions:
    - {rules: [maxSeverity], namespaces: [legacy-*], reason: OPS-123, expires: 2099-12-31}
`))
	in := testInput()
	in.Image.Pinned = true
	in.Findings = nil
	sev := []string{"HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	for i := range 200 {
		in.Findings = append(in.Findings, Finding{
			ID: fmt.Sprintf("CVE-2024-%04d", i), Aliases: []string{fmt.Sprintf("GHSA-%04d", i)}, Severity: sev[i%len(sev)],
			Fixable: i%2 == 0, FixedVersions: []string{"1.0"}, FixPath: "base",
			Package: Package{Name: fmt.Sprintf("pkg%d", i), Version: "1.0", Type: "deb"},
		})
	}
	in.Kubernetes = &KubeFacts{Namespace: "payments", Labels: map[string]string{"team": "pay"}}
	ctx := context.Background()
	d, err := p.Evaluate(ctx, in)
	if err != nil || !d.Allowed {
		b.Fatalf("want an allowed decision (every rule scans all findings): %+v %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
