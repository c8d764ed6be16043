// Package suppress decides which findings a CI gate still counts: it drops
// findings with no known fix (--ignore-unfixed), findings an ignore file
// waives, and findings an OpenVEX document (--vex) declares not_affected or
// fixed. It is pure: no network, no logging; only the Load functions read
// files. Apply reports every suppression with its source and reason, and
// every ignore entry that has expired, so the report can show both.
//
// # Ignore file
//
// YAML (see testdata/drydock-ignore.yaml), decoded strictly: an unknown
// key, a duplicate key, an entry without a reason or without both id and
// package, a bad date or a bad glob fails the load with an error wrapping
// ErrInvalidIgnoreFile that names the entry's index and line.
//
//	# .drydock-ignore.yaml
//	ignore:
//	  - id: CVE-2023-4911            # an ID or any of its aliases, case-insensitive
//	    reason: "not reachable: no setuid binaries in this image"   # required
//	    expires: 2026-12-31          # optional; YYYY-MM-DD or RFC 3339
//	  - package: "pkg:npm/lodash@*"  # a glob over the package URL ...
//	    reason: "..."
//	  - package: "openssl*"          # ... or over the package name
//	    reason: "..."
//	  - id: GHSA-xxxx-xxxx-xxxx
//	    package: "golang.org/x/text" # both given: both must match
//	    reason: "..."
//
// An entry applies until its expiry: a date expires at the end of that day
// in UTC, an RFC 3339 time at that instant. Expired entries stop applying
// and are listed in Result.Expired.
//
// Package patterns are globs in drydock's one syntax (internal/glob, also
// used by policy rules): '*' and '?' stop at '/', a "**" segment spans
// segments, so "golang.org/x/*" waives golang.org/x/net but not
// golang.org/x/net/http2, "pkg:npm/@babel/*" every package of that scope
// and "pkg:npm/**" every npm package. A pattern starting with
// "pkg:" is matched against the package URL, also with its qualifiers and
// then its version left off, so "pkg:deb/debian/openssl" matches
// "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12". Any other
// pattern is matched against the package name and "namespace/name".
//
// # OpenVEX
//
// Documents follow OpenVEX v0.2.0 (@context https://openvex.dev/ns/v0.2.0).
// A statement suppresses a finding when its status is not_affected or
// fixed, its vulnerability name or an alias equals the finding's ID or an
// alias, and one of its products
//
//   - is the scanned image: an @id, identifier or sha-256 hash naming the
//     image digest ("sha256:…", "registry/repo@sha256:…",
//     "pkg:oci/app@sha256%3A…"), or a versionless pkg:oci purl whose
//     repository_url is the image's repository; or
//   - is the package itself, by package URL;
//
// and that product lists either no subcomponents or one naming the
// package. Package URLs compare type, namespace and name; the version when
// the VEX side has one (a versionless purl speaks for every version); and
// the qualifiers both sides carry. When several statements in any of the
// documents apply, the one with the latest timestamp (last_updated, else
// timestamp, else the document's) decides, as OpenVEX prescribes; so a
// later affected or under_investigation statement revokes an earlier
// not_affected one.
package suppress
