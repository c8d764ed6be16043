package match

import (
	"errors"
	"fmt"
	"math"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"

	"github.com/drydock/drydock/internal/vulndb"
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

// ratingRank orders ratings for sorting, UNKNOWN lowest.
func ratingRank(r string) int {
	switch r {
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

// fidelity orders severity sources: a CVSS v4 vector says more than a v3
// one, and either says more than a vendor's word.
func fidelity(source string) int {
	switch source {
	case SourceCVSSv4:
		return 3
	case SourceCVSSv3:
		return 2
	case SourceDebianUrgency, SourceUbuntuPriority, SourceGHSA:
		return 1
	}
	return 0
}

// better reports whether a should replace b as a finding's severity: higher
// fidelity first, then the higher rating and score.
func better(a, b Severity) bool {
	if fa, fb := fidelity(a.Source), fidelity(b.Source); fa != fb {
		return fa > fb
	}
	if ra, rb := ratingRank(a.Rating), ratingRank(b.Rating); ra != rb {
		return ra > rb
	}
	return a.Score > b.Score
}

// severityOf picks the best severity an advisory gives for one of its
// affected entries. A vector that does not parse is returned as a problem
// message and otherwise skipped, so a vendor rating can still apply.
func severityOf(adv *vulndb.Advisory, aff *vulndb.Affected) (Severity, []string) {
	best := Severity{Rating: RatingUnknown}
	var problems []string
	consider := func(s Severity) {
		if better(s, best) {
			best = s
		}
	}
	for _, list := range [][]vulndb.Severity{adv.Severity, aff.Severity} {
		for _, s := range list {
			switch s.Type {
			case "CVSS_V3", "CVSS_V4":
				sev, err := ParseCVSS(s.Score)
				if err != nil {
					problems = append(problems, fmt.Sprintf("advisory %s: %v", adv.ID, err))
					continue
				}
				consider(sev)
			case "Ubuntu":
				if r := ubuntuRating(s.Score); r != "" {
					consider(Severity{Rating: r, Source: SourceUbuntuPriority})
				}
			}
		}
	}
	if u, ok := aff.EcosystemSpecific["urgency"].(string); ok {
		if r := debianRating(u); r != "" {
			consider(Severity{Rating: r, Source: SourceDebianUrgency})
		}
	}
	if g, ok := adv.DatabaseSpecific["severity"].(string); ok {
		if r := ghsaRating(g); r != "" {
			consider(Severity{Rating: r, Source: SourceGHSA})
		}
	}
	return best, problems
}

// debianRating maps a Debian security tracker urgency. "unimportant" issues
// are real but not worth a fix in stable: LOW. A trailing "*" or "**" marks
// an urgency not yet confirmed by the security team.
func debianRating(u string) string {
	switch strings.TrimRight(strings.ToLower(strings.TrimSpace(u)), "*") {
	case "unimportant", "low":
		return RatingLow
	case "medium":
		return RatingMedium
	case "high":
		return RatingHigh
	case "not yet assigned", "end-of-life":
		return RatingUnknown
	}
	return ""
}

// ubuntuRating maps an Ubuntu CVE priority.
func ubuntuRating(p string) string {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "negligible", "low":
		return RatingLow
	case "medium":
		return RatingMedium
	case "high":
		return RatingHigh
	case "critical":
		return RatingCritical
	case "untriaged":
		return RatingUnknown
	}
	return ""
}

// ghsaRating maps a GitHub advisory severity.
func ghsaRating(s string) string {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "CRITICAL":
		return RatingCritical
	case "HIGH":
		return RatingHigh
	case "MODERATE", "MEDIUM":
		return RatingMedium
	case "LOW":
		return RatingLow
	}
	return ""
}
