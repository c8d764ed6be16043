// Package finding holds what a vulnerability finding is — the package it
// affects, its ids, severity and fix — and the severity scale, apart from
// how findings are made. The matcher produces findings from the database;
// the policy, the formatters and suppression only read them, and by
// importing this leaf instead of the matcher they stay free of the database
// (and of SQLite and the network behind it).
package finding

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/drydock/drydock/internal/inventory"
)

// Finding is one vulnerability of one installed package.
type Finding struct {
	// ID is the primary advisory id; when several advisories describe the
	// same vulnerability, the ecosystem-native one.
	ID string `json:"id"`
	// Aliases are the other ids of the vulnerability: the advisories'
	// aliases, CVE ids from upstream and related (including the CVE inside
	// ids like UBUNTU-CVE-2024-6387), and the ids of merged advisories.
	// Sorted, without ID.
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// Package is the installed package as the inventory lists it.
	Package   inventory.Package `json:"package"`
	Ecosystem string            `json:"ecosystem"`
	// InstalledVersion is the version compared: the source version for
	// Debian-family packages, "epoch:version-release" for rpm.
	InstalledVersion string `json:"installedVersion"`
	// FixedVersions are the versions that end the matched ranges, oldest
	// first. Empty when no fix is known.
	FixedVersions []string `json:"fixedVersions,omitempty"`
	Severity      Severity `json:"severity"`
	// Layer is the diffID of the layer that introduced the package.
	Layer string `json:"layer,omitempty"`
	// FixPath is "base" when the package came with the base image (rebuild
	// on a patched base), "app" when the image's own layers added it, and
	// empty when the base is unknown.
	FixPath string `json:"fixPath,omitempty"`
	// DataSource is the id of the advisory the finding came from (of the
	// primary one, when merged).
	DataSource string `json:"dataSource"`
	// SeveritySource says where Severity came from: one of the Origin*
	// constants. A gate reads it to tell a judged finding from an unjudged
	// one, and a reader to know whose word the rating is.
	SeveritySource string `json:"severitySource"`
	// URL is the web page of the primary advisory.
	URL string `json:"url"`
}

// Origins of a finding's severity, in the order they are consulted.
const (
	// OriginAdvisory: the finding's own records carry a CVSS vector (v4,
	// v3.1, v3.0) or their ecosystem's rating (GHSA's).
	OriginAdvisory = "advisory"
	// OriginAlias: another record of the same vulnerability in the
	// database (sharing an alias: the GHSA, NVD-derived or other
	// ecosystem's record of the CVE) rates it; Severity.From names it.
	OriginAlias = "alias"
	// OriginDistribution: only the distribution's rating (Debian urgency,
	// Ubuntu priority) is known.
	OriginDistribution = "distribution"
	// OriginNone: nothing rates it; the rating is UNKNOWN.
	OriginNone = "none"
)

// Ratings, from the CVSS qualitative severity scale plus UNKNOWN for
// advisories that carry no usable severity.
const (
	RatingCritical = "CRITICAL"
	RatingHigh     = "HIGH"
	RatingMedium   = "MEDIUM"
	RatingLow      = "LOW"
	RatingNone     = "NONE"
	RatingUnknown  = "UNKNOWN"
)

// Ratings lists the ratings worst first.
var Ratings = []string{RatingCritical, RatingHigh, RatingMedium, RatingLow, RatingNone, RatingUnknown}

// Severity sources, from the highest fidelity down.
const (
	SourceCVSSv4         = "CVSS_V4"
	SourceCVSSv3         = "CVSS_V3"
	SourceDebianUrgency  = "debian-urgency"
	SourceUbuntuPriority = "ubuntu-priority"
	SourceGHSA           = "ghsa"
)

// ErrInvalidVector is returned (wrapped) by ParseCVSS for vectors that are
// not CVSS v3.0, v3.1 or v4.0 base vectors.
var ErrInvalidVector = errors.New("invalid CVSS vector")

// Severity is how bad a finding is, and where that judgement came from.
type Severity struct {
	// Score is the CVSS base score; 0 for vendor ratings.
	Score float64 `json:"score,omitempty"`
	// Rating is one of the Rating* constants.
	Rating string `json:"rating"`
	Vector string `json:"vector,omitempty"`
	// Source is one of the Source* constants, empty when unknown.
	Source string `json:"source,omitempty"`
	// From is the id of the advisory the rating was read from when that is
	// not the finding's own (an alias's record: the GHSA or NVD-derived
	// record of the same CVE); empty when the finding's own advisories rate
	// it.
	From string `json:"from,omitempty"`
}

// ParseCVSS scores a CVSS v3.0, v3.1 or v4.0 vector ("CVSS:3.1/AV:N/...")
// and rates the score on the CVSS qualitative scale.
func ParseCVSS(vector string) (Severity, error) {
	var score float64
	var source string
	switch {
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return Severity{}, fmt.Errorf("parse CVSS vector %q: %w: %v", vector, ErrInvalidVector, err)
		}
		score, source = v.BaseScore(), SourceCVSSv3
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return Severity{}, fmt.Errorf("parse CVSS vector %q: %w: %v", vector, ErrInvalidVector, err)
		}
		score, source = v.BaseScore(), SourceCVSSv3
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := cvss40.ParseVector(vector)
		if err != nil {
			return Severity{}, fmt.Errorf("parse CVSS vector %q: %w: %v", vector, ErrInvalidVector, err)
		}
		score, source = v.Score(), SourceCVSSv4
	default:
		return Severity{}, fmt.Errorf("parse CVSS vector %q: %w: unsupported version", vector, ErrInvalidVector)
	}
	if math.IsNaN(score) || score < 0 || score > 10 {
		return Severity{}, fmt.Errorf("parse CVSS vector %q: %w: score %v out of range", vector, ErrInvalidVector, score)
	}
	return Severity{Score: score, Rating: Rate(score), Vector: vector, Source: source}, nil
}

// Rate returns the CVSS qualitative rating of a score.
func Rate(score float64) string {
	switch {
	case score >= 9.0:
		return RatingCritical
	case score >= 7.0:
		return RatingHigh
	case score >= 4.0:
		return RatingMedium
	case score > 0:
		return RatingLow
	}
	return RatingNone
}

// Origin says where a severity came from (one of the Origin* constants),
// for findings whose SeveritySource was not recorded (stored by an older
// drydock).
func Origin(s Severity) string {
	switch {
	case s.Source == "" || s.Rating == RatingUnknown || s.Rating == "":
		return OriginNone
	case s.From != "":
		return OriginAlias
	case s.Source == SourceDebianUrgency || s.Source == SourceUbuntuPriority:
		return OriginDistribution
	}
	return OriginAdvisory
}

// advisoryPages maps an id prefix to the database that publishes it and its
// page URL prefix. IDs without a known prefix point at OSV, which mirrors
// all of them.
var advisoryPages = []struct {
	prefix, name, base string
}{
	{"CVE-", "NVD", "https://nvd.nist.gov/vuln/detail/"},
	{"GHSA-", "GitHub", "https://github.com/advisories/"},
	{"GO-", "Go", "https://pkg.go.dev/vuln/"},
	{"PYSEC-", "PyPA", "https://osv.dev/vulnerability/"},
	{"RUSTSEC-", "RustSec", "https://rustsec.org/advisories/"},
	{"DEBIAN-", "Debian", "https://osv.dev/vulnerability/"},
	{"DSA-", "Debian", "https://osv.dev/vulnerability/"},
	{"DLA-", "Debian", "https://osv.dev/vulnerability/"},
	{"USN-", "Ubuntu", "https://ubuntu.com/security/notices/"},
	{"UBUNTU-", "Ubuntu", "https://osv.dev/vulnerability/"},
	// AlmaLinux errata pages carry the release in their path, which the id
	// does not; OSV has them by id.
	{"ALSA-", "AlmaLinux", "https://osv.dev/vulnerability/"},
	{"ALBA-", "AlmaLinux", "https://osv.dev/vulnerability/"},
	{"RLSA-", "Rocky Linux", "https://osv.dev/vulnerability/"},
	{"ALPINE-", "Alpine", "https://osv.dev/vulnerability/"},
	{"MAL-", "OpenSSF", "https://osv.dev/vulnerability/"},
}

// AdvisoryPage names the database an advisory id comes from, by its prefix,
// and the URL of the advisory's page there.
func AdvisoryPage(id string) (name, pageURL string) {
	for _, p := range advisoryPages {
		if strings.HasPrefix(id, p.prefix) {
			page := url.PathEscape(id)
			if p.prefix == "RUSTSEC-" {
				page += ".html"
			}
			return p.name, p.base + page
		}
	}
	return "OSV", "https://osv.dev/vulnerability/" + url.PathEscape(id)
}

// SeverityRank orders ratings as thresholds are read (--fail-on, a
// policy's maxSeverity, the server's severity filter): CRITICAL 5, HIGH 4,
// MEDIUM 3, LOW 2, NONE 1, UNKNOWN or "" 0, in any case, and -1 for
// anything that is not a rating (to be refused). Rank is the matcher's
// exact-spelling order.
func SeverityRank(rating string) int {
	if rating == "" || rating == RatingUnknown {
		return 0
	}
	if n := Rank(rating); n > 0 {
		return n // the matcher's spelling, without upper-casing
	}
	switch strings.ToUpper(rating) {
	case RatingUnknown:
		return 0
	case RatingCritical, RatingHigh, RatingMedium, RatingLow, RatingNone:
		return Rank(strings.ToUpper(rating))
	}
	return -1
}

// Rank orders ratings: CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2, NONE 1, and 0
// for UNKNOWN, "" and anything unrecognised. Exact spelling.
func Rank(rating string) int {
	switch rating {
	case RatingCritical:
		return 5
	case RatingHigh:
		return 4
	case RatingMedium:
		return 3
	case RatingLow:
		return 2
	case RatingNone:
		return 1
	}
	return 0
}

// How a gate (--fail-on, a policy's maxSeverity) treats a finding whose
// severity is UNKNOWN: nothing rated it, so nobody judged it harmless.
const (
	// UnknownFail, the default, counts an UNKNOWN finding as failing every
	// severity gate: a gate never passes silently over what it could not
	// judge.
	UnknownFail = "fail"
	// UnknownIgnore lets UNKNOWN findings pass every severity gate but
	// "--fail-on unknown".
	UnknownIgnore = "ignore"
)

// UnknownRules lists the accepted values of an unknown-severity rule: fail,
// ignore, or a rating to count UNKNOWN findings as.
var UnknownRules = []string{UnknownFail, UnknownIgnore, "critical", "high", "medium", "low", "none"}

// ParseUnknownRule checks an unknown-severity rule and returns it in its
// canonical spelling; "" is the default, UnknownFail.
func ParseUnknownRule(s string) (string, error) {
	r := strings.ToLower(strings.TrimSpace(s))
	switch r {
	case "":
		return UnknownFail, nil
	case UnknownFail, UnknownIgnore:
		return r, nil
	}
	if Rank(strings.ToUpper(r)) > 0 {
		return strings.ToUpper(r), nil
	}
	return "", fmt.Errorf("%q: want one of %s", s, strings.Join(UnknownRules, ", "))
}

// GateRank is the rank (as Rank) a severity gate compares for a finding
// rated rating under an unknown-severity rule from ParseUnknownRule:
// Rank(rating) for a known rating; for UNKNOWN (or "") above every rating
// under UnknownFail, below every rating (-1) under UnknownIgnore, and the
// rule's rating's rank otherwise.
func GateRank(rating, unknownRule string) int {
	if r := Rank(rating); r > 0 {
		return r
	}
	switch unknownRule {
	case UnknownIgnore:
		return -1
	case UnknownFail, "":
		return Rank(RatingCritical) + 1
	}
	return Rank(unknownRule)
}

// FailsAtOrAbove reports whether a finding rated rating fails a gate that
// fails on threshold and above ("--fail-on high"), under an
// unknown-severity rule. A threshold of UNKNOWN fails on every finding that
// the rule does not ignore.
func FailsAtOrAbove(rating, threshold, unknownRule string) bool {
	return GateRank(rating, unknownRule) >= Rank(threshold)
}
