package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/testenv"
)

func writePolicy(t *testing.T, spec string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	doc := "apiVersion: drydock.dev/v1\nkind: Policy\nmetadata:\n  name: ci\nspec:\n" + spec
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyCheck(t *testing.T) {
	e := newEnv(t)
	layout := demoLayout(t)
	src := "oci:" + layout + ":app"
	pypi := filepath.Join(testenv.VulnData(t), "osv-bucket-layout", "PyPI", "all.zip")
	if _, errOut, code := e.run(t, "db", "import", pypi); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}

	const deny = "  denyFindings: [PYSEC-2018-28]\n  requireVerdict: true\n"
	tests := []struct {
		name       string
		spec       string
		args       []string
		wantCode   int
		wantOut    []string
		wantNotOut []string
	}{
		{"denied finding", deny, nil, 1,
			[]string{"DENIED by policy ci", "violations:", "denyFindings: image has a denied finding: PYSEC-2018-28 in requests 2.19.1",
				"skipped:", "requireVerdict: the findings come from a fresh scan"}, nil},
		{"denied by alias", "  denyFindings: [CVE-2018-18074]\n", nil, 1,
			[]string{"PYSEC-2018-28 (CVE-2018-18074) in requests 2.19.1"}, nil},
		{"exception by image", deny + "  exceptions:\n    - rules: [denyFindings]\n      images: [registry.example.com/team/*]\n      reason: requests upgrade in OPS-42\n      expires: 2099-12-31\n",
			[]string{"--name", "registry.example.com/team/app:1.0"}, 0,
			[]string{"ALLOWED by policy ci: registry.example.com/team/app:1.0 (sha256:", "excepted:", "denyFindings: image has a denied finding: PYSEC-2018-28",
				"exception 0: requests upgrade in OPS-42 (expires at the end of 2099-12-31)"}, []string{"violations:"}},
		{"exception by image needs the name", deny + "  exceptions:\n    - rules: [denyFindings]\n      images: [registry.example.com/team/*]\n      reason: r\n      expires: 2099-12-31\n",
			nil, 1, []string{"DENIED"}, nil},
		{"exception by namespace", deny + "  exceptions:\n    - rules: ['*']\n      namespaces: [legacy-*]\n      reason: legacy apps, OPS-123\n      expires: 2099-12-31\n",
			[]string{"--namespace", "legacy-billing"}, 0, []string{"ALLOWED", "legacy apps, OPS-123"}, nil},
		{"exception by namespace, other namespace", deny + "  exceptions:\n    - rules: ['*']\n      namespaces: [legacy-*]\n      reason: r\n      expires: 2099-12-31\n",
			[]string{"--namespace", "payments"}, 1, []string{"DENIED"}, nil},
		{"expired exception", deny + "  exceptions:\n    - rules: [denyFindings]\n      images: ['**']\n      reason: lapsed waiver\n      expires: 2020-01-01\n",
			[]string{"--name", "registry.example.com/team/app:1.0"}, 1,
			[]string{"DENIED", "expired exceptions (no longer applied):", "denyFindings: exception 0: lapsed waiver (expired at the end of 2020-01-01)"}, nil},
		{"CEL rule with labels", "  rules:\n    - name: app-fixable\n      expression: 'findings.exists(f, f.fixPath == \"app\" && f.fixable) && kubernetes.labels[\"tier\"] == \"web\"'\n      messageExpression: '\"fixable in app layers: \" + findings.filter(f, f.fixPath == \"app\").map(f, f.id).join(\", \")'\n",
			[]string{"--label", "tier=web"}, 1, []string{"app-fixable: fixable in app layers: ", "PYSEC-2018-28"}, nil},
		{"allowed images and digest", "  allowedImages: [registry.example.com/team/*]\n  requireDigest: true\n",
			[]string{"--name", "registry.example.com/other/app:1.0"}, 1,
			[]string{"allowedImages: image registry.example.com/other/app is not allowed", "requireDigest: image reference registry.example.com/other/app:1.0 is not pinned by digest: use registry.example.com/other/app@sha256:"}, nil},
		{"local source is pinned by its digest", "  requireDigest: true\n  maxSeverity: CRITICAL\n  unknownSeverity: ignore\n", nil, 0, []string{"ALLOWED"}, nil},
		{"UNKNOWN findings fail maxSeverity by default", "  maxSeverity: CRITICAL\n", nil, 1, []string{"DENIED", "UNKNOWN"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"policy", "check", "--policy", writePolicy(t, tt.spec), src}, tt.args...)
			out, errOut, code := e.run(t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not say %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNotOut {
				if strings.Contains(out, w) {
					t.Errorf("stdout says %q:\n%s", w, out)
				}
			}
			if code == 1 && !strings.Contains(errOut, "policy ci denied") {
				t.Errorf("stderr does not say the policy denied: %q", errOut)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		out, errOut, code := e.run(t, "policy", "check", "--format", "json", "--policy", writePolicy(t, deny), src)
		if code != 1 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var d struct {
			Allowed    bool
			Policy     string
			Image      string
			Digest     string
			Violations []struct{ Rule, Message string }
			Skipped    []struct{ Rule, Reason string }
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if d.Allowed || d.Policy != "ci" || d.Image != src || !strings.HasPrefix(d.Digest, "sha256:") ||
			len(d.Violations) != 1 || d.Violations[0].Rule != "denyFindings" || len(d.Skipped) != 1 {
			t.Errorf("decision = %+v", d)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bad := writePolicy(t, "  rules:\n    - name: typo\n      expression: 'findngs.size() > 0'\n")
		tests := []struct {
			name    string
			args    []string
			wantErr string
		}{
			{"invalid policy", []string{"policy", "check", "--policy", bad, src}, "spec.rules[0] (typo)"},
			{"missing policy file", []string{"policy", "check", "--policy", filepath.Join(t.TempDir(), "nope.yaml"), src}, "nope.yaml"},
			{"no --policy", []string{"policy", "check", src}, `"policy" not set`},
			{"bad label", []string{"policy", "check", "--policy", writePolicy(t, deny), "--label", "tier", src}, `--label "tier"`},
			{"bad format", []string{"policy", "check", "--policy", writePolicy(t, deny), "--format", "xml", src}, "--format"},
			{"name with another digest", []string{"policy", "check", "--policy", writePolicy(t, deny), "--name", "registry.example.com/a@sha256:0000", src}, "but the image scanned is"},
			{"missing image", []string{"policy", "check", "--policy", writePolicy(t, deny), "oci:" + filepath.Join(t.TempDir(), "nope")}, "open OCI layout"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, errOut, code := e.run(t, tt.args...)
				if code != 2 || !strings.Contains(errOut, tt.wantErr) {
					t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.wantErr)
				}
			})
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	e := newEnv(t)
	example := filepath.Join(testenv.ModuleRoot(t), "internal", "policy", "testdata", "production.yaml")
	out, errOut, code := e.run(t, "policy", "validate", example)
	if code != 0 || !strings.Contains(out, "policy production is valid") || !strings.Contains(out, "no-app-criticals") {
		t.Errorf("validate example: exit %d\n%s%s", code, out, errOut)
	}

	bad := writePolicy(t, "  rules:\n    - name: not-bool\n      expression: 'findings.size()'\n")
	out, errOut, code = e.run(t, "policy", "validate", example, bad)
	if code != 2 || !strings.Contains(errOut, "spec.rules[0] (not-bool)") || !strings.Contains(errOut, "want bool") {
		t.Errorf("validate a type error: exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "policy production is valid") {
		t.Errorf("the valid policy was not reported alongside the invalid one: %q", out)
	}
}
