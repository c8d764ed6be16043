// Package policy decides whether an image may be deployed: it evaluates a
// Policy (a YAML document) over the facts of one image — its reference,
// findings, signed verdict and, in the cluster, the Kubernetes namespace and
// labels of the workload — and returns a Decision that lists every violation,
// every exception applied and every exception that has expired.
//
// The package is pure: apart from Load, which reads one file, it touches
// neither the disk nor the network, so `drydock policy check` (CI) and the
// admission webhook evaluate the same policy the same way. CEL programs are
// compiled and type-checked once, by Parse; Evaluate only runs them.
//
// # The policy document
//
//	apiVersion: drydock.dev/v1
//	kind: Policy
//	metadata:
//	  name: production
//	spec:
//	  allowedImages: ["registry.example.com/team/*", "registry.example.com/base/**"]
//	  requireDigest: true
//	  maxSeverity: HIGH
//	  fixableOnly: true
//	  denyFindings: [CVE-2024-3094]
//	  maxVerdictAge: 24h
//	  maxBaseAge: 30d
//	  requireVerdict: true
//	  rules:
//	    - name: no-app-criticals
//	      expression: 'findings.exists(f, f.severity == "CRITICAL" && f.fixPath == "app")'
//	      message: critical vulnerabilities in application layers
//	  exceptions:
//	    - rules: [maxSeverity, no-app-criticals]
//	      namespaces: ["legacy-*"]
//	      images: ["registry.example.com/team/old-*"]
//	      reason: migration ticket OPS-123
//	      expires: 2026-12-31
//
// Decoding is strict: unknown fields, duplicate keys and wrong types are
// errors, and every error names the rule or exception it is about.
//
// # Built-in rules
//
// Each built-in rule is named after its field, and that name is what
// exceptions refer to and what violations report:
//
//   - allowedImages: the image's registry/repository must match one of the
//     globs. In a glob, "*" matches within one path segment, "**" as a whole
//     segment matches any number of segments (at least one when it ends the
//     glob: "registry.example.com/base/**" matches everything under base/,
//     not base itself); '?' and '[a-z]' match one character (the syntax of
//     internal/glob, shared with ignore files), case-insensitively here.
//     Docker Hub names are normalised:
//     "nginx" is "docker.io/library/nginx".
//   - requireDigest: the reference must name a digest (repo@sha256:...). An
//     image read from a local source (OCI layout, archive) is its content, so
//     it counts as pinned when its digest is known.
//   - maxSeverity (with fixableOnly, unknownSeverity): no finding may be
//     rated above this severity (CRITICAL > HIGH > MEDIUM > LOW > NONE); with
//     fixableOnly, only findings with a fixed version count. A finding of
//     UNKNOWN severity (no record rates it) is judged by unknownSeverity:
//     "fail" (the default) counts it as above any maxSeverity, "ignore" lets
//     it pass, and a rating (critical, high, medium, low, none) counts it as
//     that rating.
//   - denyFindings: no finding may have one of these IDs, as its ID or as an
//     alias (case-insensitive).
//   - maxVerdictAge: the signed verdict must be younger than this; a missing
//     verdict violates it.
//   - maxBaseAge: the base image must have been created no longer ago than
//     this. Skipped when the base or its creation time is unknown.
//   - requireVerdict: a verdict must exist and have passed.
//
// Durations are Go durations ("36h", "90m") or whole days ("30d").
//
// The verdict rules are skipped when the findings come from a scan made for
// this evaluation (Input.FreshScan, as in `drydock policy check`). Skipped
// rules are listed in the Decision with the reason.
//
// # CEL rules
//
// Each entry of spec.rules is a CEL expression (https://cel.dev) that is true
// when the image VIOLATES the rule, with an optional message (fixed text) or
// messageExpression (a CEL expression of type string, evaluated on
// violation). Rule names must be unique and must not be a built-in name.
// Expressions are type-checked against these variables:
//
//	image       {ref, registry, repository, tag, digest: string; pinned: bool;
//	             created: timestamp; ageSeconds: int;
//	             base: {name, digest: string; known: bool; created: timestamp; ageSeconds: int}}
//	findings    list of {id: string; aliases: list(string); severity: string; score: double;
//	             fixable: bool; fixedVersions: list(string); fixPath: string;
//	             package: {name, version, type, purl: string}}
//	verdict     {present, passed, scanned: bool; ageSeconds: int; signer, policy: string}
//	kubernetes  {present: bool; namespace, kind, name: string;
//	             labels, namespaceLabels: map(string, string)}
//	counts      map(string, int): findings per severity; every rating is a key
//	now         timestamp
//
// Unknown times are timestamp(0) (1970-01-01T00:00:00Z) with ageSeconds
// -1. severity is one of CRITICAL, HIGH, MEDIUM, LOW, NONE,
// UNKNOWN; fixPath is "base", "app" or "" (base unknown). verdict.scanned is
// true when the findings come from a fresh scan rather than a verdict. The
// function severityRank(string) int orders ratings (UNKNOWN 0 … CRITICAL 5).
// The CEL standard library and the strings extension are available.
// Input.Document returns this document, and its JSON form uses the same
// names.
//
// An expression that fails at run time (a missing map key, say) counts as a
// violation whose message says why: a policy fails closed.
//
// # Exceptions
//
// An exception names the rules it excepts ("*" for all), where it applies
// (namespaces and/or images globs; at least one; both must match when both
// are given; a namespace glob never matches outside Kubernetes), a reason
// and an expiry (YYYY-MM-DD, which lasts through that day UTC, or an RFC
// 3339 instant). An exception turns the violations of its rules into
// AppliedExceptions; an expired one applies no longer and is reported in
// ExpiredExceptions for each violation it would have excepted.
package policy
