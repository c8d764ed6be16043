package report

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drydock/drydock/internal/finding"
)

// Severity colours. Row codes are five bytes long, like the SBOM table's, so
// that every row of a tabwriter block starts with an equally wide prefix and
// the columns stay aligned; group headers are written outside tabwriter and
// may be longer.
var (
	rowColor = map[string]string{
		finding.RatingCritical: "\x1b[31m", // red
		finding.RatingHigh:     "\x1b[91m", // bright red
		finding.RatingMedium:   "\x1b[33m", // yellow
		finding.RatingLow:      "\x1b[34m", // blue
		finding.RatingNone:     "\x1b[39m",
		finding.RatingUnknown:  "\x1b[39m", // default
	}
	groupColor = map[string]string{
		finding.RatingCritical: "\x1b[1;31m",
		finding.RatingHigh:     "\x1b[1;91m",
		finding.RatingMedium:   "\x1b[1;33m",
		finding.RatingLow:      "\x1b[1;34m",
		finding.RatingNone:     "\x1b[1m",
		finding.RatingUnknown:  "\x1b[1m",
	}
)

const ansiWarning = "\x1b[1;33m" // bold yellow

type scanTableFormatter struct{ opts Options }

func (f scanTableFormatter) Format(w io.Writer, r *ScanReport) error {
	t := tableFormatter(f)
	bw := bufio.NewWriter(w)
	f.header(bw, r)

	findings := sortedFindings(r.Findings)
	sum := summarize(findings)
	bw.WriteString(summaryLine(sum) + "\n")

	for _, rating := range severityOrder {
		group := findingsRated(findings, rating)
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s\n", t.paint(groupColor[rating], fmt.Sprintf("%s (%d)", rating, len(group))))
		tw := tabwriter.NewWriter(bw, 0, 8, 2, ' ', 0)
		head := []string{"ID", "ALIASES", "PACKAGE", "INSTALLED", "FIXED", "FIX PATH", "LAYER"}
		if f.opts.Details {
			head = append(head, "SEVERITY FROM", "TITLE", "URL")
		}
		t.row(tw, ansiHeader, head...)
		for _, fd := range group {
			cells := []string{fd.ID, aliasText(fd), displayName(fd.Package), installed(fd), fixedText(fd), dash(fd.FixPath), dash(shortDigest(fd.Layer))}
			if f.opts.Details {
				cells = append(cells, severityFromText(fd), dash(fd.Summary), fd.URL)
			}
			t.row(tw, rowColor[rating], cells...)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("report: write scan table: %w", err)
		}
	}

	// What was hidden, what no longer applies and what went wrong come last
	// and are never dropped: each changes how far the list above can be
	// trusted.
	if n := len(r.Suppressed); n > 0 {
		fmt.Fprintf(bw, "\nSuppressed: %d %s (%s)\n", n, plural(n, "finding", "findings"), suppressedBreakdown(r.Suppressed))
	}
	if len(r.Expired) > 0 {
		bw.WriteString("\n" + t.paint(ansiWarning, "Expired ignore entries (no longer applied):") + "\n")
		for _, e := range r.Expired {
			bw.WriteString("  " + terminalSafe(expiredText(e)) + "\n")
		}
	}
	if len(r.Problems) > 0 {
		bw.WriteString("\n" + t.paint(ansiProblem, "Problems:") + "\n")
		for _, p := range r.Problems {
			bw.WriteString("  " + terminalSafe(problemText(p)) + "\n")
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write scan table: %w", err)
	}
	return nil
}

func (f scanTableFormatter) header(w io.Writer, r *ScanReport) {
	inv := scanInventory(r)
	src := inv.Source
	var lines [][2]string
	add := func(k, v string) {
		if v != "" {
			lines = append(lines, [2]string{k, v})
		}
	}
	add("Image:", src.Ref)
	add("Digest:", src.Digest)
	add("Platform:", src.Platform)
	add("OS:", osName(inv.OS))
	if b := baseText(src); b != "" {
		if src.BaseMethod != "" {
			b += " (" + src.BaseMethod + ")"
		}
		add("Base:", b)
	}
	if db := dbText(r.DB); db != "" {
		add("DB:", db)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-10s%s\n", l[0], terminalSafe(l[1]))
	}
	if r.DB.Stale {
		msg := "the vulnerability database is stale"
		if r.DB.Age > 0 {
			msg += " (" + dbAge(r.DB.Age) + " old)"
		}
		msg += "; advisories published since are missing"
		fmt.Fprintf(w, "%-10s%s\n", "WARNING:", tableFormatter(f).paint(ansiWarning, msg))
	}
	if len(lines) > 0 || r.DB.Stale {
		fmt.Fprintln(w)
	}
}

func dbText(db DBInfo) string {
	var parts []string
	if !db.UpdatedAt.IsZero() {
		parts = append(parts, "updated "+db.UpdatedAt.UTC().Format(time.DateTime)+" UTC")
	}
	if db.Age > 0 {
		parts = append(parts, dbAge(db.Age)+" old")
	}
	if len(db.Sources) > 0 {
		// One short line: the ecosystems' names, not where each was loaded
		// from (the JSON report has that).
		names := make([]string, 0, len(db.Sources))
		for _, src := range db.Sources {
			name, _, _ := strings.Cut(src, ": ")
			names = append(names, name)
		}
		const maxNamed = 6
		if len(names) > maxNamed {
			names = append(names[:maxNamed:maxNamed], fmt.Sprintf("… (%d ecosystems)", len(db.Sources)))
		}
		parts = append(parts, strings.Join(names, ", "))
	}
	return strings.Join(parts, "; ")
}

// severityFromText says whose word a rating is: "advisory", "alias
// GHSA-…", "distribution", "none".
func severityFromText(f finding.Finding) string {
	if f.SeveritySource == finding.OriginAlias && f.Severity.From != "" {
		return "alias " + f.Severity.From
	}
	return f.SeveritySource
}

func summaryLine(s scanSummary) string {
	if s.Total == 0 {
		return "No vulnerabilities found."
	}
	var counts []string
	for _, r := range severityOrder {
		if n := s.BySeverity[r]; n > 0 || r != finding.RatingNone {
			counts = append(counts, r+" "+strconv.Itoa(n))
		}
	}
	return fmt.Sprintf("%d %s (%s), %d fixable", s.Total, plural(s.Total, "vulnerability", "vulnerabilities"), strings.Join(counts, ", "), s.Fixable)
}

func findingsRated(sorted []finding.Finding, rating string) []finding.Finding {
	start := slices.IndexFunc(sorted, func(f finding.Finding) bool { return normRating(f.Severity.Rating) == rating })
	if start < 0 {
		return nil
	}
	end := start
	for end < len(sorted) && normRating(sorted[end].Severity.Rating) == rating {
		end++
	}
	return sorted[start:end]
}

// aliasText shows a finding's CVE ids, the names most people search for,
// at most two of them and a count of the other aliases; a finding without
// CVE ids shows its first other alias instead.
func aliasText(f finding.Finding) string {
	var cves, others []string
	for _, a := range f.Aliases {
		if strings.HasPrefix(a, "CVE-") {
			cves = append(cves, a)
		} else {
			others = append(others, a)
		}
	}
	shown := cves
	if len(shown) == 0 {
		shown = others
	}
	shown = shown[:min(len(shown), 2)]
	if len(cves) == 0 {
		shown = shown[:min(len(shown), 1)]
	}
	text := strings.Join(shown, ", ")
	if rest := len(f.Aliases) - len(shown); rest > 0 {
		text += " +" + strconv.Itoa(rest)
	}
	return dash(text)
}

func suppressedBreakdown(s []Suppressed) string {
	counts := map[string]int{}
	for _, x := range s {
		counts[x.Source]++
	}
	var parts []string
	for _, src := range []string{SuppressedIgnoreUnfixed, SuppressedIgnoreFile, SuppressedVEX} {
		if n := counts[src]; n > 0 {
			parts = append(parts, src+" "+strconv.Itoa(n))
			delete(counts, src)
		}
	}
	// Sources this version does not know still count.
	for _, src := range slices.Sorted(maps.Keys(counts)) {
		name := src
		if name == "" {
			name = "other"
		}
		parts = append(parts, name+" "+strconv.Itoa(counts[src]))
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
