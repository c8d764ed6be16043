package policy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// findings of the test image: one per severity, some fixable.
func testFindings() []Finding {
	return []Finding{
		{ID: "CVE-2024-0001", Severity: "CRITICAL", Score: 9.8, Fixable: true, FixedVersions: []string{"1.2.4"}, FixPath: "app", Package: Package{Name: "libfoo", Version: "1.2.3", Type: "deb"}},
		{ID: "CVE-2024-0002", Severity: "CRITICAL", Score: 9.1, FixPath: "base", Package: Package{Name: "libbar", Version: "2.0", Type: "deb"}},
		{ID: "GHSA-xxxx-yyyy-zzzz", Aliases: []string{"CVE-2024-3094"}, Severity: "HIGH", Score: 8.1, Fixable: true, FixedVersions: []string{"5.6.2"}, FixPath: "base", Package: Package{Name: "xz-utils", Version: "5.6.1", Type: "deb"}},
		{ID: "PYSEC-2018-28", Aliases: []string{"CVE-2018-18074"}, Severity: "MEDIUM", Fixable: true, FixedVersions: []string{"2.20.0"}, FixPath: "app", Package: Package{Name: "requests", Version: "2.19.1", Type: "pypi", PURL: "pkg:pypi/requests@2.19.1"}},
		{ID: "CVE-2024-0005", Severity: "LOW", Package: Package{Name: "zlib1g", Version: "1.2.13"}},
		{ID: "CVE-2024-0006", Severity: "UNKNOWN", Package: Package{Name: "zlib1g", Version: "1.2.13"}},
	}
}

func testInput() Input {
	return Input{
		Image: ImageFacts{
			Ref: "registry.example.com/team/app:1.2", Registry: "registry.example.com", Repository: "team/app", Tag: "1.2",
			Digest: "sha256:aaaa", Created: now.Add(-48 * time.Hour),
			Base: BaseFacts{Name: "registry.example.com/base/debian:12", Digest: "sha256:bbbb", Created: now.Add(-10 * 24 * time.Hour)},
		},
		Findings: testFindings(),
		Verdict:  &VerdictFacts{Passed: true, Created: now.Add(-2 * time.Hour), Signer: "ci-key", Policy: "production"},
		Now:      now,
	}
}

func evaluate(t testing.TB, p *Policy, in Input) Decision {
	t.Helper()
	d, err := p.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return d
}

func TestBuiltinRules(t *testing.T) {
	type edit func(*Input)
	tests := []struct {
		name        string
		spec        string
		edit        edit
		want        []Violation
		wantSkipped []Skipped
	}{
		{"nothing enabled", "  {}\n", nil, nil, nil},

		{"allowedImages match", "  allowedImages: [registry.example.com/team/*]\n", nil, nil, nil},
		{"allowedImages ** match", "  allowedImages: [\"registry.example.com/**\"]\n", nil, nil, nil},
		{"allowedImages no match", "  allowedImages: [registry.example.com/base/*, docker.io/library/*]\n", nil,
			[]Violation{{"allowedImages", "image registry.example.com/team/app is not allowed: it matches none of registry.example.com/base/*, docker.io/library/*"}}, nil},
		{"allowedImages docker hub", "  allowedImages: [docker.io/library/*]\n", func(in *Input) { in.Image = ImageFromSource(sourceRegistry("nginx:1.27")) }, nil, nil},
		{"allowedImages local source", "  allowedImages: [registry.example.com/team/*]\n", func(in *Input) { in.Image = ImageFacts{Ref: "oci:./layout:app", Digest: "sha256:cccc", Pinned: true} },
			[]Violation{{"allowedImages", "image oci:./layout:app has no registry name, so it cannot match the allowed images (registry.example.com/team/*)"}}, nil},

		{"requireDigest pinned", "  requireDigest: true\n", func(in *Input) { in.Image.Pinned = true }, nil, nil},
		{"requireDigest tag", "  requireDigest: true\n", nil,
			[]Violation{{"requireDigest", "image reference registry.example.com/team/app:1.2 is not pinned by digest: use registry.example.com/team/app@sha256:aaaa"}}, nil},
		{"requireDigest tag, digest unknown", "  requireDigest: true\n", func(in *Input) { in.Image.Digest = "" },
			[]Violation{{"requireDigest", "image reference registry.example.com/team/app:1.2 is not pinned by digest"}}, nil},

		{"maxSeverity HIGH", "  maxSeverity: HIGH\n", nil,
			[]Violation{{"maxSeverity", "image has 2 CRITICAL and 1 UNKNOWN findings (max allowed HIGH): CVE-2024-0001 in libfoo 1.2.3, CVE-2024-0002 in libbar 2.0, CVE-2024-0006 in zlib1g 1.2.13"}}, nil},
		{"maxSeverity lower case", "  maxSeverity: high\n", nil,
			[]Violation{{"maxSeverity", "image has 2 CRITICAL and 1 UNKNOWN findings (max allowed HIGH): CVE-2024-0001 in libfoo 1.2.3, CVE-2024-0002 in libbar 2.0, CVE-2024-0006 in zlib1g 1.2.13"}}, nil},
		{"maxSeverity HIGH fixableOnly", "  maxSeverity: HIGH\n  fixableOnly: true\n", nil,
			[]Violation{{"maxSeverity", "image has 1 CRITICAL finding with a fix (max allowed HIGH): CVE-2024-0001 in libfoo 1.2.3"}}, nil},
		{"maxSeverity LOW counts by severity, worst first", "  maxSeverity: LOW\n  fixableOnly: true\n", nil,
			[]Violation{{"maxSeverity", "image has 1 CRITICAL, 1 HIGH and 1 MEDIUM findings with a fix (max allowed LOW): CVE-2024-0001 in libfoo 1.2.3, GHSA-xxxx-yyyy-zzzz in xz-utils 5.6.1, PYSEC-2018-28 in requests 2.19.1"}}, nil},
		{"maxSeverity UNKNOWN lists five", "  maxSeverity: UNKNOWN\n  unknownSeverity: ignore\n", nil,
			[]Violation{{"maxSeverity", "image has 2 CRITICAL, 1 HIGH, 1 MEDIUM and 1 LOW findings (max allowed UNKNOWN): CVE-2024-0001 in libfoo 1.2.3, CVE-2024-0002 in libbar 2.0, GHSA-xxxx-yyyy-zzzz in xz-utils 5.6.1, PYSEC-2018-28 in requests 2.19.1, CVE-2024-0005 in zlib1g 1.2.13"}}, nil},
		{"maxSeverity lists at most five", "  maxSeverity: UNKNOWN\n  unknownSeverity: ignore\n", func(in *Input) {
			in.Findings = append(in.Findings, Finding{ID: "CVE-2024-0007", Severity: "LOW"})
		}, []Violation{{"maxSeverity", "image has 2 CRITICAL, 1 HIGH, 1 MEDIUM and 2 LOW findings (max allowed UNKNOWN): CVE-2024-0001 in libfoo 1.2.3, CVE-2024-0002 in libbar 2.0, GHSA-xxxx-yyyy-zzzz in xz-utils 5.6.1, PYSEC-2018-28 in requests 2.19.1, CVE-2024-0005 in zlib1g 1.2.13 and 1 more"}}, nil},
		{"maxSeverity CRITICAL allows all rated findings, not UNKNOWN", "  maxSeverity: CRITICAL\n", nil,
			[]Violation{{"maxSeverity", "image has 1 UNKNOWN finding (max allowed CRITICAL): CVE-2024-0006 in zlib1g 1.2.13"}}, nil},
		{"maxSeverity CRITICAL, unknownSeverity ignore allows all", "  maxSeverity: CRITICAL\n  unknownSeverity: ignore\n", nil, nil, nil},
		{"unknownSeverity counts UNKNOWN as a rating", "  maxSeverity: LOW\n  unknownSeverity: medium\n", func(in *Input) { in.Findings = in.Findings[4:] },
			[]Violation{{"maxSeverity", "image has 1 UNKNOWN finding (max allowed LOW): CVE-2024-0006 in zlib1g 1.2.13"}}, nil},
		{"unknownSeverity below the maximum passes", "  maxSeverity: LOW\n  unknownSeverity: low\n", func(in *Input) { in.Findings = in.Findings[4:] }, nil, nil},
		{"maxSeverity no findings", "  maxSeverity: LOW\n", func(in *Input) { in.Findings = nil }, nil, nil},
		{"maxSeverity unrecognised rating is UNKNOWN", "  maxSeverity: NONE\n", func(in *Input) { in.Findings = []Finding{{ID: "X-1", Severity: "moderate"}} },
			[]Violation{{"maxSeverity", "image has 1 UNKNOWN finding (max allowed NONE): X-1"}}, nil},

		{"denyFindings by ID", "  denyFindings: [PYSEC-2018-28]\n", nil,
			[]Violation{{"denyFindings", "image has a denied finding: PYSEC-2018-28 in requests 2.19.1"}}, nil},
		{"denyFindings by alias, any case", "  denyFindings: [cve-2024-3094, CVE-2018-18074]\n", nil,
			[]Violation{{"denyFindings", "image has denied findings: GHSA-xxxx-yyyy-zzzz (cve-2024-3094) in xz-utils 5.6.1, PYSEC-2018-28 (CVE-2018-18074) in requests 2.19.1"}}, nil},
		{"denyFindings absent", "  denyFindings: [CVE-1999-0001]\n", nil, nil, nil},

		{"maxVerdictAge fresh", "  maxVerdictAge: 24h\n", nil, nil, nil},
		{"maxVerdictAge stale", "  maxVerdictAge: 24h\n", func(in *Input) { in.Verdict.Created = now.Add(-30 * time.Hour) },
			[]Violation{{"maxVerdictAge", "the verdict for image registry.example.com/team/app:1.2 is 30h old (max 24h)"}}, nil},
		{"maxVerdictAge no verdict", "  maxVerdictAge: 1d\n", func(in *Input) { in.Verdict = nil },
			[]Violation{{"maxVerdictAge", "image registry.example.com/team/app:1.2 has no signed verdict (one younger than 24h is required)"}}, nil},
		{"maxVerdictAge no time", "  maxVerdictAge: 1d\n", func(in *Input) { in.Verdict.Created = time.Time{} },
			[]Violation{{"maxVerdictAge", "the verdict for image registry.example.com/team/app:1.2 has no creation time (one younger than 24h is required)"}}, nil},
		{"maxVerdictAge fresh scan", "  maxVerdictAge: 24h\n", func(in *Input) { in.Verdict = nil; in.FreshScan = true },
			nil, []Skipped{{"maxVerdictAge", "the findings come from a fresh scan, not a verdict"}}},

		{"requireVerdict passed", "  requireVerdict: true\n", nil, nil, nil},
		{"requireVerdict missing", "  requireVerdict: true\n", func(in *Input) { in.Verdict = nil },
			[]Violation{{"requireVerdict", "image registry.example.com/team/app:1.2 has no signed verdict"}}, nil},
		{"requireVerdict failed", "  requireVerdict: true\n", func(in *Input) { in.Verdict.Passed = false },
			[]Violation{{"requireVerdict", "the verdict for image registry.example.com/team/app:1.2 did not pass (policy production, signed by ci-key)"}}, nil},
		{"requireVerdict fresh scan", "  requireVerdict: true\n", func(in *Input) { in.Verdict = nil; in.FreshScan = true },
			nil, []Skipped{{"requireVerdict", "the findings come from a fresh scan, not a verdict"}}},

		{"maxBaseAge young", "  maxBaseAge: 30d\n", nil, nil, nil},
		{"maxBaseAge old", "  maxBaseAge: 7d\n", nil,
			[]Violation{{"maxBaseAge", "base image registry.example.com/base/debian:12@sha256:bbbb was created 10d ago (max 7d): rebuild on a newer base"}}, nil},
		{"maxBaseAge base unknown", "  maxBaseAge: 7d\n", func(in *Input) { in.Image.Base = BaseFacts{} },
			nil, []Skipped{{"maxBaseAge", "the base image is unknown"}}},
		{"maxBaseAge creation unknown", "  maxBaseAge: 7d\n", func(in *Input) { in.Image.Base.Created = time.Time{} },
			nil, []Skipped{{"maxBaseAge", "the base image's creation time is unknown"}}},

		{"all at once, in rule order", "  allowedImages: [docker.io/**]\n  requireDigest: true\n  maxSeverity: HIGH\n  fixableOnly: true\n  denyFindings: [CVE-2024-3094]\n  maxVerdictAge: 1h\n  maxBaseAge: 1d\n  requireVerdict: true\n",
			func(in *Input) { in.Image.Digest = ""; in.Verdict.Passed = false },
			[]Violation{
				{"allowedImages", "image registry.example.com/team/app is not allowed: it matches none of docker.io/**"},
				{"requireDigest", "image reference registry.example.com/team/app:1.2 is not pinned by digest"},
				{"requireVerdict", "the verdict for image registry.example.com/team/app:1.2 did not pass (policy production, signed by ci-key)"},
				{"maxVerdictAge", "the verdict for image registry.example.com/team/app:1.2 is 2h old (max 1h)"},
				{"maxBaseAge", "base image registry.example.com/base/debian:12@sha256:bbbb was created 10d ago (max 24h): rebuild on a newer base"},
				{"maxSeverity", "image has 1 CRITICAL finding with a fix (max allowed HIGH): CVE-2024-0001 in libfoo 1.2.3"},
				{"denyFindings", "image has a denied finding: GHSA-xxxx-yyyy-zzzz (CVE-2024-3094) in xz-utils 5.6.1"},
			}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, doc(tt.spec))
			in := testInput()
			if tt.edit != nil {
				tt.edit(&in)
			}
			d := evaluate(t, p, in)
			if diff := cmp.Diff(tt.want, d.Violations, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkipped, d.Skipped, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			if d.Allowed != (len(tt.want) == 0) {
				t.Errorf("Allowed = %v with %d violations", d.Allowed, len(d.Violations))
			}
			if d.Policy != "test" || d.Image != in.Image.Ref {
				t.Errorf("decision names policy %q, image %q", d.Policy, d.Image)
			}
		})
	}
}

func TestCELRules(t *testing.T) {
	rule := func(name, expr string, extra ...string) string {
		s := "    - name: " + name + "\n      expression: '" + strings.ReplaceAll(expr, "'", "''") + "'\n"
		for _, e := range extra {
			s += "      " + e + "\n"
		}
		return s
	}
	kube := &KubeFacts{Namespace: "payments", Kind: "Deployment", Name: "api", Labels: map[string]string{"team": "pay"}, NamespaceLabels: map[string]string{"env": "prod"}}
	tests := []struct {
		name  string
		rules string
		edit  func(*Input)
		want  []Violation
	}{
		{"findings exists, message", rule("no-app-criticals", `findings.exists(f, f.severity == "CRITICAL" && f.fixPath == "app")`, "message: critical vulnerabilities in application layers"), nil,
			[]Violation{{"no-app-criticals", "critical vulnerabilities in application layers"}}},
		{"not violated", rule("no-base-lows", `findings.exists(f, f.severity == "LOW" && f.fixPath == "base")`, "message: m"), nil, nil},
		{"default message", rule("has-pypi", `findings.exists(f, f.package.type == "pypi" && f.package.purl.startsWith("pkg:pypi/"))`), nil,
			[]Violation{{"has-pypi", `rule has-pypi matched: findings.exists(f, f.package.type == "pypi" && f.package.purl.startsWith("pkg:pypi/"))`}}},
		{"messageExpression", rule("criticals", `counts["CRITICAL"] > 0`, `messageExpression: '"criticals: " + findings.filter(f, f.severity == "CRITICAL").map(f, f.id).join(", ")'`), nil,
			[]Violation{{"criticals", "criticals: CVE-2024-0001, CVE-2024-0002"}}},
		{"aliases and fixedVersions", rule("xz", `findings.exists(f, "CVE-2024-3094" in f.aliases && f.fixable && f.fixedVersions[0] == "5.6.2")`, "message: xz"), nil,
			[]Violation{{"xz", "xz"}}},
		{"severityRank and score", rule("rank", `findings.filter(f, severityRank(f.severity) >= severityRank("HIGH") && f.score > 8.0).size() == 3`, "message: ranked"), nil,
			[]Violation{{"rank", "ranked"}}},
		{"counts has every rating", rule("counts", `counts["NONE"] == 0 && counts["UNKNOWN"] == 1 && counts.size() == 6`, "message: counted"), nil,
			[]Violation{{"counts", "counted"}}},
		{"image facts", rule("image", `image.registry == "registry.example.com" && image.repository == "team/app" && image.tag == "1.2" && !image.pinned && image.digest == "sha256:aaaa" && image.ageSeconds == 172800 && image.created < now`, "message: image"), nil,
			[]Violation{{"image", "image"}}},
		{"base facts", rule("base", `image.base.known && image.base.name.startsWith("registry.example.com/base/") && image.base.ageSeconds > duration("168h").getSeconds()`, "message: base is old"), nil,
			[]Violation{{"base", "base is old"}}},
		{"unknown base", rule("base", `!image.base.known && image.base.ageSeconds == -1 && image.base.created == timestamp(0)`, "message: unknown"), func(in *Input) { in.Image.Base = BaseFacts{} },
			[]Violation{{"base", "unknown"}}},
		{"timestamp arithmetic", rule("old-image", `now - image.created > duration("24h")`, "message: old"), nil,
			[]Violation{{"old-image", "old"}}},
		{"verdict facts", rule("verdict", `verdict.present && verdict.passed && !verdict.scanned && verdict.ageSeconds == 7200 && verdict.signer == "ci-key" && verdict.policy == "production"`, "message: v"), nil,
			[]Violation{{"verdict", "v"}}},
		{"no verdict", rule("verdict", `!verdict.present && verdict.ageSeconds == -1 && verdict.scanned`, "message: v"), func(in *Input) { in.Verdict = nil; in.FreshScan = true },
			[]Violation{{"verdict", "v"}}},
		{"kubernetes facts", rule("kube", `kubernetes.present && kubernetes.namespace == "payments" && kubernetes.kind == "Deployment" && kubernetes.name == "api" && kubernetes.labels["team"] == "pay" && kubernetes.namespaceLabels["env"] == "prod"`, "message: k"),
			func(in *Input) { in.Kubernetes = kube }, []Violation{{"kube", "k"}}},
		{"outside kubernetes", rule("team-label", `kubernetes.present && !("team" in kubernetes.labels)`, "message: k"), nil, nil},
		{"kubernetes without labels", rule("team-label", `kubernetes.present && !("team" in kubernetes.labels)`, "message: needs a team label"),
			func(in *Input) { in.Kubernetes = &KubeFacts{Namespace: "x"} }, []Violation{{"team-label", "needs a team label"}}},
		{"no findings", rule("empty", `findings.size() == 0 && counts["CRITICAL"] == 0`, "message: clean"), func(in *Input) { in.Findings = nil },
			[]Violation{{"empty", "clean"}}},
		{"nil aliases are empty lists", rule("aliases", `findings.all(f, f.aliases.size() >= 0)`, "message: ok"), nil, []Violation{{"aliases", "ok"}}},
		{"strings extension", rule("lower", `image.repository.lowerAscii().split("/")[0] == "team"`, "message: ok"), nil, []Violation{{"lower", "ok"}}},
		{"run-time error fails closed", rule("missing-key", `kubernetes.labels["owner"] == "x"`), nil,
			[]Violation{{"missing-key", "rule missing-key could not be evaluated: no such key: owner"}}},
		{"rules keep their order after built-ins", rule("b", `true`, "message: b") + rule("a", `true`, "message: a"), nil,
			[]Violation{{"b", "b"}, {"a", "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, doc("  rules:\n"+tt.rules))
			in := testInput()
			if tt.edit != nil {
				tt.edit(&in)
			}
			d := evaluate(t, p, in)
			if diff := cmp.Diff(tt.want, d.Violations, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateContextCancelled(t *testing.T) {
	p := mustParse(t, doc("  rules:\n    - name: slow\n      expression: 'findings.all(a, findings.all(b, findings.all(c, a.id != \"\" || b.id != c.id)))'\n"))
	in := testInput()
	for i := 0; i < 200; i++ {
		in.Findings = append(in.Findings, testFindings()...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Evaluate(ctx, in); err == nil {
		t.Error("Evaluate with a cancelled context succeeded")
	}
}

func TestExceptions(t *testing.T) {
	const spec = `  maxSeverity: HIGH
  denyFindings: [PYSEC-2018-28]
  rules:
    - name: no-app-criticals
      expression: 'findings.exists(f, f.severity == "CRITICAL" && f.fixPath == "app")'
      message: critical vulnerabilities in application layers
  exceptions:
`
	maxSev := Violation{"maxSeverity", "image has 2 CRITICAL and 1 UNKNOWN findings (max allowed HIGH): CVE-2024-0001 in libfoo 1.2.3, CVE-2024-0002 in libbar 2.0, CVE-2024-0006 in zlib1g 1.2.13"}
	deny := Violation{"denyFindings", "image has a denied finding: PYSEC-2018-28 in requests 2.19.1"}
	appCrit := Violation{"no-app-criticals", "critical vulnerabilities in application layers"}
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t.AddDate(0, 0, 1) }
	legacy := &KubeFacts{Namespace: "legacy-billing"}

	tests := []struct {
		name        string
		exceptions  string
		kube        *KubeFacts
		image       string
		want        []Violation
		wantApplied []AppliedException
		wantExpired []AppliedException
	}{
		{"no exceptions", "    []\n", nil, "", []Violation{maxSev, deny, appCrit}, nil, nil},
		{"by namespace",
			"    - {rules: [maxSeverity, no-app-criticals], namespaces: [legacy-*], reason: OPS-123, expires: 2026-12-31}\n",
			legacy, "", []Violation{deny},
			[]AppliedException{{maxSev, 0, "OPS-123", day("2026-12-31")}, {appCrit, 0, "OPS-123", day("2026-12-31")}}, nil},
		{"by namespace, other namespace",
			"    - {rules: [maxSeverity], namespaces: [legacy-*], reason: OPS-123, expires: 2026-12-31}\n",
			&KubeFacts{Namespace: "prod"}, "", []Violation{maxSev, deny, appCrit}, nil, nil},
		{"namespace never matches outside kubernetes",
			"    - {rules: ['*'], namespaces: ['*'], reason: r, expires: 2026-12-31}\n",
			nil, "", []Violation{maxSev, deny, appCrit}, nil, nil},
		{"by image",
			"    - {rules: [denyFindings], images: [registry.example.com/team/*], reason: waiting for requests 2.20, expires: 2026-07-01}\n",
			nil, "", []Violation{maxSev, appCrit},
			[]AppliedException{{deny, 0, "waiting for requests 2.20", day("2026-07-01")}}, nil},
		{"by image, other image",
			"    - {rules: [denyFindings], images: [registry.example.com/team/old-*], reason: r, expires: 2026-07-01}\n",
			nil, "", []Violation{maxSev, deny, appCrit}, nil, nil},
		{"image and namespace must both match",
			"    - {rules: [denyFindings], images: [registry.example.com/team/*], namespaces: [legacy-*], reason: r, expires: 2026-07-01}\n",
			&KubeFacts{Namespace: "prod"}, "", []Violation{maxSev, deny, appCrit}, nil, nil},
		{"image and namespace both match",
			"    - {rules: [denyFindings], images: [registry.example.com/team/*], namespaces: [legacy-*], reason: r, expires: 2026-07-01}\n",
			legacy, "", []Violation{maxSev, appCrit}, []AppliedException{{deny, 0, "r", day("2026-07-01")}}, nil},
		{"star excepts every rule",
			"    - {rules: ['*'], images: ['**'], reason: everything, expires: 2026-06-30T00:00:00Z}\n",
			nil, "", nil,
			[]AppliedException{{maxSev, 0, "everything", day("2026-06-29")}, {deny, 0, "everything", day("2026-06-29")}, {appCrit, 0, "everything", day("2026-06-29")}}, nil},
		{"expired",
			"    - {rules: [denyFindings], images: ['**'], reason: lapsed, expires: 2026-05-31}\n",
			nil, "", []Violation{maxSev, deny, appCrit}, nil,
			[]AppliedException{{deny, 0, "lapsed", day("2026-05-31")}}},
		{"expires at the end of the day written",
			"    - {rules: [denyFindings], images: ['**'], reason: today, expires: 2026-06-01}\n",
			nil, "", []Violation{maxSev, appCrit}, []AppliedException{{deny, 0, "today", day("2026-06-01")}}, nil},
		{"expired one, live one: the live one applies",
			"    - {rules: [denyFindings], images: ['**'], reason: lapsed, expires: 2026-01-01}\n    - {rules: [denyFindings], images: ['**'], reason: renewed, expires: 2026-12-31}\n",
			nil, "", []Violation{maxSev, appCrit}, []AppliedException{{deny, 1, "renewed", day("2026-12-31")}}, nil},
		{"expired exception not about a violated rule is not reported",
			"    - {rules: [no-app-criticals], images: ['**'], reason: lapsed, expires: 2026-01-01}\n",
			nil, "registry.example.com/team/clean:1", nil, nil, nil},
		{"image exception on a local source",
			"    - {rules: ['*'], images: ['**'], reason: r, expires: 2026-12-31}\n",
			nil, "oci:./layout", []Violation{maxSev, deny, appCrit}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, doc(spec+tt.exceptions))
			in := testInput()
			in.Kubernetes = tt.kube
			switch {
			case tt.image == "oci:./layout":
				in.Image = ImageFacts{Ref: tt.image, Digest: "sha256:cccc", Pinned: true}
			case tt.image != "":
				in.Image = ImageFromSource(sourceRegistry(tt.image))
				in.Findings = nil
			}
			d := evaluate(t, p, in)
			if diff := cmp.Diff(tt.want, d.Violations, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantApplied, d.Exceptions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("applied exceptions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExpired, d.ExpiredExceptions, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("expired exceptions (-want +got):\n%s", diff)
			}
			if d.Allowed != (len(tt.want) == 0) {
				t.Errorf("Allowed = %v", d.Allowed)
			}
		})
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	p, err := Load("testdata/production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := evaluate(t, p, testInput())
	done := make(chan Decision)
	for i := 0; i < 8; i++ {
		go func() {
			d, _ := p.Evaluate(context.Background(), testInput())
			done <- d
		}()
	}
	for i := 0; i < 8; i++ {
		if diff := cmp.Diff(want, <-done); diff != "" {
			t.Errorf("concurrent decision differs:\n%s", diff)
		}
	}
}
