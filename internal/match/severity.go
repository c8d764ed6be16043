package match

import (
	"fmt"
	"strings"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/vulndb"
)

// The finding types and the severity scale live in package finding (a leaf
// the policy and formatters can import without the database); these names
// stay so that callers written against match keep compiling.
type (
	Finding  = finding.Finding
	Severity = finding.Severity
)

const (
	RatingCritical = finding.RatingCritical
	RatingHigh     = finding.RatingHigh
	RatingMedium   = finding.RatingMedium
	RatingLow      = finding.RatingLow
	RatingNone     = finding.RatingNone
	RatingUnknown  = finding.RatingUnknown

	SourceCVSSv4         = finding.SourceCVSSv4
	SourceCVSSv3         = finding.SourceCVSSv3
	SourceDebianUrgency  = finding.SourceDebianUrgency
	SourceUbuntuPriority = finding.SourceUbuntuPriority
	SourceGHSA           = finding.SourceGHSA
)

// ErrInvalidVector is finding.ErrInvalidVector.
var ErrInvalidVector = finding.ErrInvalidVector

// ParseCVSS is finding.ParseCVSS.
func ParseCVSS(vector string) (Severity, error) { return finding.ParseCVSS(vector) }

// Rate is finding.Rate.
func Rate(score float64) string { return finding.Rate(score) }

// ratingRank orders ratings for sorting, UNKNOWN lowest.
func ratingRank(r string) int { return finding.Rank(r) }

// fidelity orders severity sources: a CVSS v4 vector says more than a v3
// one, and either says more than a vendor's word. Among vendors' words, an
// ecosystem's rating of the flaw (GHSA) comes before a distribution's
// urgency, which is about its fix as much as the flaw.
func fidelity(source string) int {
	switch source {
	case SourceCVSSv4:
		return 4
	case SourceCVSSv3:
		return 3
	case SourceGHSA:
		return 2
	case SourceDebianUrgency, SourceUbuntuPriority:
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
	// CVSS v3.1 corrected v3.0's scoring: prefer its vector.
	if a31, b31 := strings.HasPrefix(a.Vector, "CVSS:3.1/"), strings.HasPrefix(b.Vector, "CVSS:3.1/"); a.Source == SourceCVSSv3 && b.Source == SourceCVSSv3 && a31 != b31 {
		return a31
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
