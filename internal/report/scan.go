package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/finding"
	"github.com/drydock/drydock/internal/inventory"
)

// ScanReport is what `drydock scan` renders: the inventory, the findings that
// survived suppression, what was suppressed and why, and everything a reader
// needs to judge how complete the answer is (database age, problems).
//
// The types live here rather than in the CLI so that the policy can read the
// same report the formatters render.
type ScanReport struct {
	Inventory *inventory.Inventory
	// Findings are the findings after suppression, in any order; formatters
	// sort a copy.
	Findings []finding.Finding
	// Suppressed are the findings hidden by --ignore-unfixed, the ignore file
	// or VEX, with the reason.
	Suppressed []Suppressed
	// Expired are ignore-file entries past their expiry: they no longer
	// apply, so their findings are back in Findings, and the entries are
	// reported so that someone renews or removes them.
	Expired []ExpiredIgnore
	DB      DBInfo
	// Problems are all of the scan's problems, the inventory's and the
	// matcher's. Formatters print these, not Inventory.Problems, so the
	// caller decides once what the reader sees.
	Problems []inventory.Problem
}

// Sources of a suppression.
const (
	SuppressedIgnoreUnfixed = "ignore-unfixed"
	SuppressedIgnoreFile    = "ignorefile"
	SuppressedVEX           = "vex"
)

// Suppressed is a finding that was hidden, and why.
type Suppressed struct {
	Finding finding.Finding `json:"finding"`
	// Reason is the human reason: the ignore entry's comment, the VEX
	// justification, "no fix available".
	Reason string `json:"reason"`
	// Source is one of the Suppressed* constants.
	Source string `json:"source"`
	// Statement names what suppressed it: the ignore file and entry, or the
	// VEX document and statement.
	Statement string `json:"statement,omitempty"`
}

// ExpiredIgnore is an ignore-file entry past its expiry date.
type ExpiredIgnore struct {
	ID      string    `json:"id"`
	Package string    `json:"package,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Expires time.Time `json:"expires"`
}

// DBInfo describes the vulnerability database the findings came from.
type DBInfo struct {
	Path string
	// UpdatedAt is when the data was last loaded (the oldest ecosystem's,
	// when they differ); zero when unknown.
	UpdatedAt time.Time
	// Sources are the ecosystems or feeds the database holds.
	Sources []string
	// Age is how old the data was at scan time, and Stale whether the caller
	// judged that too old; the threshold is policy, not presentation.
	Age   time.Duration
	Stale bool
}

// ScanFormatter writes a scan report in one output format.
type ScanFormatter interface {
	Format(w io.Writer, r *ScanReport) error
}

var scanFormats = map[string]func(opts Options) ScanFormatter{
	"table":     func(o Options) ScanFormatter { return scanTableFormatter{opts: o} },
	"json":      func(o Options) ScanFormatter { return scanJSONFormatter{opts: o} },
	"sarif":     func(o Options) ScanFormatter { return sarifFormatter{opts: o} },
	"cyclonedx": func(o Options) ScanFormatter { return scanCycloneDXFormatter{opts: o} },
}

// Scan returns the scan formatter registered under name.
func Scan(name string, opts Options) (ScanFormatter, error) {
	newFormatter, ok := scanFormats[name]
	if !ok {
		return nil, fmt.Errorf("report: scan format %q: %w (known: %s)", name, ErrUnknownFormat, strings.Join(ScanFormats(), ", "))
	}
	return newFormatter(opts), nil
}

// ScanFormats lists the registered scan format names, sorted.
func ScanFormats() []string {
	return slices.Sorted(maps.Keys(scanFormats))
}

// severityOrder lists the ratings worst first, as the table groups them.
// NONE (a CVSS score of 0.0) is rare and sits below LOW.
var severityOrder = []string{finding.RatingCritical, finding.RatingHigh, finding.RatingMedium, finding.RatingLow, finding.RatingNone, finding.RatingUnknown}

// severityRank orders ratings worst first; anything unrecognised counts as
// UNKNOWN, so a finding is never lost from a grouping.
func severityRank(rating string) int {
	if i := slices.Index(severityOrder, rating); i >= 0 {
		return i
	}
	return len(severityOrder) - 1
}

// normRating maps a rating onto severityOrder.
func normRating(rating string) string {
	return severityOrder[severityRank(rating)]
}

// sortedFindings returns a copy of the findings in presentation order, worst
// first, so that every format lists them alike whatever order the caller
// gave.
func sortedFindings(fs []finding.Finding) []finding.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, compareFindings)
	for i := range out {
		// Findings stored by an older drydock lack these; every format
		// shows where the rating came from and a page to read.
		if out[i].SeveritySource == "" {
			out[i].SeveritySource = finding.Origin(out[i].Severity)
		}
		if out[i].URL == "" {
			out[i].URL = sourceOf(out[i].ID).URL
		}
	}
	return out
}

func compareFindings(a, b finding.Finding) int {
	return cmp.Or(
		cmp.Compare(severityRank(a.Severity.Rating), severityRank(b.Severity.Rating)),
		-cmp.Compare(a.Severity.Score, b.Severity.Score),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(displayName(a.Package), displayName(b.Package)),
		cmp.Compare(a.Package.Version, b.Package.Version),
		cmp.Compare(a.Package.Path, b.Package.Path),
		cmp.Compare(a.Layer, b.Layer),
	)
}

// scanSummary counts findings by rating. BySeverity always holds every
// rating, so that consumers of the JSON need not treat a missing key as 0.
type scanSummary struct {
	BySeverity map[string]int `json:"bySeverity"`
	Fixable    int            `json:"fixable"`
	Total      int            `json:"total"`
}

func summarize(fs []finding.Finding) scanSummary {
	s := scanSummary{BySeverity: make(map[string]int, len(severityOrder)), Total: len(fs)}
	for _, r := range severityOrder {
		s.BySeverity[r] = 0
	}
	for _, f := range fs {
		s.BySeverity[normRating(f.Severity.Rating)]++
		if fixable(f) {
			s.Fixable++
		}
	}
	return s
}

func fixable(f finding.Finding) bool {
	return len(f.FixedVersions) > 0
}

// installed is the version the finding compared: the source version for
// Debian-family packages, the full EVR for rpm, which is what the fixed
// versions are comparable with.
func installed(f finding.Finding) string {
	if f.InstalledVersion != "" {
		return f.InstalledVersion
	}
	return f.Package.Version
}

// scanInventory is the report's inventory with the report's problems, never
// nil, so formatters need not check.
func scanInventory(r *ScanReport) *inventory.Inventory {
	var inv inventory.Inventory
	if r.Inventory != nil {
		inv = *r.Inventory
	}
	inv.Problems = r.Problems
	return &inv
}

// advisorySource names the database an advisory ID comes from, with the
// URL of the advisory's page there (finding.AdvisoryPage).
type advisorySource struct {
	Name string
	URL  string
}

func sourceOf(id string) advisorySource {
	name, u := finding.AdvisoryPage(id)
	return advisorySource{Name: name, URL: u}
}

// fixedText is the fixed versions for people: joined, or "no fix yet".
func fixedText(f finding.Finding) string {
	if !fixable(f) {
		return "no fix yet"
	}
	return strings.Join(f.FixedVersions, ", ")
}

// dbAge renders an age coarsely ("3d4h", "5h12m", "40m"): the reader wants
// to know whether the data is hours or weeks old, not the seconds.
func dbAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%dm", hours, mins)
	}
	return fmt.Sprintf("%dm", mins)
}

func expiredText(e ExpiredIgnore) string {
	var b strings.Builder
	b.WriteString(e.ID)
	if e.Package != "" {
		b.WriteString(" (" + e.Package + ")")
	}
	if t := e.Expires.UTC(); !t.IsZero() {
		// An expiry at midnight is the end of the day before: that is how a
		// date-only expiry ("2025-02-28") is stored, and the date the reader
		// wrote is the one to show.
		if t.Equal(t.Truncate(24 * time.Hour)) {
			b.WriteString(" expired at the end of " + t.AddDate(0, 0, -1).Format(time.DateOnly))
		} else {
			b.WriteString(" expired " + t.Format("2006-01-02 15:04 MST"))
		}
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// baseText names the base image for people, when known.
func baseText(src inventory.Source) string {
	if src.BaseName == "" && src.BaseDigest == "" {
		return ""
	}
	b := src.BaseName
	if src.BaseDigest != "" {
		b = strings.TrimPrefix(b+"@"+src.BaseDigest, "@")
	}
	return b
}
