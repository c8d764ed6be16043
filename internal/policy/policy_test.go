package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// doc wraps a spec body (indented by two spaces) into a policy document.
func doc(spec string) string {
	return "apiVersion: drydock.dev/v1\nkind: Policy\nmetadata:\n  name: test\nspec:\n" + spec
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return p
}

func TestLoadExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example policies: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := Load(f)
			if strings.HasPrefix(filepath.Base(f), "invalid-") {
				if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), f) {
					t.Fatalf("Load(%s) = %v, want an ErrInvalidPolicy naming the file", f, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Path() != f {
				t.Errorf("Path() = %q", p.Path())
			}
		})
	}
}

func TestProductionExample(t *testing.T) {
	p, err := Load("testdata/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"allowedImages", "requireDigest", "requireVerdict", "maxVerdictAge", "maxBaseAge", "maxSeverity", "denyFindings", "no-app-criticals", "few-highs", "owner-label"}
	if diff := cmp.Diff(want, p.Rules()); diff != "" {
		t.Errorf("Rules() (-want +got):\n%s", diff)
	}
	if p.Name() != "production" || len(p.exceptions) != 2 {
		t.Errorf("name %q, %d exceptions", p.Name(), len(p.exceptions))
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error
	}{
		{"empty", "", []string{"empty document"}},
		{"not yaml", "spec: [", []string{"parse policy"}},
		{"wrong kind", "apiVersion: drydock.dev/v1\nkind: Ignore\nmetadata: {name: x}\n", []string{`kind "Ignore"`, "drydock.dev/v1, Policy"}},
		{"wrong version", "apiVersion: drydock.dev/v2\nkind: Policy\nmetadata: {name: x}\n", []string{`apiVersion "drydock.dev/v2"`}},
		{"no name", "apiVersion: drydock.dev/v1\nkind: Policy\nmetadata: {}\n", []string{"metadata.name is required"}},
		{"unknown field", doc("  maxSeverty: HIGH\n"), []string{"line 6: spec.maxSeverty: unknown field (did you mean maxSeverity?)"}},
		{"duplicate key", doc("  maxSeverity: HIGH\n  maxSeverity: LOW\n"), []string{"maxSeverity"}},
		{"wrong type", doc("  requireDigest: yes please\n"), []string{"requireDigest", "want true or false"}},
		{"list wanted", doc("  allowedImages: registry.example.com/*\n"), []string{"allowedImages", "want a list"}},
		{"bad severity", doc("  maxSeverity: SEVERE\n"), []string{"spec.maxSeverity", `"SEVERE"`, "CRITICAL, HIGH"}},
		{"fixableOnly alone", doc("  fixableOnly: true\n"), []string{"fixableOnly needs spec.maxSeverity"}},
		{"unknownSeverity alone", doc("  unknownSeverity: ignore\n"), []string{"spec.unknownSeverity needs spec.maxSeverity"}},
		{"unknownSeverity misspelt", doc("  maxSeverity: HIGH\n  unknownSeverity: pass\n"), []string{`spec.unknownSeverity "pass": want one of fail, ignore`}},
		{"empty allowed", doc("  allowedImages: []\n"), []string{"allowedImages is empty"}},
		{"bad glob", doc("  allowedImages: [\"registry.example.com//x\"]\n"), []string{"spec.allowedImages[0]", "empty path segment"}},
		{"bad age", doc("  maxVerdictAge: 1 day\n"), []string{"spec.maxVerdictAge", "30d"}},
		{"negative age", doc("  maxBaseAge: -5h\n"), []string{"spec.maxBaseAge", "positive"}},
		{"empty deny", doc("  denyFindings: [\"\"]\n"), []string{"spec.denyFindings[0] is empty"}},
		{"rule without name", doc("  rules:\n    - expression: 'true'\n"), []string{"spec.rules[0]", "name is required"}},
		{"rule named like a builtin", doc("  rules:\n    - name: maxSeverity\n      expression: 'true'\n"), []string{"spec.rules[0] (maxSeverity)", "built-in"}},
		{"duplicate rule", doc("  rules:\n    - name: a\n      expression: 'true'\n    - name: a\n      expression: 'false'\n"), []string{"spec.rules[1] (a)", "comes earlier"}},
		{"bad rule name", doc("  rules:\n    - name: 'has space'\n      expression: 'true'\n"), []string{"spec.rules[0] (has space)", "name must be"}},
		{"no expression", doc("  rules:\n    - name: a\n"), []string{"spec.rules[0] (a)", "expression is required"}},
		{"message and messageExpression", doc("  rules:\n    - name: a\n      expression: 'true'\n      message: m\n      messageExpression: '\"m\"'\n"), []string{"not both"}},
		{"CEL syntax error", doc("  rules:\n    - name: broken\n      expression: 'findings.exists(f, '\n"), []string{"spec.rules[0] (broken)", "expression:", "Syntax error"}},
		{"CEL undeclared variable", doc("  rules:\n    - name: typo\n      expression: 'findngs.size() > 0'\n"), []string{"spec.rules[0] (typo)", "undeclared reference to 'findngs'"}},
		{"CEL undefined field", doc("  rules:\n    - name: field\n      expression: 'findings.exists(f, f.cvss > 7.0)'\n"), []string{"spec.rules[0] (field)", "undefined field 'cvss'"}},
		{"CEL type error", doc("  rules:\n    - name: types\n      expression: 'image.ageSeconds > \"1d\"'\n"), []string{"spec.rules[0] (types)", "no matching overload", "int, string"}},
		{"CEL not a bool", doc("  rules:\n    - name: count\n      expression: 'findings.size()'\n"), []string{"spec.rules[0] (count)", "has type int, want bool"}},
		{"CEL message not a string", doc("  rules:\n    - name: m\n      expression: 'true'\n      messageExpression: 'findings.size()'\n"), []string{"spec.rules[0] (m)", "messageExpression", "want string"}},
		{"exception without rules", doc("  maxSeverity: HIGH\n  exceptions:\n    - images: ['**']\n      reason: r\n      expires: 2030-01-01\n"), []string{"spec.exceptions[0]", "rules is required"}},
		{"exception for unknown rule", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: [maxSeverty]\n      images: ['**']\n      reason: r\n      expires: 2030-01-01\n"), []string{"spec.exceptions[0]", `rule "maxSeverty" is not a rule of this policy`, "it has: maxSeverity"}},
		{"exception for a builtin not enabled", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: [requireDigest]\n      images: ['**']\n      reason: r\n      expires: 2030-01-01\n"), []string{`rule "requireDigest" is not a rule`}},
		{"exception without scope", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: ['*']\n      reason: r\n      expires: 2030-01-01\n"), []string{"spec.exceptions[0]", "needs namespaces or images"}},
		{"exception without reason", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: ['*']\n      images: ['**']\n      expires: 2030-01-01\n"), []string{"spec.exceptions[0]", "reason is required"}},
		{"exception without expiry", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: ['*']\n      images: ['**']\n      reason: r\n"), []string{"spec.exceptions[0]", "expires is required"}},
		{"exception bad expiry", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: ['*']\n      images: ['**']\n      reason: r\n      expires: 31/12/2026\n"), []string{"spec.exceptions[0]", "expires", "31/12/2026"}},
		{"exception bad glob", doc("  maxSeverity: HIGH\n  exceptions:\n    - rules: ['*']\n      namespaces: ['a**']\n      reason: r\n      expires: 2030-01-01\n"), []string{"spec.exceptions[0]", "namespaces[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error does not wrap ErrInvalidPolicy: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"24h", "24h0m0s"}, {"90m", "1h30m0s"}, {"30d", "720h0m0s"}, {"1d", "24h0m0s"}, {" 2h ", "2h0m0s"},
	}
	for _, tt := range tests {
		d, err := parseAge(tt.in)
		if err != nil || d.String() != tt.want {
			t.Errorf("parseAge(%q) = %v, %v; want %s", tt.in, d, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0s", "0d", "-1d", "d", "1.5d", "1w", "forever"} {
		if _, err := parseAge(bad); err == nil {
			t.Errorf("parseAge(%q) accepted", bad)
		}
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[string]string{"30s": "30s", "90m": "1h30m", "24h": "24h", "30h": "30h", "72h": "3d", "720h": "30d", "200h": "8d", "45m": "45m"} {
		in, _ := parseAge(d)
		if got := formatAge(in); got != want {
			t.Errorf("formatAge(%s) = %q, want %q", d, got, want)
		}
	}
}
