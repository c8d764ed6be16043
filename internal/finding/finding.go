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
	// References are the advisory's web pages (advisory first, then
	// reports and fixes), as the database lists them; formatters fall back
	// to the page of the advisory id when empty.
	References []string `json:"references,omitempty"`
}

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
