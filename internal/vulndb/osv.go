// Package vulndb keeps drydock's own vulnerability database: it ingests OSV
// records (per-ecosystem all.zip exports or directories of JSON), stores them
// in one embedded SQLite file indexed by (ecosystem, package name), and
// answers which advisories name a package. It knows nothing of images.
package vulndb

import "time"

// Advisory is one OSV record (https://ossf.github.io/osv-schema/), holding the
// fields drydock uses. Unknown fields are dropped on ingest.
type Advisory struct {
	ID        string     `json:"id"`
	Modified  time.Time  `json:"modified"`
	Published time.Time  `json:"published,omitempty"`
	Withdrawn *time.Time `json:"withdrawn,omitempty"`
	Aliases   []string   `json:"aliases,omitempty"`
	Upstream  []string   `json:"upstream,omitempty"`
	Related   []string   `json:"related,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	// DatabaseSpecific is kept raw; some sources put a severity rating there
	// (GHSA "severity": "HIGH").
	DatabaseSpecific map[string]any `json:"database_specific,omitempty"`
	References       []Reference    `json:"references,omitempty"`
}

// Severity is an OSV severity entry: Type is CVSS_V2, CVSS_V3, CVSS_V4 or
// Ubuntu; Score is a vector string (or a rating for Ubuntu).
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Reference is an OSV reference.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Affected is one affected package of an advisory.
type Affected struct {
	Package           Package        `json:"package"`
	Severity          []Severity     `json:"severity,omitempty"`
	Ranges            []Range        `json:"ranges,omitempty"`
	Versions          []string       `json:"versions,omitempty"`
	EcosystemSpecific map[string]any `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  map[string]any `json:"database_specific,omitempty"`
}

// Package names an affected package in an OSV ecosystem ("Debian:12",
// "Alpine:v3.20", "Go", "PyPI", ...).
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is an OSV range: Type is SEMVER, ECOSYSTEM or GIT.
type Range struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo,omitempty"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}
